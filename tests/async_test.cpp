// Asynchronous delivery: order per key under concurrency, each back-pressure policy, hub
// consumers, units of work, shared events, and a stress test with exact counts (shutdown:
// async_shutdown_test.cpp; failures: async_failure_test.cpp; configured listeners:
// async_listener_test.cpp).
#include "async_test_support.hpp"

#include <beacon/async.hpp>
#include <beacon/beacon.hpp>
#include <beacon/hub.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using namespace async_test;

TEST_CASE("an async receiver delivers on a worker thread and the send returns at once", "[async]") {
    beacon::registry reg;
    auto& sig = reg.core().signal("user_created");
    gate g;
    std::atomic<int> calls{0};
    std::thread::id worker;
    beacon::async_receiver slow([&](const beacon::event&) {
        g.wait();
        worker = std::this_thread::get_id();
        ++calls;
    });
    auto c = sig.connect(slow.receiver());
    REQUIRE(sig.send("alice") == 1);  // returns while the receiver waits at the gate
    REQUIRE(calls == 0);
    REQUIRE_FALSE(slow.drain(10ms));  // the deadline passes: the event is still being delivered
    g.open();
    REQUIRE(slow.drain(20s));
    REQUIRE(calls == 1);
    REQUIRE(worker != std::this_thread::get_id());
    const auto s = slow.stats();
    CHECK(s.queued == 0);
    CHECK(s.active == 0);
    CHECK(s.delivered == 1);
    CHECK(s.failed == 0);
    CHECK(s.dropped == 0);
    CHECK(s.high_water == 1);
}

TEST_CASE("a send given a shared_ptr lets async receivers share the event instead of copying it", "[async]") {
    beacon::registry reg;
    auto& sig = reg.core().signal("changed");
    std::vector<std::pair<const beacon::event*, std::int64_t>> got;  // written by the one worker
    beacon::async_receiver async([&](const beacon::event& e) { got.emplace_back(&e, e.timestamp); });
    auto c = sig.connect(async.receiver());
    int sync_calls = 0;
    auto d = sig.connect([&](const beacon::event&) { ++sync_calls; });
    auto first = numbered("s", 1);
    sig.stamp(first);  // stamped (id, type, source): sent as it is
    const auto shared = std::make_shared<const beacon::event>(std::move(first));
    CHECK(sig.send(shared) == 2);
    CHECK(sig.send(*shared) == 2);                                  // by reference: copied
    CHECK(sig.send(std::make_shared<const beacon::event>(beacon::event("s"))) == 2);  // unstamped: a stamped copy
    CHECK(sig.send(std::shared_ptr<const beacon::event>()) == 0);  // null: nothing
    async(shared);                                                  // called directly, shared too
    const auto in_place = std::make_shared<beacon::event>("s");    // unstamped, mutable: stamped in place
    CHECK(sig.send(in_place) == 2);
    REQUIRE(async.drain(20s));
    CHECK(sync_calls == 4);
    REQUIRE(got.size() == 5);
    CHECK(got[0].first == shared.get());
    CHECK(got[1].first != shared.get());
    CHECK(got[2].second != 0);
    CHECK(got[3].first == shared.get());
    CHECK(got[4].first == in_place.get());
    CHECK(got[4].second == in_place->timestamp);
    CHECK(in_place->timestamp != 0);
}

TEST_CASE("events with the same key are delivered in send order under concurrency", "[async]") {
    recorder seen;
    beacon::async_receiver async(std::ref(seen), options(2, 100));
    beacon::registry reg;
    auto& sig = reg.core().signal("changed");
    auto c = sig.connect(async.receiver());
    constexpr int threads = 4, per_key = 500, keys_per_thread = 3;
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < per_key; ++i) {
                for (int k = 0; k < keys_per_thread; ++k) sig.send(numbered("key-" + std::to_string(t) + "-" + std::to_string(k), i));
            }
        });
    }
    for (auto& s : senders) s.join();
    REQUIRE(async.drain(20s));
    REQUIRE(async.stats().delivered == threads * per_key * keys_per_thread);
    for (int t = 0; t < threads; ++t) {
        for (int k = 0; k < keys_per_thread; ++k) CHECK(seen.of("key-" + std::to_string(t) + "-" + std::to_string(k)) == range(0, per_key));
    }
}

