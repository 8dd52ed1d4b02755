// Asynchronous delivery, shutdown: destroying an adapter with work in flight, with a sender
// blocked on a full queue, from its own worker, and with a receiver that never returns.
#include "async_test_support.hpp"

#include <beacon/async.hpp>
#include <beacon/beacon.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using namespace async_test;

TEST_CASE("destroying an adapter with work in flight drops the queue, counts it, and waits for the delivery under way", "[async]") {
    gate g;
    std::atomic<int> started{0}, finished{0};
    beacon::registry reg;
    auto& sig = reg.core().signal("changed");
    auto async = std::make_unique<beacon::async_receiver>(
        [&](const beacon::event&) {
            ++started;
            g.wait();
            ++finished;
        },
        options(1, 100));
    const auto entry = async->receiver();
    auto c = sig.connect(entry);
    sig.send(numbered("s", 0));
    REQUIRE(await([&] { return started == 1; }));
    for (int i = 1; i < 5; ++i) sig.send(numbered("s", i));  // queued behind the delivery under way
    std::thread destroyer([&] { async.reset(); });
    REQUIRE(await([&] { return entry.stats().dropped == 4; }));  // closed: the 4 queued are dropped
    CHECK(finished == 0);                                        // the destructor waits for the 5th
    g.open();
    destroyer.join();
    CHECK(finished == 1);
    sig.send(numbered("s", 5));  // still connected: counted as dropped, never delivered
    const auto s = entry.stats();
    CHECK(s.delivered == 1);
    CHECK(s.dropped == 5);
    CHECK(s.queued == 0);
    CHECK(s.active == 0);
    CHECK(started == 1);
}

TEST_CASE("a sender blocked on a full queue is released, its event dropped, when the adapter is destroyed", "[async]") {
    gate g;
    auto o = options(1, 1);
    o.block_timeout = 60s;
    std::atomic<bool> held{false};
    auto async = std::make_unique<beacon::async_receiver>(
        [&](const beacon::event&) {
            held = true;
            g.wait();
        },
        o);
    const auto entry = async->receiver();
    entry(numbered("s", 0));
    REQUIRE(await([&] { return held.load(); }));
    entry(numbered("s", 1));                              // queued
    std::thread sender([&] { entry(numbered("s", 2)); });  // blocks: full
    std::thread destroyer([&] { async.reset(); });
    REQUIRE(await([&] { return entry.stats().dropped == 2; }));  // event 1 discarded, event 2 released
    sender.join();
    g.open();
    destroyer.join();
    CHECK(entry.stats().delivered == 1);
}

TEST_CASE("an adapter destroyed by its own receiver, on its worker, neither crashes nor hangs", "[async]") {
    std::shared_ptr<beacon::async_receiver> async;
    std::atomic<bool> destroyed{false};
    async = std::make_shared<beacon::async_receiver>([&](const beacon::event&) {
        auto last = std::exchange(async, nullptr);  // the last owner, released on the worker
        last.reset();
        destroyed = true;
    });
    const auto entry = async->receiver();
    entry(numbered("s", 0));
    entry(numbered("s", 1));
    REQUIRE(await([&] { return destroyed.load(); }));
    REQUIRE(await([&] { return entry.stats().active == 0; }));
    CHECK(entry.stats().delivered == 1);
    CHECK(entry.stats().delivered + entry.stats().dropped == 2);
}

TEST_CASE("a receiver that never returns does not hang the destructor: its worker is detached, reported and counted",
          "[async][shutdown]") {
    gate release;  // opened once the destructor is done, so that the stuck delivery can end
    std::atomic<bool> stuck{false};
    std::mutex mutex;
    std::vector<std::string> reports;
    auto o = options(1, 10);
    o.name = "stuck mailer";
    o.shutdown_timeout = 200ms;
    o.on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(mutex);
        reports.push_back(f.describe());
    };
    auto async = std::make_unique<beacon::async_receiver>(
        [&](const beacon::event&) {
            stuck = true;
            release.wait();
        },
        o);
    const auto entry = async->receiver();
    entry(numbered("s", 0));
    entry(numbered("s", 1));  // queued behind the stuck delivery
    REQUIRE(await([&] { return stuck.load(); }));
    auto destroyed = std::async(std::launch::async, [&] { async.reset(); });
    // A correctness bound, not a speed test: the destructor gives up after the timeout.
    CHECK(destroyed.wait_for(o.shutdown_timeout + 10s) == std::future_status::ready);
    CHECK(entry.stats().abandoned == 1);
    {
        std::lock_guard lock(mutex);
        REQUIRE(reports.size() == 1);
        CHECK_THAT(reports[0], Catch::Matchers::StartsWith("beacon.async: stuck mailer: "));
        CHECK_THAT(reports[0], Catch::Matchers::EndsWith(
                                   " failed: [beacon.async_error] async receiver \"stuck mailer\": 1 worker was still "
                                   "delivering after shutdown_timeout (200 ms); detached, its receiver left running"));
    }
    release.open();
    destroyed.get();
    REQUIRE(await([&] { return entry.stats().active == 0; }));  // the detached worker ended its delivery
    CHECK(entry.stats().delivered == 1);
    CHECK(entry.stats().dropped == 1);
}

TEST_CASE("a shutdown whose deliveries return within shutdown_timeout abandons nothing and reports nothing", "[async][shutdown]") {
    std::atomic<int> failures{0};
    auto o = options(2, 100);
    o.on_failure = [&](const beacon::failure&) { ++failures; };
    std::atomic<int> calls{0};
    auto async = std::make_unique<beacon::async_receiver>([&](const beacon::event&) { ++calls; }, o);
    const auto entry = async->receiver();
    for (int i = 0; i < 10; ++i) entry(numbered("s" + std::to_string(i), i));
    REQUIRE(async->drain(20s));
    async.reset();
    CHECK(entry.stats().abandoned == 0);
    CHECK(entry.stats().delivered == 10);
    CHECK(failures == 0);
}

TEST_CASE("a shutdown timeout out of bounds is a config_error naming it", "[async][shutdown]") {
    auto o = options(1, 10);
    o.shutdown_timeout = -1ms;
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) { return e.key() == "/shutdown_timeout"; }));
    o.shutdown_timeout = beacon::async_options::max_shutdown_timeout + 1ms;
    REQUIRE_THROWS_AS(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error);
}
