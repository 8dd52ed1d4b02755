// filtered_signal: keyed dispatch, order, disconnection, blocking, tracking, changes during a
// send, exceptions, threads.
#include <beacon/filtered_signal.hpp>

#include <beacon/filter.hpp>

#include "test_events.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using test_events::change;
using test_events::counting;

namespace {


struct filtered_fixture {
    beacon::signal sig{"core", "resource_changed"};
    beacon::filtered_signal filtered{sig};
    std::vector<std::string> log;

    auto recorder(std::string name) {
        return [this, name](const beacon::event& e) { log.push_back(name + ":" + e.resource_name); };
    }
};

}  // namespace

TEST_CASE_METHOD(filtered_fixture, "a filtered receiver gets only the events its filter passes",
                 "[filtered_signal]") {
    using beacon::action;
    filtered.connect(beacon::with_action(action::create) & beacon::with_resource("bucket"), recorder("buckets"));
    filtered.connect(beacon::with_user("bob"), recorder("bob"));
    filtered.connect(!beacon::with_resource("bucket"), recorder("not-bucket"));
    CHECK(filtered.receiver_count() == 3);
    CHECK(sig.receiver_count() == 1);

    sig.send(change(action::create, "bucket"));
    sig.send(change(action::update, "bucket", "bob"));
    sig.send(change(action::create, "record"));
    sig.send(beacon::event("system"));
    CHECK(log == std::vector<std::string>{"buckets:bucket", "bob:bucket", "not-bucket:record", "not-bucket:"});
}

TEST_CASE_METHOD(filtered_fixture, "keyed: a send evaluates only the filters whose scope admits its key",
                 "[filtered_signal][keyed][behaviour4]") {
    using beacon::action;
    int evaluated = 0;
    std::vector<int> calls(1000, 0);
    for (std::size_t i = 0; i < 1000; ++i) {
        const auto a = i % 2 == 0 ? action::create : action::update;
        // The counting filter comes first: only the index, not short-circuiting, can spare it.
        filtered.connect(counting(evaluated, true) & beacon::with_action(a) & beacon::with_resource("r" + std::to_string(i)),
                         [&calls, i](const beacon::event&) { ++calls[i]; });
    }
    sig.send(change(action::create, "r500"));
    CHECK(evaluated == 1);
    sig.send(change(action::update, "r500"));  // right resource, wrong action: not even visited
    CHECK(evaluated == 1);
    sig.send(change(action::update, "r501"));
    CHECK(evaluated == 2);
    sig.send(change(action::create, "nobody"));
    sig.send(beacon::event("no action"));
    CHECK(evaluated == 2);
    for (std::size_t i = 0; i < 1000; ++i) REQUIRE(calls[i] == (i == 500 || i == 501 ? 1 : 0));
}

TEST_CASE_METHOD(filtered_fixture, "filters whose scope is empty are never visited", "[filtered_signal][keyed]") {
    int evaluated = 0;
    const auto c = filtered.connect(counting(evaluated, true) & beacon::with_resource("a") & beacon::with_resource("b"),
                                    recorder("never"));
    sig.send(change(beacon::action::create, "a"));
    sig.send(change(beacon::action::create, "b"));
    CHECK(evaluated == 0);
    CHECK(c.connected());
    CHECK(log.empty());
}

TEST_CASE_METHOD(filtered_fixture, "filtered receivers are called in connection order across keys",
                 "[filtered_signal][behaviour5]") {
    using beacon::action;
    filtered.connect(beacon::with_action(action::create) & beacon::with_resource("bucket"), recorder("1-create-bucket"));
    filtered.connect(beacon::filter(), recorder("2-all"));
    filtered.connect(beacon::with_resource("bucket"), recorder("3-bucket"));
    filtered.connect(beacon::with_action(action::create), recorder("4-create"));
    filtered.connect(beacon::with_actions({action::create, action::delete_}) & beacon::with_resources({"x", "bucket"}),
                     recorder("5-create/delete-x/bucket"));
    filtered.connect(beacon::filter(), recorder("6-all"));
    sig.send(change(action::create, "bucket"));
    CHECK(log == std::vector<std::string>{"1-create-bucket:bucket", "2-all:bucket", "3-bucket:bucket",
                                          "4-create:bucket", "5-create/delete-x/bucket:bucket", "6-all:bucket"});
    log.clear();
    sig.send(change(action::delete_, "x"));
    CHECK(log == std::vector<std::string>{"2-all:x", "5-create/delete-x/bucket:x", "6-all:x"});
}