TEST_CASE("ordered by uri, events of one uri from many senders keep their send order", "[async]") {
    std::mutex mutex;
    std::map<std::string, std::vector<int>> by_uri;
    auto o = options(2, 1000);
    o.order_by = beacon::by_uri;
    beacon::async_receiver async(
        [&](const beacon::event& e) {
            std::lock_guard lock(mutex);
            by_uri[e.uri].push_back(e.data["n"].get<int>());
        },
        o);
    std::vector<std::thread> senders;
    for (int t = 0; t < 3; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < 300; ++i) {
                beacon::event e = numbered("user-" + std::to_string(i % 5), i);  // many senders per uri
                e.uri = "/buckets/b" + std::to_string(t);
                async(e);
            }
        });
    }
    for (auto& s : senders) s.join();
    REQUIRE(async.drain(20s));
    for (int t = 0; t < 3; ++t) CHECK(by_uri["/buckets/b" + std::to_string(t)] == range(0, 300));
}

TEST_CASE("with one worker, events of every key are delivered in send order", "[async]") {
    recorder seen;
    beacon::async_receiver async(std::ref(seen), options(1, 1000));
    for (int i = 0; i < 300; ++i) async(numbered("sender-" + std::to_string(i % 13), i));
    REQUIRE(async.drain(20s));
    std::lock_guard lock(seen.mutex);
    CHECK(seen.all == range(0, 300));
}

TEST_CASE("an idle worker that spins, or sleeps at once, misses no event and stops when closed", "[async][spin]") {
    const auto spin = GENERATE(0us, 100us, beacon::async_options::max_spin);
    recorder seen;
    auto o = options(1, 1000);
    o.spin = spin;
    {
        beacon::async_receiver async(std::ref(seen), o);
        for (int i = 0; i < 200; ++i) {  // in bursts, with pauses the worker spends looking or asleep
            async(numbered("s", i));
            if (i % 20 == 19) std::this_thread::sleep_for(i % 40 == 19 ? 50us : 20ms);
        }
        REQUIRE(async.drain(20s));
        CHECK(async.stats().delivered == 200);
        async(numbered("s", 200));  // then destroyed while its worker looks: drained or dropped, and joined
    }
    std::lock_guard lock(seen.mutex);
    REQUIRE(seen.all.size() >= 200);
    CHECK(std::vector<int>(seen.all.begin(), seen.all.begin() + 200) == range(0, 200));
}

TEST_CASE("with two workers, a slow key does not hold up the others", "[async][behaviour18]") {
    gate g;
    std::atomic<int> fast{0};
    const auto keys = keys_in_distinct_lanes(11, 2);  // keys[0] is the slow one
    beacon::async_receiver async(
        [&](const beacon::event& e) {
            if (e.sender == keys[0]) g.wait();
            else ++fast;
        },
        options(2, 100));
    async(numbered(keys[0], 0));
    REQUIRE(await([&] { return async.stats().active == 1; }));
    for (int i = 1; i <= 10; ++i) async(numbered(keys[static_cast<std::size_t>(i)], i));
    REQUIRE(await([&] { return fast == 10; }));  // delivered while "slow" is still being delivered
    CHECK(async.stats().active == 1);
    g.open();
    REQUIRE(async.drain(20s));
}

