// The demo: beacon's core features in one run, printing what happens.
#include <beacon/beacon.hpp>

#include <iostream>
#include <memory>
#include <stdexcept>

namespace {

struct audit_log {
    int entries = 0;
    void record(const beacon::event& e) {
        ++entries;
        std::cout << "  audit: " << e.sender << " " << (e.action ? beacon::to_string(*e.action) : "-") << " "
                  << e.uri << "\n";
    }
};

}  // namespace

int main() {
    beacon::registry reg;

    std::cout << "1. namespaces hold singleton signals; a sealed core rejects typos\n";
    auto& changed = reg.core().signal("resource_changed");
    reg.core().signal("user_created");
    reg.core().seal();
    std::cout << "  same object: " << std::boolalpha << (&changed == &reg.core().signal("resource_changed")) << "\n";
    try {
        reg.core().signal("resource_chnaged");
    } catch (const beacon::unknown_signal_error& e) {
        std::cout << "  " << e.what() << "\n";
    }

    std::cout << "2. receivers for any sender, and for one sender only\n";
    changed.connect([](const beacon::event& e) { std::cout << "  any-sender receiver got an event from " << e.sender << "\n"; });
    changed.connect("alice", [](const beacon::event&) { std::cout << "  alice's receiver got alice's event\n"; });
    changed.send(beacon::event("alice"));
    changed.send(beacon::event("bob"));

    std::cout << "3. a lazy send builds nothing when nobody listens for that sender\n";
    auto& created = reg.core().signal("user_created");
    int built = 0;
    created.send("signup", [&] {
        ++built;
        return beacon::event().set("username", "carol");
    });
    std::cout << "  events built: " << built << "\n";

    std::cout << "4. a receiver tracked by its owner leaves with it\n";
    auto log = std::make_shared<audit_log>();
    changed.connect(&audit_log::record, log);
    beacon::event update("alice");
    update.action = beacon::action::update;
    update.resource_name = "bucket";
    update.uri = "/buckets/b1";
    update.impacted_records.push_back({nlohmann::json{{"id", "b1"}}, nlohmann::json{{"id", "b1"}, {"title", "new"}}});
    changed.send(update);
    log.reset();
    std::cout << "  receivers after the owner is gone: " << changed.receiver_count() << "\n";

    std::cout << "5. scoped connections, blocks and mutes\n";
    {
        beacon::scoped_connection temporary =
            changed.connect([](const beacon::event&) { std::cout << "  temporary receiver\n"; });
        auto blocked = temporary.get().block();
        const auto called = changed.send(beacon::event("bob"));
        std::cout << "  receivers called while blocked: " << called << "\n";
    }
    {
        auto quiet = changed.mute();
        const auto called = changed.send(beacon::event("bob"));
        std::cout << "  receivers called while muted: " << called << "\n";
    }

    std::cout << "6. a robust send calls everyone and reports who failed\n";
    auto& users = reg.core().signal("user_created");
    users.connect([](const beacon::event&) {});
    const auto failing = users.connect([](const beacon::event&) { throw std::runtime_error("quota exceeded"); });
    const auto errors = users.send_robust(beacon::event("signup"));
    std::cout << "  robust send: " << users.receiver_count() << " receivers connected, " << errors.size()
              << " error from receiver #" << errors.at(0).receiver_id << ": " << errors.at(0).message() << "\n";
    (void)failing;

    std::cout << "7. events travel as JSON in Kinto's shape\n";
    update.timestamp = 1447240896769;
    const nlohmann::json wire = update;
    std::cout << "  " << wire.dump() << "\n";
    std::cout << "  round trip equal: " << (wire.get<beacon::event>() == update) << "\n";
}
