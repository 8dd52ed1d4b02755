// Signals: any-sender and sender-bound receivers, lazy and keyed sends, order, changes during a
// send, re-entrancy, exceptions and robust sends, muting.
#include <beacon/signal.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;

namespace {

struct signal_fixture {
    beacon::signal sig{"core", "resource_changed"};
    std::vector<std::string> log;

    auto recorder(std::string name) {
        return [this, name](const beacon::event& e) { log.push_back(name + ":" + e.sender); };
    }
};

struct quota_checker {
    std::vector<std::string>* log;
    void operator()(const beacon::event&) const {
        log->push_back("two");
        throw std::runtime_error("two failed");
    }
};

}  // namespace

TEST_CASE_METHOD(signal_fixture, "any-sender receivers get every send, bound ones only their sender's",
                 "[signal][behaviour2]") {
    sig.connect(recorder("any"));
    sig.connect("alice", recorder("alice-only"));
    CHECK(sig.send(beacon::event("alice")) == 2);
    CHECK(sig.send(beacon::event("bob")) == 1);
    CHECK(sig.send("alice", {{"k", 1}}) == 2);
    CHECK(log == std::vector<std::string>{"any:alice", "alice-only:alice", "any:bob", "any:alice", "alice-only:alice"});
}

TEST_CASE_METHOD(signal_fixture, "a send nobody listens to builds no event", "[signal][behaviour3]") {
    int built = 0;
    auto make = [&] {
        ++built;
        return beacon::event().set("expensive", true);
    };
    CHECK(sig.send_lazy("alice", make) == 0);
    CHECK(built == 0);

    auto bob = sig.connect("bob", recorder("bob"));
    CHECK(sig.send_lazy("alice", make) == 0);
    CHECK(built == 0);
    CHECK(sig.send_lazy("bob", make) == 1);
    CHECK(built == 1);
    CHECK(log == std::vector<std::string>{"bob:bob"});

    bob.disconnect();
    CHECK(sig.send_lazy("bob", make) == 0);
    CHECK(built == 1);

    sig.connect(recorder("any"));
    CHECK(sig.send_lazy("alice", make) == 1);
    CHECK(built == 2);
    {
        auto quiet = sig.mute();
        CHECK(sig.send_lazy("alice", make) == 0);
    }
    CHECK(built == 2);
}

TEST_CASE_METHOD(signal_fixture, "a lazy send builds only for senders with live receivers, whatever their hashes",
                 "[signal][behaviour3]") {
    // 2000 bound senders share the hash bins that tell "nobody listens" with those that are not
    // bound: the shared bins must fall back to the exact lookup, never to a wrong answer.
    int built = 0;
    auto make = [&] {
        ++built;
        return beacon::event();
    };
    std::vector<beacon::connection> bound;
    for (int i = 0; i < 2000; ++i) bound.push_back(sig.connect("bound-" + std::to_string(i), recorder("r")));
    for (int i = 0; i < 2000; ++i) CHECK(sig.send_lazy("unbound-" + std::to_string(i), make) == 0);
    CHECK(built == 0);
    CHECK(sig.send_lazy("bound-1234", make) == 1);
    CHECK(built == 1);
    CHECK(log == std::vector<std::string>{"r:bound-1234"});

    for (auto& c : bound) c.disconnect();
    for (int i = 0; i < 2000; ++i) CHECK(sig.send_lazy("bound-" + std::to_string(i), make) == 0);
    CHECK(built == 1);
}

TEST_CASE_METHOD(signal_fixture, "a receiver connected while a lazy send builds its event is not called by it",
                 "[signal][behaviour6]") {
    sig.connect("alice", recorder("first"));
    beacon::scoped_connection late;
    CHECK(sig.send_lazy("alice", [&] {
        late = sig.connect("alice", recorder("late"));
        return beacon::event();
    }) == 1);
    CHECK(sig.send(beacon::event("alice")) == 2);
    CHECK(log == std::vector<std::string>{"first:alice", "first:alice", "late:alice"});
}

