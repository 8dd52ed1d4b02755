// The CloudEvents wire format through the Redis bridge, against a real redis-server: a configured
// listener with `format = cloudevents` pushes CloudEvents, a list consumer reading them delivers
// the good ones and dead-letters a bad one.
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>

#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::Contains;
using beacon_test::eventually;
using beacon_test::notifier_host;
using beacon_test::quick;
using beacon_test::worker_side;

TEST_CASE("a listener configured with format = cloudevents pushes CloudEvents; a consumer delivers them and "
          "dead-letters a bad one",
          "[redis][cloudevents]") {
    notifier_host host;
    host.host.set_source("/blog-api");
    beacon::listener_types types;
    beacon::redis::add_listener_types(types, nullptr);
    auto loaded = beacon::load_listeners(
        host.host, {{"event_listeners", {{"push", {{"use", "redis"}, {"url", host.server.url()}, {"format", "cloudevents"}}}}}},
        types);
    beacon::event first("alice", {{"n", 1}});
    first.action = beacon::action::create;
    first.resource_name = "record";
    host.host.core().signal("resource_changed").send(first);
    const std::string pushed = host.server.command({"LINDEX", "beacon.events", "0"})->str;
    CHECK_THAT(pushed, Contains(R"({"specversion":"1.0","id":")") && Contains(R"("source":"/blog-api","type":"core.resource_changed")") &&
                           Contains(R"("data":{"data":{"n":1},"impacted_records":[]})"));
    // A CloudEvent without a type, then a good one from another producer.
    host.server.command({"LPUSH", "beacon.events", R"({"specversion":"1.0","id":"a234f678-1234-4234-8234-123456789abc","source":"/x"})"});
    host.server.command({"LPUSH", "beacon.events",
                         R"({"specversion":"1.0","id":"b234f678-1234-4234-8234-123456789abc","source":"/x","type":"t","data":{"n":2}})"});
    beacon::event third("bob", {{"n", 3}});
    third.action = beacon::action::delete_;
    host.host.core().signal("resource_changed").send(third);

    worker_side got;
    auto options = quick(host.server.url());
    options.format = beacon::wire_format::cloudevents();
    options.dead_letter = "beacon.dead";
    got.start(options);
    const bool all = eventually([&] { return got.event_count() == 3 && got.error_count() == 1; });
    got.stop();
    CAPTURE(got.errors, got.numbers());
    REQUIRE(all);
    CHECK(got.numbers() == std::vector<int>{1, 2, 3});
    CHECK(got.events[0].sender == "alice");
    CHECK(got.events[0].source == "/blog-api");
    CHECK(got.events[0].type == "core.resource_changed");
    CHECK(got.events[1].id.to_string() == "b234f678-1234-4234-8234-123456789abc");
    CHECK(got.events[2].sender == "bob");
    CHECK_THAT(got.errors.front(), Contains("[beacon.decode_error] /type: missing or empty required attribute"));
    CHECK(host.server.llen("beacon.dead") == 1);
    CHECK_THAT(std::string(host.server.command({"LINDEX", "beacon.dead", "0"})->str), Contains(R"("source":"/x"})"));
    CHECK(host.server.llen("beacon.events") == 0);
}
