// The worker process: pops the host's events from Redis (oldest first, at-least-once) and
// re-sends each into its own signal, whose receivers do the slow work outside the request.
// Usage: redis_worker [redis-url] [events to handle before stopping]
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    beacon::redis::consumer_options options;
    if (argc > 1) options.url = argv[1];  // BLMOVE from "beacon.events"
    const int limit = argc > 2 ? std::stoi(argv[2]) : 2;

    beacon::registry worker;
    auto& changed = worker.core().signal("resource_changed");
    beacon::redis::consumer consumer(changed, options, [](const beacon::failure& f) {
        std::cerr << "worker: " << f.describe() << "\n";
    });

    int handled = 0;
    changed.connect([&](const beacon::event& e) {
        std::cout << "worker: " << (e.action ? beacon::to_string(*e.action) : "-") << " " << e.resource_name << " in "
                  << e.data.value("collection_id", "?") << " by " << e.user_id << ", " << e.impacted_records.size()
                  << " record(s):";
        for (const auto& record : e.impacted_records) {
            std::cout << " \"" << (record.new_value ? record.new_value->value("title", "?") : "(deleted)") << "\"";
        }
        std::cout << "\n";
        if (++handled == limit) consumer.stop();
    });
    consumer.run();
    std::cout << "worker: handled " << handled << " events, stopping\n";
    return 0;
}