TEST_CASE("back-pressure policies when the queue is full", "[async]") {
    // One worker held at a gate by event 0, a queue of 3 holding events 1-3; then events 4 and 5.
    gate g;
    recorder seen;
    auto held = [&](const beacon::event& e) {
        if (e.data["n"] == 0) g.wait();
        seen(e);
    };
    auto fill = [&](beacon::async_receiver& async) {
        async(numbered("s", 0));
        REQUIRE(await([&] { return async.stats().active == 1; }));
        for (int i = 1; i <= 3; ++i) async(numbered("s", i));
        REQUIRE(async.stats().queued == 3);
    };

    SECTION("drop_newest drops the events sent while full, and counts them") {
        beacon::async_receiver async(held, options(1, 3, beacon::full_policy::drop_newest));
        fill(async);
        async(numbered("s", 4));
        async(numbered("s", 5));
        CHECK(async.stats().dropped == 2);
        g.open();
        REQUIRE(async.drain(20s));
        CHECK(seen.of("s") == std::vector<int>{0, 1, 2, 3});
        CHECK(async.stats().delivered == 4);
        CHECK(async.stats().high_water == 3);
    }
    SECTION("drop_oldest evicts the oldest queued events, and counts them") {
        beacon::async_receiver async(held, options(1, 3, beacon::full_policy::drop_oldest));
        fill(async);
        async(numbered("s", 4));
        async(numbered("s", 5));
        CHECK(async.stats().dropped == 2);
        CHECK(async.stats().queued == 3);
        g.open();
        REQUIRE(async.drain(20s));
        CHECK(seen.of("s") == std::vector<int>{0, 3, 4, 5});
    }
    SECTION("drop_oldest evicts the oldest across keys (lanes) with several workers") {
        // Both workers held: events 0 and 100 are being delivered; 1, 101, 2 are queued.
        const auto keys = keys_in_distinct_lanes(2, 2);
        const std::string& a = keys[0];
        const std::string& b = keys[1];
        gate g2;
        beacon::async_receiver async(
            [&](const beacon::event& e) {
                if (e.data["n"] == 0 || e.data["n"] == 100) g2.wait();
                seen(e);
            },
            options(2, 3, beacon::full_policy::drop_oldest));
        async(numbered(a, 0));
        async(numbered(b, 100));
        REQUIRE(await([&] { return async.stats().active == 2; }));
        async(numbered(a, 1));
        async(numbered(b, 101));
        async(numbered(a, 2));
        async(numbered(b, 102));  // full: evicts "a" 1, the oldest queued
        async(numbered(b, 103));  // evicts "b" 101
        CHECK(async.stats().dropped == 2);
        g2.open();
        g.open();
        REQUIRE(async.drain(20s));
        CHECK(seen.of(a) == std::vector<int>{0, 2});
        CHECK(seen.of(b) == std::vector<int>{100, 102, 103});
    }
    SECTION("throw_error throws a beacon::async_error from the send, naming the receiver") {
        beacon::async_receiver async(held, options(1, 3, beacon::full_policy::throw_error));
        beacon::registry reg;
        auto& sig = reg.core().signal("changed");
        auto c = sig.connect(async.receiver());
        fill(async);
        REQUIRE_THROWS_MATCHES(sig.send(numbered("s", 4)), beacon::async_error,
                               Catch::Matchers::Message("[beacon.async_error] async receiver \"test\": the queue is full "
                                                        "(3 events); the event from \"s\" was not queued"));
        CHECK(async.stats().dropped == 1);
        g.open();
        REQUIRE(async.drain(20s));
        CHECK(seen.of("s") == std::vector<int>{0, 1, 2, 3});
        sig.send(numbered("s", 5));  // room again
        REQUIRE(async.drain(20s));
        CHECK(async.stats().delivered == 5);
    }
    SECTION("block makes the sender wait for room, and delivers everything") {
        auto o = options(1, 3, beacon::full_policy::block);
        o.block_timeout = 60s;
        beacon::async_receiver async(held, o);
        fill(async);
        std::thread sender([&] { async(numbered("s", 4)); });  // waits until the gate opens
        g.open();
        sender.join();
        REQUIRE(async.drain(20s));
        CHECK(seen.of("s") == range(0, 5));
        CHECK(async.stats().dropped == 0);
        CHECK(async.stats().high_water == 3);  // event 4 waited for room rather than overfill
    }
    SECTION("block drops the event once its deadline passes") {
        auto o = options(1, 3, beacon::full_policy::block);
        o.block_timeout = 10ms;
        beacon::async_receiver async(held, o);
        fill(async);
        async(numbered("s", 4));  // nobody makes room within 10 ms
        CHECK(async.stats().dropped == 1);
        g.open();
        REQUIRE(async.drain(20s));
        CHECK(seen.of("s") == std::vector<int>{0, 1, 2, 3});
    }
}

TEST_CASE("an async hub consumer runs the wrapped consumer's hooks in order, off the sending thread", "[async][hub]") {
    struct hooks : beacon::consumer {
        std::mutex mutex;
        std::vector<std::string> log;
        gate* g = nullptr;
        void before_consume(const beacon::event& e) override { add("before", e); }
        void consume(const beacon::event& e) override {
            g->wait();
            add("consume", e);
        }
        void after_consume(const beacon::event& e) override { add("after", e); }
        void add(const char* hook, const beacon::event& e) {
            std::lock_guard lock(mutex);
            log.push_back(std::string(hook) + ":" + std::to_string(e.data["n"].get<int>()));
        }
    };
    gate g;
    auto inner = std::make_shared<hooks>();
    inner->g = &g;
    beacon::hubs notifications;
    auto h = notifications.create_hub("mail");
    auto o = options(1, 10);
    o.name = "mail consumer";
    auto async = std::make_shared<beacon::async_consumer>(inner, o);
    h->register_consumer(async);
    CHECK(async->inner() == inner);
    REQUIRE(notifications.send(numbered("system", 1)) == 1);  // returns while consume waits
    REQUIRE(notifications.send(numbered("system", 2)) == 1);
    g.open();
    REQUIRE(async->drain(20s));
    CHECK(inner->log == std::vector<std::string>{"before:1", "consume:1", "after:1", "before:2", "consume:2", "after:2"});
    CHECK(async->stats().delivered == 2);
}