TEST_CASE_METHOD(filtered_fixture, "disconnect, block, scoped connection and tracking", "[filtered_signal][connection]") {
    const auto everything = beacon::filter();
    auto a = filtered.connect(everything, recorder("a"));
    auto b = filtered.connect(beacon::with_resource("r"), recorder("b"));
    sig.send(change(beacon::action::create, "r"));
    {
        auto blocked = b.block();
        CHECK(b.blocked());
        sig.send(change(beacon::action::create, "r"));
    }
    a.disconnect();
    CHECK_FALSE(a.connected());
    sig.send(change(beacon::action::create, "r"));
    CHECK(log == std::vector<std::string>{"a:r", "b:r", "a:r", "b:r"});
    CHECK(filtered.receiver_count() == 1);

    log.clear();
    {
        beacon::scoped_connection scoped = filtered.connect(everything, recorder("scoped"));
        sig.send(change(beacon::action::create, "s"));
    }
    sig.send(change(beacon::action::create, "s"));
    CHECK(log == std::vector<std::string>{"scoped:s"});

    log.clear();
    auto owner = std::make_shared<int>(0);
    auto tracked = filtered.connect(everything, [owner = owner.get()](const beacon::event&) { ++*owner; }, owner);
    sig.send(change(beacon::action::create, "t"));
    CHECK(*owner == 1);
    owner.reset();
    CHECK_FALSE(tracked.connected());
    sig.send(change(beacon::action::create, "t"));
    CHECK(filtered.receiver_count() == 1);
}

TEST_CASE_METHOD(filtered_fixture, "changes during a send: disconnected before its turn is skipped, connected is not called",
                 "[filtered_signal][behaviour6]") {
    beacon::connection later;
    filtered.connect(beacon::filter(), [&](const beacon::event& e) {
        log.push_back("first:" + e.resource_name);
        later.disconnect();
        filtered.connect(beacon::filter(), recorder("new"));
        if (e.resource_name == "outer") sig.send(change(beacon::action::update, "inner"));
    });
    later = filtered.connect(beacon::filter(), recorder("later"));
    sig.send(change(beacon::action::create, "outer"));
    CHECK(log == std::vector<std::string>{"first:outer", "first:inner", "new:inner"});
}

TEST_CASE_METHOD(filtered_fixture, "a filtered receiver's exception propagates and the index stays usable",
                 "[filtered_signal][behaviour7]") {
    filtered.connect(beacon::with_resource("bad"), [](const beacon::event&) { throw std::runtime_error("boom"); });
    filtered.connect(beacon::filter(), recorder("after"));
    CHECK_THROWS_WITH(sig.send(change(beacon::action::create, "bad")), "boom");
    CHECK(log.empty());
    sig.send(change(beacon::action::create, "good"));
    CHECK(log == std::vector<std::string>{"after:good"});
    const auto errors = sig.send_robust(change(beacon::action::create, "bad"));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message() == "boom");
}