TEST_CASE_METHOD(signal_fixture, "dispatch is keyed: a send calls only the receivers for its sender",
                 "[signal][behaviour4]") {
    std::vector<int> calls(2000, 0);
    for (std::size_t i = 0; i < 2000; ++i) sig.connect("sender-" + std::to_string(i), [&calls, i](const beacon::event&) { ++calls[i]; });
    CHECK(sig.receiver_count() == 2000);
    CHECK(sig.receiver_count("sender-500") == 1);
    CHECK(sig.send(beacon::event("sender-500")) == 1);
    CHECK(sig.send(beacon::event("nobody")) == 0);
    for (std::size_t i = 0; i < 2000; ++i) REQUIRE(calls[i] == (i == 500 ? 1 : 0));
}

TEST_CASE_METHOD(signal_fixture, "call order: any-sender receivers, then bound ones, each in connection order",
                 "[signal][behaviour5]") {
    sig.connect("alice", recorder("bound1"));
    sig.connect(recorder("any1"));
    sig.connect("alice", recorder("bound2"));
    sig.connect(recorder("any2"));
    sig.send(beacon::event("alice"));
    CHECK(log == std::vector<std::string>{"any1:alice", "any2:alice", "bound1:alice", "bound2:alice"});
}

TEST_CASE_METHOD(signal_fixture, "a receiver disconnected or blocked before its turn is not called", "[signal][behaviour6]") {
    beacon::connection third;
    beacon::connection fifth;
    std::optional<beacon::scoped_block> block;
    sig.connect([&](const beacon::event&) {
        log.push_back("first");
        third.disconnect();
        block.emplace(fifth.block());
    });
    auto second = sig.connect([&](const beacon::event&) { log.push_back("second"); });
    third = sig.connect([&](const beacon::event&) { log.push_back("third"); });
    sig.connect([&](const beacon::event&) { log.push_back("fourth"); });
    fifth = sig.connect([&](const beacon::event&) { log.push_back("fifth"); });
    sig.send(beacon::event("x"));
    CHECK(log == std::vector<std::string>{"first", "second", "fourth"});
    CHECK_FALSE(third.connected());
    CHECK(fifth.blocked());
}

TEST_CASE_METHOD(signal_fixture, "a receiver can disconnect itself during a send", "[signal][behaviour6]") {
    beacon::connection self;
    self = sig.connect([&](const beacon::event&) {
        log.push_back("once");
        self.disconnect();
    });
    sig.connect(recorder("after"));
    sig.send(beacon::event("x"));
    sig.send(beacon::event("y"));
    CHECK(log == std::vector<std::string>{"once", "after:x", "after:y"});
}

TEST_CASE_METHOD(signal_fixture, "a receiver connected during a send is first called by the next send",
                 "[signal][behaviour6]") {
    bool connected = false;
    sig.connect([&](const beacon::event&) {
        if (connected) return;
        connected = true;
        sig.connect(recorder("late-any"));
        sig.connect("x", recorder("late-bound"));
    });
    sig.connect("x", recorder("bound"));
    CHECK(sig.send(beacon::event("x")) == 2);
    CHECK(log == std::vector<std::string>{"bound:x"});
    log.clear();
    CHECK(sig.send(beacon::event("x")) == 4);
    CHECK(log == std::vector<std::string>{"late-any:x", "bound:x", "late-bound:x"});
}

TEST_CASE_METHOD(signal_fixture, "re-entrant sends work", "[signal][behaviour6]") {
    sig.connect([&](const beacon::event& e) {
        log.push_back("enter:" + e.sender);
        if (e.sender.size() < 3) sig.send(beacon::event(e.sender + "+"));
        log.push_back("leave:" + e.sender);
    });
    sig.connect("a+", recorder("bound"));
    sig.send(beacon::event("a"));
    CHECK(log == std::vector<std::string>{"enter:a", "enter:a+", "enter:a++", "leave:a++", "leave:a+", "bound:a+",
                                          "leave:a"});
}

