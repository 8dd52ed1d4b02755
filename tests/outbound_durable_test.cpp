// Durable outbound delivery: an endpoint consumer's deliver() called by a Redis stream consumer's
// receiver, so that the stream entry is acknowledged only once the webhook has it. A worker killed
// (SIGKILL) while its delivery waits between retries leaves the entry pending; the worker
// restarted under its name delivers it: nothing lost, every attempt carrying the event's id.
// Likewise an outbox relay whose publisher calls deliver(): a courier stopped mid-retry leaves the
// row in the outbox, and the next relay delivers it.
#include <beacon/outbound/courier.hpp>

#include <beacon/redis/stream_consumer.hpp>
#include <beacon/redis/stream_forwarder.hpp>
#include <beacon/sqlite/outbox.hpp>
#include <beacon/sqlite/relay.hpp>

#include "eventually.hpp"
#include "outbound_test_support.hpp"
#include "redis_server.hpp"
#include "sqlite_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using beacon_test::eventually;

beacon::redis::stream_consumer_options stream_of(const beacon_test::redis_server& redis) {
    beacon::redis::stream_consumer_options o;
    o.url = redis.url();
    o.stream = "hooks";
    o.group = "webhooks";
    o.name = "worker-1";
    o.poll_timeout = 100ms;
    o.claim_idle = 60s;  // only the worker restarted under its name takes the entry back
    return o;
}

// The webhook at `url` on `courier`: loopback allowed, retried every 300 ms up to 10 times.
std::shared_ptr<beacon::outbound::endpoint_consumer> webhook(beacon::outbound::courier& courier, const std::string& url) {
    beacon::outbound::webhook hook(url, beacon::outbound::signing_secret::generate());
    hook.allow_private = true;
    hook.retry.first_delay = 300ms;
    hook.retry.max_delay = 300ms;
    hook.retry.max_attempts = 10;
    return courier.add(hook);
}

beacon::event created() {
    beacon::event e("blog-api");
    e.action = beacon::action::create;
    e.uri = "/buckets/blog";
    e.stamp();
    return e;
}

// A worker process: a stream consumer whose receiver delivers each event to the webhook at `url`.
pid_t start_worker(const beacon_test::redis_server& redis, const std::string& url) {
    const pid_t child = ::fork();
    if (child != 0) return child;
    try {
        beacon::outbound::courier courier;
        auto endpoint = webhook(courier, url);
        beacon::signal local("core", "resource_changed");
        local.connect([&](const beacon::event& e) { endpoint->deliver(e); });
        beacon::redis::stream_consumer(local, stream_of(redis)).run();
    } catch (...) {
    }
    ::_exit(2);
}

long long pending(beacon_test::redis_server& redis) { return redis.command({"XPENDING", "hooks", "webhooks"})->element[0]->integer; }

}  // namespace

TEST_CASE("a worker killed mid-retry delivers the webhook after its restart (Redis stream)", "[outbound][durable]") {
    beacon_test::redis_server redis;
    beacon_test::webhook_endpoint server;
    const std::string path = "/fail/3/durable";  // 500 three times, then 200
    const auto e = created();
    beacon::redis::stream_forwarder_options out;
    out.url = redis.url();
    out.stream = "hooks";
    beacon::redis::stream_forwarder(out).forward(e);

    const pid_t first = start_worker(redis, server.url(path));
    REQUIRE(first > 0);
    REQUIRE(eventually([&] { return server.log(path).size() >= 2; }));
    ::kill(first, SIGKILL);
    ::waitpid(first, nullptr, 0);
    CHECK(pending(redis) == 1);  // taken, not acknowledged

    const pid_t second = start_worker(redis, server.url(path));
    REQUIRE(second > 0);
    const bool acknowledged = eventually([&] { return pending(redis) == 0; });
    ::kill(second, SIGKILL);
    ::waitpid(second, nullptr, 0);
    REQUIRE(acknowledged);

    const auto got = server.log(path);
    REQUIRE(got.size() == 4);  // three answered 500, the last 200: delivered once it could be
    for (const auto& r : got) CHECK(r.at("id") == e.id.to_string());
}

TEST_CASE("deliver returns once delivered, and throws what ended a delivery that was not", "[outbound][durable]") {
    beacon_test::webhook_endpoint server;
    std::vector<std::string> reported;
    beacon::outbound::courier_options options;
    options.on_failure = [&](const beacon::failure& f) { reported.push_back(f.describe()); };
    beacon::outbound::courier courier(options);
    const auto hook = [&](const std::string& path, std::size_t attempts) {
        beacon::outbound::webhook h(server.url(path), beacon::outbound::signing_secret::generate());
        h.allow_private = true;
        h.retry.first_delay = 20ms;
        h.retry.max_attempts = attempts;
        return courier.add(h);
    };
    beacon::event e("blog-api");
    e.stamp();
    hook("/fail/1/deliver", 3)->deliver(e);
    CHECK(server.log("/fail/1/deliver").size() == 2);
    CHECK_THROWS_WITH(hook("/fail/9/deliver", 2)->deliver(e),
                      "[beacon.transport_error] event " + e.id.to_string() + " given up after 2 attempt(s); the last: HTTP 500");
    auto gone = hook("/gone/deliver", 3);
    CHECK_THROWS_WITH(gone->deliver(std::vector<beacon::event>{e, e}), Catch::Contains("HTTP 410 Gone"));
    CHECK_THROWS_WITH(gone->deliver(e), Catch::Contains("refused: the endpoint is disabled"));
    CHECK(reported.empty());  // told to the caller, not reported
}

TEST_CASE("an outbox row stays until its webhook is delivered, across a courier stopped mid-retry", "[outbound][durable]") {
    sqlite_test::database_file file;
    beacon_test::webhook_endpoint server;
    const std::string path = "/fail/3/outbox";  // 500 three times, then 200
    const auto e = created();
    auto db = sqlite_test::open(file.path);
    beacon::sqlite::outbox outbox(db.get());
    sqlite_test::exec(db.get(), "BEGIN");
    outbox.add(e);
    sqlite_test::exec(db.get(), "COMMIT");

    {
        beacon::outbound::courier first;
        auto endpoint = webhook(first, server.url(path));
        beacon::sqlite::relay relay(file.path, [&](const std::vector<beacon::event>& events) { endpoint->deliver(events); });
        std::atomic<bool> threw{false};
        std::thread publishing([&] {
            try {
                relay.run_once();
            } catch (const beacon::transport_error&) {
                threw = true;
            }
        });
        REQUIRE(eventually([&] { return server.log(path).size() >= 2; }));
        first.stop();  // the host going down mid-retry
        publishing.join();
        CHECK(threw);
    }
    CHECK(outbox.pending() == 1);  // not published: still there

    beacon::outbound::courier second;
    auto endpoint = webhook(second, server.url(path));
    beacon::sqlite::relay relay(file.path, [&](const std::vector<beacon::event>& events) { endpoint->deliver(events); });
    CHECK(relay.run_once() == 1);
    CHECK(outbox.pending() == 0);
    const auto got = server.log(path);
    REQUIRE(got.size() == 4);
    for (const auto& r : got) CHECK(r.at("id") == e.id.to_string());
}
