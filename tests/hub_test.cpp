// Hubs: one filter per hub (filter_by replaces it), consumers and their hooks, registering and
// deregistering, sending to every hub, the log and callback consumers, threads.
#include <beacon/hub.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

beacon::event typed(std::string type, std::int64_t timestamp = 1000) {
    beacon::event e("system", {{"event_type", std::move(type)}});
    e.timestamp = timestamp;
    return e;
}

/// Logs its hooks as "<name>.<hook>:<event_type>"; throws in `consume` when told to.
struct hooked : beacon::consumer {
    hooked(std::vector<std::string>& into, std::string id, bool fails = false)
        : log(into), name(std::move(id)), fail(fails) {}
    void before_consume(const beacon::event& e) override { record("before", e); }
    void consume(const beacon::event& e) override {
        record("consume", e);
        if (fail) throw std::runtime_error(name + " failed");
    }
    void after_consume(const beacon::event& e) override { record("after", e); }
    void record(const char* hook, const beacon::event& e) {
        log.push_back(name + "." + hook + ":" + e.data.value("event_type", ""));
    }
    std::vector<std::string>& log;
    std::string name;
    bool fail;
};

}  // namespace

TEST_CASE("a hub runs each consumer's hooks in order when its filter passes", "[hub][consumer]") {
    std::vector<std::string> log;
    beacon::hub h("TestHub");
    CHECK(h.name() == "TestHub");
    h.register_consumer(std::make_shared<hooked>(log, "a"));
    h.register_consumer(std::make_shared<hooked>(log, "b"));
    CHECK(h.consumer_count() == 2);
    CHECK(h.send(typed("anything")));  // no filter yet: everything passes
    CHECK(log == std::vector<std::string>{"a.before:anything", "a.consume:anything", "a.after:anything",
                                          "b.before:anything", "b.consume:anything", "b.after:anything"});
}

TEST_CASE("filter_by replaces the hub's filter", "[hub][filter]") {
    int consumed = 0;
    beacon::hub h("h");
    h.register_consumer([&](const beacon::event&) { ++consumed; });
    h.filter_by(beacon::with_field("/event_type", "test"));
    CHECK(h.send(typed("test")));
    CHECK_FALSE(h.send(typed("system")));
    h.filter_by(beacon::with_field("/event_type", "system")).filter_by(beacon::with_field("/event_type", "other"));
    CHECK_FALSE(h.send(typed("test")));
    CHECK_FALSE(h.send(typed("system")));
    CHECK(h.send(typed("other")));
    CHECK(consumed == 2);
}

TEST_CASE("consumers can be deregistered; a consumer's exception propagates", "[hub][consumer][errors]") {
    std::vector<std::string> log;
    beacon::hub h("h");
    auto a = h.register_consumer(std::make_shared<hooked>(log, "a", true));
    auto b = h.register_consumer(std::make_shared<hooked>(log, "b"));
    CHECK_THROWS_WITH(h.send(typed("x")), "a failed");
    CHECK(log == std::vector<std::string>{"a.before:x", "a.consume:x"});
    CHECK(h.deregister_consumer(a));
    CHECK_FALSE(h.deregister_consumer(a));
    CHECK(h.consumer_count() == 1);
    log.clear();
    CHECK(h.send(typed("y")));
    CHECK(log == std::vector<std::string>{"b.before:y", "b.consume:y", "b.after:y"});
    CHECK_THROWS_AS(h.register_consumer(std::shared_ptr<beacon::consumer>()), beacon::misuse_error);
}

TEST_CASE("registering a consumer twice has no effect; one deregistration removes it", "[hub][consumer]") {
    std::vector<std::string> log;
    beacon::hub h("h");
    auto a = h.register_consumer(std::make_shared<hooked>(log, "a"));
    auto b = h.register_consumer(std::make_shared<hooked>(log, "b"));
    CHECK(h.register_consumer(a) == a);
    CHECK(h.consumer_count() == 2);
    CHECK(h.send(typed("x")));
    CHECK(log == std::vector<std::string>{"a.before:x", "a.consume:x", "a.after:x", "b.before:x", "b.consume:x",
                                          "b.after:x"});
    CHECK(h.deregister_consumer(a));
    CHECK_FALSE(h.deregister_consumer(a));
    log.clear();
    CHECK(h.send(typed("y")));
    CHECK(log == std::vector<std::string>{"b.before:y", "b.consume:y", "b.after:y"});
}