TEST_CASE_METHOD(signal_fixture, "a receiver's exception propagates and the signal stays usable", "[signal][behaviour7]") {
    sig.connect(recorder("before"));
    auto thrower = sig.connect([](const beacon::event& e) {
        if (e.sender == "bad") throw std::runtime_error("receiver failed");
    });
    sig.connect(recorder("after"));
    CHECK_THROWS_WITH(sig.send(beacon::event("bad")), "receiver failed");
    CHECK(log == std::vector<std::string>{"before:bad"});
    CHECK(sig.send(beacon::event("good")) == 3);
    thrower.disconnect();
    CHECK(sig.send(beacon::event("bad")) == 2);
    CHECK(sig.receiver_count() == 2);
}

TEST_CASE_METHOD(signal_fixture, "a robust send calls every receiver and returns each error with its receiver",
                 "[signal][behaviour7]") {
    sig.connect(recorder("one"));
    auto two = sig.connect(quota_checker{&log});
    sig.connect(recorder("three"));
    auto four = sig.connect("x", [&](const beacon::event&) {
        log.push_back("four");
        throw 42;
    });
    const auto errors = sig.send_robust(beacon::event("x"));
    CHECK(log == std::vector<std::string>{"one:x", "two", "three:x", "four"});
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].receiver_id == two.id());
    CHECK(errors[0].message() == "two failed");
    CHECK_THAT(errors[0].receiver_type, Contains("quota_checker"));
    CHECK(errors[1].receiver_id == four.id());
    CHECK(errors[1].message() == "unknown exception");
    CHECK_THROWS_AS(std::rethrow_exception(errors[1].exception), int);
    CHECK(two.id() != four.id());
    CHECK(sig.send_robust(beacon::event("y")).size() == 1);
}

TEST_CASE_METHOD(signal_fixture, "send_collect gives each receiver called and what it returned, as blinker's send",
                 "[signal][collect]") {
    // CKAN's example_isignal: x2 for any sender, x10 bound to sender "10".
    auto x2 = sig.connect([](const beacon::event& e) { return std::stoi(e.sender) * 2; });
    auto x10 = sig.connect("10", [](const beacon::event& e) { return std::stoi(e.sender) * 10; });
    auto quiet = sig.connect([&](const beacon::event& e) { log.push_back(e.sender); });
    const auto ten = sig.send_collect("10");
    REQUIRE(ten.size() == 3);
    CHECK(ten[0].receiver_id == x2.id());
    CHECK(ten[0].value == 20);
    CHECK(ten[1].receiver_id == quiet.id());
    CHECK(ten[1].value.is_null());
    CHECK(ten[2].receiver_id == x10.id());
    CHECK(ten[2].value == 100);
    const auto two = sig.send_collect(beacon::event("2"));
    REQUIRE(two.size() == 2);
    CHECK(two[0].value == 4);
    CHECK(log == std::vector<std::string>{"10", "2"});
    // A send nobody listens to collects nothing, and a muted signal calls nobody.
    beacon::signal empty{"core", "empty"};
    CHECK(empty.send_collect("10").empty());
    const auto muted = sig.mute();
    CHECK(sig.send_collect("10").empty());
}

TEST_CASE_METHOD(signal_fixture, "a receiver's exception propagates out of send_collect", "[signal][collect][behaviour7]") {
    sig.connect([](const beacon::event&) { return "first"; });
    sig.connect(quota_checker{&log});
    CHECK_THROWS_WITH(sig.send_collect("x"), "two failed");
    CHECK(log == std::vector<std::string>{"two"});
    CHECK(sig.send_robust(beacon::event("y")).size() == 1);
}

