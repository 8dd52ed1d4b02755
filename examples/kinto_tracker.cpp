// Kinto's tutorial "How to run custom code on notifications?", in C++: a "tracker" listener type,
// enabled from configuration for bucket creations only, records who created each bucket; every
// response then carries a Buckets-Created header. alice creates two buckets: Buckets-Created: 2.
#include <beacon/listener.hpp>

#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

/// The server's storage: the records of each resource ("tracker" here).
struct storage {
    std::map<std::string, std::vector<nlohmann::json>> records;

    void create(const std::string& resource_name, nlohmann::json obj) { records[resource_name].push_back(std::move(obj)); }

    std::size_t count(const std::string& resource_name, const std::string& field, const nlohmann::json& value) const {
        std::size_t n = 0;
        const auto it = records.find(resource_name);
        if (it == records.end()) return 0;
        for (const auto& r : it->second) n += r.value(field, nlohmann::json()) == value ? 1u : 0u;
        return n;
    }
};

/// A toy Kinto: PUT creates (or updates) buckets and collections and sends `resource_changed`.
class server {
public:
    server(beacon::registry& reg, storage& db) : changed_(reg.core().signal("resource_changed")), db_(db) {}

    void put(const std::string& user, const std::string& uri, const std::string& resource_name) {
        const bool exists = !objects_.insert(uri).second;
        beacon::event e("kinto");
        e.action = exists ? beacon::action::update : beacon::action::create;
        e.resource_name = resource_name;
        e.uri = uri;
        e.user_id = "basicauth:" + user;
        e.set(resource_name + "_id", uri.substr(uri.rfind('/') + 1));
        e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", uri.substr(uri.rfind('/') + 1)}}});
        changed_.send(std::move(e));
        std::cout << "PUT " << uri << " by " << user << ": " << (exists ? "200 OK" : "201 Created") << "\n";
    }

    /// The response to `GET /v1/` with the tutorial's header (its `count_created_buckets`).
    void get_root(const std::string& user) const {
        std::cout << "GET /v1/ by " << user << ": HTTP/1.1 200 OK\n"
                  << "Buckets-Created: " << db_.count("tracker", "userid", "basicauth:" + user) << "\n";
    }

private:
    beacon::signal& changed_;
    storage& db_;
    std::set<std::string> objects_;
};

}  // namespace

int main() {
    beacon::registry reg;
    storage db;

    // tracker.py's Listener and load_from_config: a listener type any configuration can `use`.
    beacon::listener_types types;
    types.add("tracker", [&db](const beacon::listener_context& c) -> beacon::listener {
        std::cout << "Setting up '" << c.alias << "' listener\n";
        return [&db](const beacon::event& e) { db.create("tracker", {{"userid", e.user_id}}); };
    });

    // kinto.ini:  kinto.event_listeners = tracker
    //             kinto.event_listeners.tracker.use = tracker
    //             kinto.event_listeners.tracker.actions = create
    //             kinto.event_listeners.tracker.resources = bucket
    const auto settings = nlohmann::json::parse(R"({
        "event_listeners": "tracker",
        "event_listeners.tracker.use": "tracker",
        "event_listeners.tracker.actions": "create",
        "event_listeners.tracker.resources": "bucket"
    })");
    const auto listeners = beacon::load_listeners(reg, settings, types);

    server kinto(reg, db);
    kinto.put("alice", "/buckets/bid1", "bucket");
    kinto.put("alice", "/buckets/bid2", "bucket");
    kinto.put("alice", "/buckets/bid1", "bucket");                    // an update: not tracked
    kinto.put("alice", "/buckets/bid1/collections/c1", "collection");  // not a bucket: not tracked
    kinto.put("bob", "/buckets/bid3", "bucket");
    kinto.get_root("alice");
}
