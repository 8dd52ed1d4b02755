// <beacon/metrics/redis.hpp>: a Redis forwarder and consumer watched by name, against a real
// redis-server (events pushed, then consumed, counted on both sides), every series of each
// exporter with its value and unit, and the exposition checked by Prometheus's own promtool.
#include <beacon/metrics/redis.hpp>

#include <beacon/metrics.hpp>
#include <beacon/redis.hpp>

#include "metrics_test_support.hpp"
#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

using beacon_test::promtool_check;
using beacon_test::samples;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

struct fixed_forwarder {
    beacon::redis::forwarder_stats s;
    beacon::redis::forwarder_stats stats() const { return s; }
};

struct fixed_consumer {
    beacon::redis::consumer_stats s;
    beacon::redis::consumer_stats stats() const { return s; }
};

}  // namespace

TEST_CASE("a forwarder and a consumer on a real redis-server, watched by name", "[metrics][redis]") {
    beacon_test::redis_server server;
    const auto forwarder = beacon_test::listener_for(server.url(), "orders");
    for (int n = 0; n < 5; ++n) forwarder.forward(beacon_test::numbered(n));
    forwarder.forward(std::vector<beacon::event>{beacon_test::numbered(5), beacon_test::numbered(6)});  // one round trip

    beacon_test::worker_side worker;
    auto options = beacon_test::quick(server.url());
    options.list = "orders";
    options.lag_interval = 10ms;
    worker.start(options);
    REQUIRE(beacon_test::eventually([&] { return worker.event_count() == 7; }));
    // The list's length is sampled between waits, every lag_interval: 7 at first, then 0.
    REQUIRE(beacon_test::eventually([&] { return worker.consumer->stats().backlog == 0; }));

    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch("orders_out", forwarder);
    c->watch("orders_in", *worker.consumer);
    const std::string text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_published_total{forwarder="orders_out"} 7)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_failures_total{forwarder="orders_out"} 0)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_round_trip_seconds_count{forwarder="orders_out"} 6)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_consumer_delivered_total{consumer="orders_in"} 7)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_consumer_backlog{consumer="orders_in"} 0)"));
    const auto [status, said] = promtool_check(text);
    INFO(said);
    CHECK(status == 0);
    worker.stop();
}

TEST_CASE("every series of a forwarder and a consumer, with its value and unit", "[metrics][redis]") {
    fixed_forwarder out;
    out.s.published = 40;
    out.s.failures = 3;
    fixed_consumer in;
    in.s.delivered = 37;
    in.s.failed = 2;
    in.s.redelivered = 4;
    in.s.dead_lettered = 1;
    in.s.duplicates_dropped = 5;
    in.s.backlog = 12;
    in.s.pending = 6;
    in.s.oldest_pending_idle = 2500ms;
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch("events", out);
    c->watch("events", in);  // a forwarder and a consumer may share a name
    CHECK_THROWS_WITH(c->watch("events", in),
                      "[beacon.misuse_error] beacon::metrics::collector: Redis consumer \"events\" is watched already");

    const std::string text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_published_total{forwarder="events"} 40)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_failures_total{forwarder="events"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_redis_forwarder_round_trip_seconds_count{forwarder="events"} 0)"));
    CHECK(samples(text, "beacon_redis_consumer_") ==
          std::vector<std::string>{
              R"(beacon_redis_consumer_delivered_total{consumer="events"} 37)",
              R"(beacon_redis_consumer_failed_total{consumer="events"} 2)",
              R"(beacon_redis_consumer_redelivered_total{consumer="events"} 4)",
              R"(beacon_redis_consumer_dead_lettered_total{consumer="events"} 1)",
              R"(beacon_redis_consumer_duplicates_dropped_total{consumer="events"} 5)",
              R"(beacon_redis_consumer_backlog{consumer="events"} 12)",
              R"(beacon_redis_consumer_pending{consumer="events"} 6)",
              R"(beacon_redis_consumer_oldest_pending_idle_seconds{consumer="events"} 2.5)",
          });
    CHECK_THAT(text, Contains("# TYPE beacon_redis_forwarder_round_trip_seconds histogram"));
    CHECK_THAT(text, Contains("# TYPE beacon_redis_consumer_backlog gauge"));
    const auto [status, said] = promtool_check(text);
    INFO(said);
    CHECK(status == 0);
}
