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

namespace {

/// A receiver (a named type, so that failures name it) failing on every third event.
struct failing_receiver {
    std::atomic<int>* ok;
    void operator()(const beacon::event& e) const {
        if (e.data["n"].get<int>() % 3 == 0) throw std::runtime_error("smtp down");
        ++*ok;
    }
};

}  // namespace
