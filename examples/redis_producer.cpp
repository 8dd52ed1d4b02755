// The producer host (Kinto's story): its resource changes are published to a Redis list after
// each commit, in one round trip per commit, for a worker process to handle; a rolled-back unit
// of work publishes nothing. Usage: redis_producer [redis-url]
#include <beacon/redis.hpp>
#include <beacon/unit_of_work.hpp>

#include <iostream>
#include <string>

namespace {

beacon::event article(beacon::action action, const std::string& id, const std::string& title) {
    beacon::event e("blog-api", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", id}});
    e.action = action;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/" + id;
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", id}, {"title", title}}});
    return e;
}

}  // namespace

int main(int argc, char** argv) {
    beacon::registry host;
    int failures = 0;
    beacon::resource_notifier notifier(host, [&](const beacon::failure& failure) {
        std::cerr << "producer: not published: " << failure.message() << "\n";
        ++failures;
    });

    beacon::redis::forwarder_options options;
    if (argc > 1) options.url = argv[1];  // LPUSH to "beacon.events", Kinto's behaviour
    notifier.on_after_commit(beacon::redis::forwarder(options));  // one LPUSH per commit

    {
        beacon::unit_of_work request(notifier);
        request.notify(article(beacon::action::create, "a1", "Hello"));
        request.notify(article(beacon::action::create, "a2", "World"));  // merged with a1's event
        request.commit([] { /* the host's storage commit */ });
    }
    {
        beacon::unit_of_work request(notifier);
        request.notify(article(beacon::action::create, "a3", "Draft"));
    }  // destroyed without commit: rolled back, never published
    {
        beacon::unit_of_work request(notifier);
        request.notify(article(beacon::action::update, "a1", "Hello again"));
        request.commit();
    }
    if (failures != 0) return 1;
    std::cout << "producer: 2 commits published to beacon.events, 1 rollback not published\n";
    return 0;
}