TEST_CASE_METHOD(signal_fixture, "a callable connected for any sender and for sender x is two receivers", "[signal][twice]") {
    // Unlike blinker (which keys receivers by identity and calls one once per send), each connect
    // is a receiver of its own: connected for any sender and for "x", it is called twice by a send
    // from "x", and disconnecting one connection leaves the other.
    int calls = 0;
    const auto count = [&](const beacon::event&) { ++calls; };
    auto any = sig.connect(count);
    auto bound = sig.connect("x", count);
    CHECK(sig.send("x") == 2);
    CHECK(calls == 2);
    CHECK(sig.send("y") == 1);
    CHECK(calls == 3);
    // Connected twice for the same sender: twice, too.
    auto again = sig.connect("x", count);
    CHECK(sig.send("x") == 3);
    bound.disconnect();
    CHECK(sig.send("x") == 2);
    any.disconnect();
    again.disconnect();
    CHECK(sig.send("x") == 0);
}

// What a receiver may be, checked at compile time (the refusals are tests/compile_fail/).
namespace {
struct handler {
    int on_event(const beacon::event&) { return 1; }
    void on_json(const nlohmann::json&) {}
};
void free_receiver(const beacon::event&) {}
}  // namespace
static_assert(beacon::detail::takes_event<decltype(free_receiver)>());
static_assert(beacon::detail::takes_event<decltype(&free_receiver)>());
static_assert(beacon::detail::takes_event<std::function<void(const beacon::event&)>>());
static_assert(!beacon::detail::takes_event<std::function<void(const nlohmann::json&)>>());
static_assert(!beacon::detail::takes_event<std::function<void(beacon::event)>>());
static_assert(beacon::detail::method_takes_event<decltype(&handler::on_event)>());
static_assert(!beacon::detail::method_takes_event<decltype(&handler::on_json)>());

TEST_CASE_METHOD(signal_fixture, "receivers: lambdas, generic lambdas, functions, function objects, methods",
                 "[signal][receivers]") {
    auto owner = std::make_shared<handler>();
    sig.connect(recorder("lambda"));
    sig.connect([this](const auto& e) { log.push_back("generic:" + e.sender); });
    sig.connect(free_receiver);
    sig.connect(quota_checker{&log}).disconnect();
    const auto method = sig.connect(&handler::on_event, owner);
    const auto results = sig.send_collect("s");
    CHECK(log == std::vector<std::string>{"lambda:s", "generic:s"});
    REQUIRE(results.size() == 4);
    CHECK(results[3].receiver_id == method.id());
    CHECK(results[3].value == 1);
}

TEST_CASE_METHOD(signal_fixture, "meta signals report connects and disconnects, as blinker's", "[signal][meta]") {
    std::vector<nlohmann::json> connected;
    std::vector<nlohmann::json> disconnected;
    // Connected for this signal's meta events only (their sender is "<namespace>/<name>").
    sig.receiver_connected().connect("core/resource_changed", [&](const beacon::event& e) { connected.push_back(e.data); });
    sig.receiver_disconnected().connect([&](const beacon::event& e) {
        CHECK(e.sender == "core/resource_changed");
        disconnected.push_back(e.data);
    });
    CHECK(&sig.receiver_connected() == &sig.receiver_connected());
    auto any = sig.connect(recorder("any"));
    auto bound = sig.connect("admin", quota_checker{&log});
    REQUIRE(connected.size() == 2);
    CHECK(connected[0]["receiver_id"] == any.id());
    CHECK(connected[0]["sender"].is_null());
    CHECK(connected[1]["receiver_id"] == bound.id());
    CHECK(connected[1]["sender"] == "admin");
    CHECK_THAT(connected[1]["receiver_type"].get<std::string>(), Contains("quota_checker"));

    bound.disconnect();
    bound.disconnect();  // already disconnected: reported once
    { beacon::scoped_connection scoped = any; }
    REQUIRE(disconnected.size() == 2);
    CHECK(disconnected[0]["receiver_id"] == bound.id());
    CHECK(disconnected[1]["receiver_id"] == any.id());
    CHECK(sig.receiver_count() == 0);

    // A meta receiver's exception is dropped: the connect stands.
    auto thrower = sig.receiver_connected().connect([](const beacon::event&) { throw std::runtime_error("meta"); });
    CHECK_NOTHROW(sig.connect(recorder("kept")));
    CHECK(sig.receiver_count() == 1);
    thrower.disconnect();
    // Another signal's connects are not reported here.
    beacon::signal other{"core", "other"};
    other.connect(recorder("elsewhere"));
    CHECK(connected.size() == 3);
}