TEST_CASE("an async after-commit receiver sees only committed events, in commit order", "[async][unit_of_work]") {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    auto& after = reg.core().signal("after_resource_changed");
    std::mutex mutex;
    std::map<std::string, std::vector<std::string>> seen;  // per sender (one per request thread)
    beacon::async_receiver async(
        [&](const beacon::event& e) {
            std::lock_guard lock(mutex);
            seen[e.sender].push_back(e.uri);
        },
        options(2, 10000));
    auto c = after.connect(async.receiver());
    constexpr int threads = 4, requests = 50;
    std::vector<std::thread> servers;
    for (int t = 0; t < threads; ++t) {
        servers.emplace_back([&, t] {
            for (int i = 0; i < requests; ++i) {
                beacon::unit_of_work uow(notifier);
                beacon::event e("user-" + std::to_string(t));
                e.action = beacon::action::create;
                e.resource_name = "record";
                e.uri = "/buckets/b/records/r" + std::to_string(i);
                notifier.notify(e);
                if (i % 5 == 4) uow.rollback();
                else uow.commit();
            }
        });
    }
    for (auto& s : servers) s.join();
    REQUIRE(async.drain(20s));
    std::vector<std::string> committed;  // each thread's commits, in its commit order
    for (int i = 0; i < requests; ++i) {
        if (i % 5 != 4) committed.push_back("/buckets/b/records/r" + std::to_string(i));
    }
    std::lock_guard lock(mutex);
    for (int t = 0; t < threads; ++t) CHECK(seen["user-" + std::to_string(t)] == committed);
    CHECK(async.stats().delivered == threads * committed.size());
}

TEST_CASE("stress: many senders, two workers, exact counts", "[async][stress]") {
    const auto policy = GENERATE(beacon::full_policy::block, beacon::full_policy::drop_newest, beacon::full_policy::drop_oldest);
    auto o = options(2, 64, policy);
    o.block_timeout = 60s;
    std::atomic<std::uint64_t> received{0};
    std::mutex mutex;
    std::map<std::string, int> last;  // per sender, the last n delivered: must only grow
    bool ordered = true;
    beacon::async_receiver async(
        [&](const beacon::event& e) {
            const int n = e.data["n"].get<int>();
            std::lock_guard lock(mutex);
            auto [it, first] = last.emplace(e.sender, n);
            if (!first) {
                ordered = ordered && n > it->second;
                it->second = n;
            }
            ++received;
        },
        o);
    constexpr int threads = 4, per_thread = 5000;
    std::vector<std::thread> senders;
    for (int t = 0; t < threads; ++t) {
        senders.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) async(numbered("sender-" + std::to_string(t * 2 + i % 2), i));
        });
    }
    for (auto& s : senders) s.join();
    REQUIRE(async.drain(20s));
    const auto s = async.stats();
    CHECK(s.delivered == received);
    CHECK(s.delivered + s.dropped == std::uint64_t{threads} * per_thread);
    CHECK(s.failed == 0);
    CHECK(s.queued == 0);
    CHECK(s.high_water <= 64);
    if (policy == beacon::full_policy::block) CHECK(s.dropped == 0);
    std::lock_guard lock(mutex);
    CHECK(ordered);
}

TEST_CASE("an event too deep to copy safely is an encode_error at the send, and is not queued", "[async]") {
    nlohmann::json deep = nlohmann::json::array();
    for (int i = 0; i < 1000; ++i) deep = nlohmann::json::array({std::move(deep)});
    beacon::event e("s", {{"deep", std::move(deep)}});
    e.timestamp = 1;
    e.id = beacon::event_id::make();  // stamped: the shared send below need not copy it
    e.type = "core.changed";
    e.source = "urn:test";
    std::atomic<int> calls{0};
    beacon::async_receiver async([&](const beacon::event&) { ++calls; });
    beacon::registry reg;
    auto& sig = reg.core().signal("changed");
    auto c = sig.connect(async.receiver());
    REQUIRE_THROWS_AS(sig.send(e), beacon::encode_error);
    REQUIRE_THROWS_AS(async(e), beacon::encode_error);
    // Shared, it is not copied: queued and delivered as it is.
    sig.send(std::make_shared<const beacon::event>(std::move(e)));
    REQUIRE(async.drain(20s));
    CHECK(calls == 1);
    CHECK(async.stats().delivered == 1);
    CHECK(async.stats().dropped == 0);
}
