// Working with Kinto's queue, both ways. `redis_kinto publish <url>`: a host loads Kinto's own
// Redis listener settings and pushes Kinto's bytes to "kinto.core.events", for workers written for
// Kinto. `redis_kinto consume <url>`: a beacon worker reads what Kinto (or Cliquet) pushed there.
// examples/redis_kinto.sh runs both against a redis-server, with Python on the other side.
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include <iostream>
#include <string>

namespace {

int publish(const std::string& url) {
    beacon::registry host;
    beacon::resource_notifier notifier(host, [](const beacon::failure& f) {
        std::cerr << "kinto host: " << f.message() << "\n";
    });
    beacon::listener_types types;
    beacon::redis::add_listener_types(types, &notifier);  // also registers Kinto's and Cliquet's module names

    // Kinto's ini, unchanged: kinto.event_listeners = redis, kinto.event_listeners.redis.use = ...
    const nlohmann::json settings{{"event_listeners", "redis"},
                                  {"event_listeners.redis.use", "kinto_redis.listeners"},
                                  {"event_listeners.redis.url", url},
                                  {"event_listeners.redis.pool_size", "5"},
                                  {"event_listeners.redis.listname", "kinto.core.events"},
                                  {"event_listeners.redis.actions", "create"},
                                  {"event_listeners.redis.resources", "record"}};
    auto loaded = beacon::load_listeners(host, settings, types);

    beacon::event created("kinto", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"record_id", "a1"}});
    created.action = beacon::action::create;
    created.resource_name = "record";
    created.uri = "/buckets/blog/collections/articles/records/a1";
    created.user_id = "basicauth:alice";
    {
        beacon::unit_of_work request(notifier);
        request.notify(created);
        request.commit();  // LPUSH kinto.core.events '{"timestamp": ..., "action": "create", ...}'
    }
    std::cout << "kinto host: 1 commit pushed to kinto.core.events\n";
    return 0;
}

int consume(const std::string& url) {
    beacon::redis::consumer_options options;
    options.url = url;
    options.list = "kinto.core.events";  // Cliquet's: "cliquet.events"
    // The default format reads Kinto's flat payload and beacon's envelope alike (by shape);
    // wire_format::kinto() would accept Kinto's payload alone.
    beacon::signal changed("core", "resource_changed");
    beacon::redis::consumer consumer(changed, options);
    changed.connect([&](const beacon::event& e) {
        std::cout << "worker: " << beacon::to_string(*e.action) << " " << e.resource_name << " " << e.uri << " by "
                  << (e.user_id.empty() ? "anonymous" : e.user_id) << ", bucket " << e.data.at("bucket_id").get<std::string>()
                  << "\n";
        consumer.stop();
    });
    consumer.run();
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string role = argc > 1 ? argv[1] : "";
    const std::string url = argc > 2 ? argv[2] : "redis://127.0.0.1:6379/0";
    if (role == "publish") return publish(url);
    if (role == "consume") return consume(url);
    std::cerr << "usage: redis_kinto publish|consume [redis-url]\n";
    return 2;
}