TEST_CASE_METHOD(filtered_fixture, "a robust send calls every filtered receiver and reports each one that throws",
                 "[filtered_signal][behaviour7]") {
    const auto first = filtered.connect(beacon::with_resource("bad"), [&](const beacon::event&) {
        log.push_back("first");
        throw std::runtime_error("first failed");
    });
    filtered.connect(beacon::filter(), recorder("second"));
    const auto third = filtered.connect(beacon::where([](const beacon::event&) -> bool { throw std::logic_error("bad filter"); }),
                                        recorder("never"));
    filtered.connect(beacon::with_resource("bad"), recorder("fourth"));
    const auto errors = sig.send_robust(change(beacon::action::create, "bad"));
    CHECK(log == std::vector<std::string>{"first", "second:bad", "fourth:bad"});
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].receiver_id == first.id());
    CHECK(errors[0].message() == "first failed");
    CHECK(errors[1].receiver_id == third.id());
    CHECK(errors[1].message() == "bad filter");
    // A plain send counts the filtered receivers it called, not the dispatcher.
    third.disconnect();
    first.disconnect();
    CHECK(sig.send(change(beacon::action::create, "good")) == 1);
    CHECK(sig.send(change(beacon::action::update, "bad")) == 2);
}

TEST_CASE_METHOD(filtered_fixture, "the signal stays lazy until the first filtered receiver", "[filtered_signal][behaviour3]") {
    CHECK_FALSE(sig.has_receivers());
    int built = 0;
    sig.send_lazy("storage", [&] { return ++built, change(beacon::action::create, "x"); });
    CHECK(built == 0);
    filtered.connect(beacon::with_resource("x"), recorder("x"));
    filtered.connect(beacon::with_resource("y"), recorder("y"));
    CHECK(sig.receiver_count() == 1);
    sig.send_lazy("storage", [&] { return ++built, change(beacon::action::create, "x"); });
    CHECK(built == 1);
    CHECK(log == std::vector<std::string>{"x:x"});
}

TEST_CASE_METHOD(filtered_fixture, "destroying the filtered_signal disconnects its receivers", "[filtered_signal][lifetime]") {
    filtered.connect(beacon::with_resource("kept"), recorder("kept"));
    beacon::connection c;
    {
        beacon::filtered_signal scoped(sig);
        c = scoped.connect(beacon::filter(), recorder("gone"));
        CHECK(&scoped.target() == &sig);
        CHECK(sig.receiver_count() == 2);
    }
    CHECK_FALSE(c.connected());
    CHECK(sig.receiver_count() == 1);
    sig.send(change(beacon::action::create, "x"));
    CHECK(log.empty());
}

TEST_CASE("connecting and disconnecting in a loop does not grow the index", "[filtered_signal][sweep][behaviour13]") {
    beacon::detail::filter_index index;
    int calls = 0;
    std::size_t most = 0;
    for (int i = 0; i < 5000; ++i) {
        auto [control, id] = index.add(beacon::with_resource("once-" + std::to_string(i)), [&](const beacon::event&) { ++calls; },
                                       nullptr);
        control.disconnect();
        most = std::max(most, index.filed());
    }
    CHECK(most <= 64);
    index.add(beacon::with_resources({"r3", "r4"}), [&](const beacon::event&) { ++calls; }, nullptr);
    CHECK(index.size() == 1);
    const auto e = change(beacon::action::create, "r3");
    std::size_t delivered = 0;
    index.dispatch(beacon::detail::delivery{e, 0, nullptr, &delivered});
    CHECK(calls == 1);
    CHECK(delivered == 1);
}

TEST_CASE_METHOD(filtered_fixture, "filtered: concurrent sends, connects and disconnects lose no delivery",
                 "[filtered_signal][behaviour8][threads]") {
    std::atomic<int> steady{0};
    filtered.connect(beacon::with_action(beacon::action::create) & beacon::with_resource("steady"),
                     [&](const beacon::event&) { steady.fetch_add(1, std::memory_order_relaxed); });
    constexpr int senders = 3, sends = 400;
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < sends; ++i) sig.send(change(beacon::action::create, "steady"));
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < sends; ++i) {
            auto c = filtered.connect(beacon::with_resource(i % 2 ? "steady" : "other"), [](const beacon::event&) {});
            if (i % 3) c.disconnect();
        }
    });
    for (auto& t : threads) t.join();
    CHECK(steady.load() == senders * sends);
}
