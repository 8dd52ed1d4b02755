// Asynchronous delivery: order per key under concurrency, each back-pressure policy, drain and
// destruction with work in flight, throwing receivers, hub consumers, units of work, shared
// events, and a stress test with exact counts (configured listeners: async_listener_test.cpp).
#include <beacon/async.hpp>
#include <beacon/beacon.hpp>
#include <beacon/hub.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

/// Waits (polling) until `done()` holds; false after 20 s, which only a bug takes.
template <class F>
bool await(F done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// A gate receivers wait at until the test opens it.
class gate {
public:
    void open() { opened_.set_value(); }
    void wait() const { ready_.wait(); }

private:
    std::promise<void> opened_;
    std::shared_future<void> ready_ = opened_.get_future().share();
};

beacon::event numbered(std::string sender, int n) {
    beacon::event e(std::move(sender), {{"n", n}});
    e.timestamp = 1;
    return e;
}

/// Records the "n" of each event it gets, per sender; thread-safe.
struct recorder {
    std::mutex mutex;
    std::map<std::string, std::vector<int>> by_sender;
    std::vector<int> all;
    void operator()(const beacon::event& e) {
        std::lock_guard lock(mutex);
        by_sender[e.sender].push_back(e.data["n"].get<int>());
        all.push_back(e.data["n"].get<int>());
    }
    std::vector<int> of(const std::string& sender) {
        std::lock_guard lock(mutex);
        return by_sender[sender];
    }
};

std::vector<int> range(int from, int to) {
    std::vector<int> out;
    for (int i = from; i < to; ++i) out.push_back(i);
    return out;
}

/// `n` keys that fall in `n` different lanes of an adapter with `workers` workers (16 lanes per
/// worker, by std::hash), so that each can be delivered while the others are held.
std::vector<std::string> keys_in_distinct_lanes(std::size_t n, std::size_t workers) {
    std::vector<std::string> keys;
    std::set<std::size_t> lanes;
    for (int i = 0; keys.size() < n; ++i) {
        std::string key = "key-" + std::to_string(i);
        if (lanes.insert(std::hash<std::string_view>()(key) % (16 * workers)).second) keys.push_back(std::move(key));
    }
    return keys;
}

beacon::async_options options(std::size_t workers, std::size_t queue, beacon::full_policy on_full = beacon::full_policy::block) {
    beacon::async_options o;
    o.workers = workers;
    o.queue = queue;
    o.on_full = on_full;
    o.name = "test";
    return o;
}

}  // namespace

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
    const auto shared = std::make_shared<const beacon::event>(numbered("s", 1));
    CHECK(sig.send(shared) == 2);
    CHECK(sig.send(*shared) == 2);                                  // by reference: copied
    CHECK(sig.send(std::make_shared<const beacon::event>(beacon::event("s"))) == 2);  // unstamped: a stamped copy
    CHECK(sig.send(std::shared_ptr<const beacon::event>()) == 0);  // null: nothing
    async(shared);                                                  // called directly, shared too
    REQUIRE(async.drain(20s));
    CHECK(sync_calls == 3);
    REQUIRE(got.size() == 4);
    CHECK(got[0].first == shared.get());
    CHECK(got[1].first != shared.get());
    CHECK(got[2].second != 0);
    CHECK(got[3].first == shared.get());
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

TEST_CASE("with two workers, a slow key does not hold up the others", "[async]") {
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

TEST_CASE("a throwing receiver: the error handler gets the event and the receiver, delivery goes on", "[async]") {
    std::mutex mutex;
    std::vector<std::string> reports;
    std::vector<std::string> types;
    auto o = options(2, 100);
    o.name = "mailer";
    o.on_error = [&](const beacon::async_failure& f) {
        std::lock_guard lock(mutex);
        reports.push_back(f.receiver + " " + f.ev->sender + " " + std::to_string(f.ev->data["n"].get<int>()) + ": " + f.message());
        types.push_back(f.receiver_type);
        throw std::logic_error("a throwing handler is ignored");
    };
    std::atomic<int> ok{0};
    beacon::async_receiver async(failing_receiver{&ok}, o);
    for (int i = 0; i < 9; ++i) async(numbered("alice", i));
    REQUIRE(async.drain(20s));
    CHECK(ok == 6);
    CHECK(async.stats().failed == 3);
    CHECK(async.stats().delivered == 6);
    std::lock_guard lock(mutex);
    CHECK(reports == std::vector<std::string>{"mailer alice 0: smtp down", "mailer alice 3: smtp down", "mailer alice 6: smtp down"});
    for (const auto& t : types) CHECK_THAT(t, Contains("failing_receiver"));
}

TEST_CASE("an unnamed async receiver is named after its receiver's type", "[async]") {
    std::atomic<int> ok{0};
    beacon::async_receiver async(failing_receiver{&ok});
    CHECK_THAT(async.options().name, Contains("failing_receiver"));
}

TEST_CASE("the default error handler writes one line naming the receiver, the event and the error", "[async]") {
    beacon::event e = numbered("alice", 1);
    e.uri = "/buckets/b";
    beacon::async_failure f{&e, "mailer", "mail_receiver", std::make_exception_ptr(std::runtime_error("smtp down"))};
    std::ostringstream captured;
    auto* old = std::cerr.rdbuf(captured.rdbuf());
    beacon::report_async_failure(f);
    std::cerr.rdbuf(old);
    CHECK(captured.str() ==
          "beacon: async receiver \"mailer\" (mail_receiver) failed on the event from \"alice\" at /buckets/b: smtp down\n");
}

TEST_CASE("drain from the adapter's own worker is an async_error", "[async]") {
    std::promise<std::string> what;
    beacon::async_receiver* self = nullptr;
    beacon::async_receiver async([&](const beacon::event&) {
        try {
            self->drain(1s);
            what.set_value("no error");
        } catch (const beacon::async_error& e) {
            what.set_value(e.what());
        }
    });
    self = &async;
    async(numbered("s", 0));
    CHECK_THAT(what.get_future().get(), Contains("drain() called from its own worker"));
}

TEST_CASE("bad options are config_errors naming the option", "[async]") {
    auto o = options(0, 10);
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) { return e.key() == "/workers"; }));
    o = options(1, 0);
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) { return e.key() == "/queue"; }));
    o = options(beacon::async_options::max_workers + 1, 10);
    REQUIRE_THROWS_AS(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error);
    REQUIRE_THROWS_AS(beacon::async_consumer(nullptr), beacon::config_error);
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