TEST_CASE_METHOD(signal_fixture, "meta signals under concurrent connects and disconnects", "[signal][meta][threads]") {
    std::atomic<int> connects{0};
    std::atomic<int> disconnects{0};
    std::atomic<int> calls{0};
    sig.receiver_connected().connect([&](const beacon::event&) { connects.fetch_add(1); });
    sig.receiver_disconnected().connect([&](const beacon::event&) { disconnects.fetch_add(1); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                const auto count = [&](const beacon::event&) { calls.fetch_add(1); };
                auto c = t % 2 ? sig.connect(count) : sig.connect(std::to_string(i), count);
                sig.send(std::to_string(i));
                c.disconnect();
            }
        });
    }
    for (auto& th : threads) th.join();
    CHECK(connects == 800);
    CHECK(disconnects == 800);
    CHECK(calls >= 800);  // each send reaches at least the receiver its own thread connected
    CHECK(sig.receiver_count() == 0);
}

TEST_CASE_METHOD(signal_fixture, "muting is scoped and nests", "[signal][behaviour9]") {
    sig.connect(recorder("r"));
    {
        auto outer = sig.mute();
        CHECK(sig.muted());
        {
            auto inner = sig.mute();
            CHECK(sig.send(beacon::event("a")) == 0);
        }
        CHECK(sig.muted());
        CHECK(sig.send_robust(beacon::event("b")).empty());
        CHECK(sig.send("c") == 0);
    }
    CHECK_FALSE(sig.muted());
    CHECK(sig.send(beacon::event("d")) == 1);
    CHECK(log == std::vector<std::string>{"r:d"});
}

TEST_CASE_METHOD(signal_fixture, "receivers see a stamped event; a const event is not changed", "[signal]") {
    std::int64_t seen = 0;
    sig.connect([&](const beacon::event& e) { seen = e.timestamp; });
    const beacon::event unstamped("a");
    sig.send(unstamped);
    CHECK(seen > 0);
    CHECK(unstamped.timestamp == 0);
    beacon::event given("b");
    given.timestamp = 7;
    sig.send(given);
    CHECK(seen == 7);
    sig.send("c");
    CHECK(seen > 7);
}

TEST_CASE_METHOD(signal_fixture, "receiver counts and disconnect_all", "[signal]") {
    CHECK_FALSE(sig.has_receivers());
    CHECK_FALSE(sig.has_receivers_for("a"));
    auto a = sig.connect("a", recorder("a"));
    CHECK(sig.has_receivers_for("a"));
    CHECK_FALSE(sig.has_receivers_for("b"));
    sig.connect(recorder("any"));
    CHECK(sig.has_receivers_for("b"));
    CHECK(sig.receiver_count() == 2);
    CHECK(sig.receiver_count("a") == 2);
    CHECK(sig.receiver_count("b") == 1);
    sig.disconnect_all();
    CHECK_FALSE(a.connected());
    CHECK(sig.receiver_count() == 0);
    CHECK(sig.send(beacon::event("a")) == 0);
}

TEST_CASE_METHOD(signal_fixture, "senders that come and go do not keep receivers alive", "[signal]") {
    for (int i = 0; i < 500; ++i) {
        beacon::scoped_connection c = sig.connect("once-" + std::to_string(i), recorder("r"));
        CHECK(sig.send(beacon::event("once-" + std::to_string(i))) == 1);
    }
    CHECK(sig.receiver_count() == 0);
    for (int i = 0; i < 500; i += 50) CHECK_FALSE(sig.has_receivers_for("once-" + std::to_string(i)));
    sig.connect("once-3", recorder("again"));
    CHECK(sig.send(beacon::event("once-3")) == 1);
    CHECK(log.back() == "again:once-3");
}

