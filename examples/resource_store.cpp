// A tiny in-memory store of buckets, collections and records whose writes run in a unit of work
// (Kinto's request transaction): a listener vetoes a write before commit, another logs after it.
#include <beacon/beacon.hpp>
#include <beacon/unit_of_work.hpp>

#include <exception>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>

// Objects keyed by uri ("/buckets/b/collections/c/records/r"). Writes change a staged copy that
// replaces the committed one on commit, and note one resource event each.
class resource_store {
public:
    explicit resource_store(beacon::resource_notifier& notifier) : notifier_(notifier) {}

    void put(const std::string& resource_name, const std::string& uri, nlohmann::json body) {
        const std::string parent = beacon::parent_uri(uri);
        if (!parent.empty() && staged_.count(parent) == 0) {
            throw std::invalid_argument(uri + ": no " + parent);
        }
        beacon::event e("alice");
        e.resource_name = resource_name;
        e.uri = uri;
        e.user_id = "account:alice";
        const auto old = staged_.find(uri);
        e.action = old == staged_.end() ? beacon::action::create : beacon::action::update;
        e.impacted_records.push_back({old == staged_.end() ? std::nullopt : std::optional(old->second), body});
        staged_[uri] = std::move(body);
        notifier_.notify(std::move(e));
    }

    void remove(const std::string& resource_name, const std::string& uri) {
        const auto old = staged_.find(uri);
        if (old == staged_.end()) throw std::invalid_argument(uri + ": not found");
        beacon::event e("alice");
        e.action = beacon::action::delete_;
        e.resource_name = resource_name;
        e.uri = uri;
        e.user_id = "account:alice";
        e.impacted_records.push_back({old->second, std::nullopt});
        staged_.erase(old);
        notifier_.notify(std::move(e));
    }

    void commit() { committed_ = staged_; }
    void rollback() { staged_ = committed_; }
    std::size_t size() const { return committed_.size(); }

private:
    beacon::resource_notifier& notifier_;
    std::map<std::string, nlohmann::json> committed_, staged_;
};

// One request: its writes share a unit of work; the store commits only if no listener vetoes.
template <class Writes>
void handle(const char* request, resource_store& store, beacon::resource_notifier& notifier, Writes writes) {
    beacon::unit_of_work uow(notifier);
    try {
        writes();
        uow.commit([&] { store.commit(); });
        std::cout << request << ": committed\n";
    } catch (const std::exception& e) {
        store.rollback();  // the unit of work rolls back when it goes out of scope
        std::cout << request << ": rolled back (" << e.what() << ")\n";
    }
}

int main() {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    resource_store store(notifier);

    // Before commit, inside the request: a record without a title vetoes the whole request.
    reg.core().signal("resource_changed").connect([](const beacon::event& e) {
        if (e.resource_name != "record") return;
        for (const auto& record : e.impacted_records) {
            if (record.new_value && !record.new_value->contains("title")) {
                throw std::runtime_error("a record in " + beacon::parent_uri(e.uri) + " has no title");
            }
        }
    });

    // After commit: one line per merged event.
    reg.core().signal("after_resource_changed").connect([](const beacon::event& e) {
        const std::string parent = beacon::parent_uri(e.uri);
        std::cout << "  logged: " << beacon::to_string(*e.action) << " " << e.resource_name << " x"
                  << e.impacted_records.size() << " in " << (parent.empty() ? "/" : parent) << " by " << e.user_id
                  << "\n";
    });

    // After commit, all of a commit's merged events at once (what a Redis bridge forwards).
    notifier.on_after_commit([](const std::vector<beacon::event>& batch) {
        std::cout << "  batch of " << batch.size() << " event(s) after commit\n";
    });

    handle("setup", store, notifier, [&] {
        store.put("bucket", "/buckets/blog", {{"id", "blog"}});
        store.put("collection", "/buckets/blog/collections/articles", {{"id", "articles"}});
    });
    handle("import", store, notifier, [&] {
        for (const char* id : {"a1", "a2", "a3"}) {
            store.put("record", "/buckets/blog/collections/articles/records/" + std::string(id),
                      {{"id", id}, {"title", std::string("Article ") + id}});
        }
    });
    handle("bad import", store, notifier, [&] {
        store.put("record", "/buckets/blog/collections/articles/records/a4", {{"id", "a4"}, {"title", "Fine"}});
        store.put("record", "/buckets/blog/collections/articles/records/a5", {{"id", "a5"}});
    });
    handle("edit", store, notifier, [&] {
        store.put("record", "/buckets/blog/collections/articles/records/a1", {{"id", "a1"}, {"title", "New title"}});
        store.remove("record", "/buckets/blog/collections/articles/records/a2");
    });
    std::cout << "store holds " << store.size() << " objects\n";
}