TEST_CASE("sending to the hubs reaches each hub whose filter passes", "[hub][hubs]") {
    beacon::hubs notifications;
    std::vector<std::string> log;
    auto& tests = *notifications.create_hub("tests");
    auto& everything = *notifications.create_hub("everything");
    tests.filter_by(beacon::with_field("/event_type", "test"));
    tests.register_consumer([&](const beacon::event& e) { log.push_back("tests:" + e.data["event_type"].get<std::string>()); });
    everything.register_consumer([&](const beacon::event& e) { log.push_back("all:" + e.data["event_type"].get<std::string>()); });

    CHECK(notifications.names() == std::vector<std::string>{"everything", "tests"});
    CHECK(notifications.find("tests").get() == &tests);
    CHECK(notifications.find("nope") == nullptr);
    CHECK(notifications.send(typed("test")) == 2);
    CHECK(notifications.send(typed("system")) == 1);
    CHECK(log == std::vector<std::string>{"all:test", "tests:test", "all:system"});

    CHECK(notifications.remove_hub("everything"));
    CHECK_FALSE(notifications.remove_hub("everything"));
    CHECK(notifications.send(typed("test")) == 1);
    CHECK(log.back() == "tests:test");

    CHECK_THROWS_MATCHES(notifications.create_hub("tests"), beacon::misuse_error,
                         Catch::Matchers::Message("[beacon.misuse_error] create_hub: hub \"tests\" already exists"));
    CHECK_THROWS_AS(notifications.create_hub(""), beacon::misuse_error);
}

TEST_CASE("the hubs stamp unstamped events, so time filters see when they were sent", "[hub][time]") {
    beacon::hubs notifications;
    const auto now = beacon::event::now_ms();
    int consumed = 0;
    notifications.create_hub("fresh")
        ->filter_by(beacon::with_field("/event_type", "test") & !beacon::before(now))
        .register_consumer([&](const beacon::event& e) {
            CHECK(e.timestamp >= now);
            ++consumed;
        });
    CHECK(notifications.send(typed("test", 0)) == 1);
    CHECK(notifications.send(typed("test", now - 60'000)) == 0);
    CHECK(notifications.send(typed("system", 0)) == 0);
    CHECK(consumed == 1);
}

TEST_CASE("the log consumer writes one JSON line per event", "[hub][log]") {
    std::ostringstream out;
    beacon::hub h("h");
    h.register_consumer(std::make_shared<beacon::log_consumer>(out));
    h.send(typed("a", 1));
    h.send(typed("b", 2));
    std::istringstream lines(out.str());
    std::vector<beacon::event> read;
    for (std::string line; std::getline(lines, line);) read.push_back(beacon::parse_event(line));
    CHECK(read == std::vector<beacon::event>{typed("a", 1), typed("b", 2)});

    // An event that cannot be written fails loudly and writes nothing.
    beacon::event bad = typed("c");
    bad.data["uri"] = "shadows a payload field";
    const auto before = out.str();
    CHECK_THROWS_AS(h.send(bad), beacon::encode_error);
    CHECK(out.str() == before);
}

TEST_CASE("the log consumer appends to a file, and names a file it cannot open", "[hub][log][file]") {
    const std::string path = "hub_test_events.jsonl";
    std::remove(path.c_str());
    {
        beacon::log_consumer first(path);
        first.consume(typed("one", 1));
    }
    {
        beacon::log_consumer second(path);
        second.consume(typed("two", 2));
    }
    std::ifstream in(path);
    std::string one, two, three;
    std::getline(in, one);
    std::getline(in, two);
    CHECK_FALSE(std::getline(in, three));
    CHECK(beacon::parse_event(one) == typed("one", 1));
    CHECK(beacon::parse_event(two) == typed("two", 2));
    std::remove(path.c_str());

    CHECK_THROWS_AS(beacon::log_consumer("/nonexistent-dir/events.jsonl"), beacon::transport_error);
    CHECK_THROWS_WITH(beacon::log_consumer("/nonexistent-dir/events.jsonl"),
                      StartsWith("[beacon.transport_error] log_consumer: cannot open \"/nonexistent-dir/events.jsonl\": "));
}

TEST_CASE("concurrent sends, registrations and filter changes lose no delivery", "[hub][threads][behaviour8]") {
    beacon::hubs notifications;
    auto& h = *notifications.create_hub("h");
    h.filter_by(beacon::with_field("/event_type", "test"));
    std::atomic<int> steady{0};
    h.register_consumer([&](const beacon::event&) { steady.fetch_add(1, std::memory_order_relaxed); });
    std::ostringstream sink;
    auto logger = std::make_shared<beacon::log_consumer>(sink);
    constexpr int senders = 3, sends = 300;
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < sends; ++i) notifications.send(typed("test"));
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; i < sends; ++i) {
            h.register_consumer(logger);
            h.filter_by(beacon::with_field("/event_type", "test") & beacon::with_sender("system"));
            h.deregister_consumer(logger);
            notifications.create_hub("temp")->register_consumer(logger);
            notifications.remove_hub("temp");
        }
    });
    for (auto& t : threads) t.join();
    CHECK(steady.load() == senders * sends);
}