TEST_CASE_METHOD(signal_fixture, "sending an event too deep to copy is an encode_error, not a stack overflow",
                 "[signal][limits][behaviour11]") {
    // 100,000 nested arrays, built without recursion; copying them (to stamp a const event)
    // overflowed the stack.
    nlohmann::json deep = nlohmann::json::array();
    for (int i = 1; i < 100000; ++i) {
        nlohmann::json outer = nlohmann::json::array();
        outer.push_back(std::move(deep));
        deep = std::move(outer);
    }
    sig.connect(recorder("any"));
    beacon::event e("host");
    e.impacted_records.push_back({std::nullopt, std::move(deep)});
    const beacon::event& unstamped = e;
    CHECK_THROWS_WITH(sig.send(unstamped), Contains("[beacon.encode_error] /impacted_records/0/new/0/0"));
    const auto robust = [&] { return sig.send_robust(unstamped); };
    CHECK_THROWS_AS(robust(), beacon::encode_error);
    CHECK(log.empty());
    // A stamped event is not copied: it reaches its receivers as it is.
    e.timestamp = 1;
    e.id = beacon::event_id::make();
    e.type = "core.changed";
    e.source = "urn:test";
    CHECK(sig.send(unstamped) == 1);
    CHECK(log == std::vector<std::string>{"any:host"});
}

TEST_CASE("one-off senders are swept whichever way their receiver goes, with or without a later send",
          "[signal][behaviour13]") {
    // A receiver bound to a one-off sender with a tracked owner that expired, and no later send
    // from that sender, was never swept: 1,000,000 such senders held about 1 GB.
    enum class way { disconnect, scope, owner_expires };
    for (const way w : {way::disconnect, way::scope, way::owner_expires}) {
        for (const bool later_send : {false, true}) {
            INFO("way " << static_cast<int>(w) << ", later send " << later_send);
            beacon::signal sig("core", "resource_changed");
            int calls = 0;
            const auto receiver = [&calls](const beacon::event&) { ++calls; };
            for (int i = 0; i < 2000; ++i) {
                const std::string sender = "once-" + std::to_string(i);
                if (w == way::disconnect) {
                    sig.connect(sender, receiver).disconnect();
                } else if (w == way::scope) {
                    beacon::scoped_connection c = sig.connect(sender, receiver);
                } else {
                    sig.connect(sender, receiver, std::make_shared<int>(i));
                }
                if (later_send) CHECK(sig.send(beacon::event(sender)) == 0);
            }
            CHECK(sig.sender_count() <= 2 * 1 + 16);
            CHECK(sig.receiver_count() == 0);
            CHECK(calls == 0);
        }
    }
    // Senders with live receivers are kept through the sweeps.
    beacon::signal sig("core", "resource_changed");
    const auto owner = std::make_shared<int>(0);
    std::vector<beacon::connection> kept;
    for (int i = 0; i < 300; ++i) {
        kept.push_back(sig.connect("kept-" + std::to_string(i), [](const beacon::event&) {}, owner));
        sig.connect("once-" + std::to_string(i), [](const beacon::event&) {}, std::make_shared<int>(i));
    }
    CHECK(sig.sender_count() <= 2 * 300 + 16);
    CHECK(sig.receiver_count() == 300);
    for (int i = 0; i < 300; i += 7) CHECK(sig.send(beacon::event("kept-" + std::to_string(i))) == 1);
}

