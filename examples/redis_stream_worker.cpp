// A service's worker in a Redis Streams consumer group: every service (group) gets every event the
// host appends, and the workers of one service share them. Run several of these with the same
// group and distinct names; kill one, and its unacknowledged events go to the others after
// claim_idle, or back to it when it restarts under the same name. Built with beacon::simdjson, it
// decodes with it: the same events, about five times faster to read.
// Usage: redis_stream_worker [redis-url] [group] [consumer name] [events to handle, 0: forever]
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#ifdef BEACON_EXAMPLE_SIMDJSON
#include <beacon/simdjson.hpp>
#endif

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    beacon::redis::stream_consumer_options options;  // XREADGROUP from "beacon.stream"
    if (argc > 1) options.url = argv[1];
    if (argc > 2) options.group = argv[2];      // one group per service
    if (argc > 3) options.name = argv[3];   // a stable name per worker
    const long limit = argc > 4 ? std::stol(argv[4]) : 0;
    options.claim_idle = std::chrono::seconds(2);  // a worker silent this long is presumed dead
#ifdef BEACON_EXAMPLE_SIMDJSON
    options.format = beacon::simdjson::envelope();  // beacon's envelope (or Kinto's payload), read by simdjson
#endif

    beacon::registry worker;
    auto& changed = worker.core().signal("resource_changed");
    beacon::redis::stream_consumer consumer(changed, options, [](const beacon::failure& f) {
        std::cerr << "worker: " << f.describe() << "\n";
    });

    long handled = 0;
    changed.connect([&](const beacon::event& e) {
        // Acknowledged only after this returns: a crash here means the event is delivered again.
        std::cout << options.name << ": " << (e.action ? beacon::to_string(*e.action) : "-") << " " << e.uri
                  << std::endl;
        if (++handled == limit) consumer.stop();
    });
    consumer.run();
    std::cout << options.name << ": handled " << handled << " events, stopping" << std::endl;
    return 0;
}