TEST_CASE("sweeps of expired owners run while other threads send and connect", "[signal][behaviour8][behaviour13]") {
    // A sweep asks Boost about receivers whose owner expired outside the signal's lock, while
    // sends and connects go on: run under ThreadSanitizer in CI.
    beacon::signal sig("core", "resource_changed");
    std::atomic<int> stable{0};
    auto kept = sig.connect("stable", [&stable](const beacon::event&) { stable.fetch_add(1); });
    constexpr int sends = 2000;
    std::thread sender([&] {
        beacon::event e("stable");
        e.timestamp = 1;
        for (int i = 0; i < sends; ++i) sig.send(e);
    });
    std::vector<std::thread> connectors;
    for (int t = 0; t < 2; ++t) {
        connectors.emplace_back([&sig, t] {
            for (int i = 0; i < 1500; ++i) {
                sig.connect("once-" + std::to_string(t) + "-" + std::to_string(i), [](const beacon::event&) {},
                            std::make_shared<int>(i));
            }
        });
    }
    sender.join();
    for (auto& c : connectors) c.join();
    CHECK(stable.load() == sends);
    // Sweeps ran meanwhile: how many buckets they kept depends on what the connectors added while
    // a sweep asked Boost unlocked, so only "far fewer than the 3,001 senders" holds here.
    CHECK(sig.sender_count() < 1000);
    CHECK(sig.receiver_count() == 1);
    // Alone again, the next sweep keeps "stable" only, and the map stays within 2 * 1 + 16 after it.
    for (int i = 0; i < 1200; ++i) {
        sig.connect("later-" + std::to_string(i), [](const beacon::event&) {}, std::make_shared<int>(i));
    }
    CHECK(sig.sender_count() <= 2 * 1 + 16);
    CHECK(sig.receiver_count() == 1);
}

TEST_CASE_METHOD(signal_fixture, "stats count sends, receiver calls and errors once enabled, and nothing before",
                 "[signal][stats]") {
    auto any = sig.connect(recorder("any"));
    auto bound = sig.connect("alice", recorder("alice"));
    sig.send("alice");
    CHECK(sig.stats().sends == 0);  // off until enable_stats
    CHECK(sig.stats().receiver_calls == 0);

    sig.enable_stats();
    sig.enable_stats();  // idempotent
    sig.send("alice");   // any + alice
    sig.send("bob");     // any
    {
        auto m = sig.mute();
        sig.send("alice");  // muted: reaches nobody, not counted
    }
    any.disconnect();
    sig.send("carol");  // nobody listens to carol: costs nothing, not counted
    auto st = sig.stats();
    CHECK(st.sends == 2);
    CHECK(st.receiver_calls == 3);
    CHECK(st.receiver_errors == 0);

    auto thrower = sig.connect("alice", [](const beacon::event&) { throw std::runtime_error("quota"); });
    auto thrower2 = sig.connect("alice", [](const beacon::event&) { throw std::runtime_error("disk"); });
    CHECK_THROWS_AS(sig.send("alice"), std::runtime_error);  // a plain send stops at the first
    CHECK(sig.send_robust("alice").size() == 2);             // a robust send collects both
    st = sig.stats();
    CHECK(st.sends == 4);
    CHECK(st.receiver_calls == 3 + 2 + 3);
    CHECK(st.receiver_errors == 3);
}

TEST_CASE("stats count exactly across threads, more of them than counter slots", "[signal][stats][threads]") {
    beacon::signal sig{"core", "resource_changed"};
    sig.enable_stats();
    std::atomic<int> calls{0};
    auto a = sig.connect([&](const beacon::event&) { calls.fetch_add(1, std::memory_order_relaxed); });
    auto b = sig.connect("s1", [&](const beacon::event&) { calls.fetch_add(1, std::memory_order_relaxed); });
    std::vector<std::thread> threads;
    for (int t = 0; t < 20; ++t) {  // 15 own a slot, 5 share the last one
        threads.emplace_back([&sig, t] {
            for (int i = 0; i < 1000; ++i) sig.send("s" + std::to_string(t));
        });
    }
    for (auto& t : threads) t.join();
    const auto st = sig.stats();
    CHECK(st.sends == 20000);
    CHECK(st.receiver_calls == 20000 + 1000);
    CHECK(st.receiver_calls == static_cast<std::uint64_t>(calls.load()));
}
