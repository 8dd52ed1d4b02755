// Asynchronous delivery, failures: what a receiver throws is reported as a beacon::failure
// (to async_options::on_failure, else the process-wide sink); misuse and bad options.
#include "async_test_support.hpp"

#include <beacon/async.hpp>
#include <beacon/beacon.hpp>
#include <beacon/failure.hpp>
#include <beacon/hub.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <functional>
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

TEST_CASE("a throwing receiver: on_failure gets the event and the receiver, delivery goes on", "[async][failure]") {
    std::mutex mutex;
    std::vector<std::string> reports;
    std::vector<std::string> types;
    auto o = options(2, 100);
    o.name = "mailer";
    o.on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(mutex);
        CHECK(f.part == beacon::part::async);
        reports.push_back(f.where + " " + f.ev->sender + " " + std::to_string(f.ev->data["n"].get<int>()) + ": " + f.message());
        types.push_back(f.receiver);
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

TEST_CASE("an unnamed async receiver is named after its receiver's type", "[async][failure]") {
    std::atomic<int> ok{0};
    beacon::async_receiver async(failing_receiver{&ok});
    CHECK_THAT(async.options().name, Contains("failing_receiver"));
}

TEST_CASE("without on_failure, a receiver's failure goes to the process-wide sink, described in one line", "[async][failure]") {
    std::mutex mutex;
    std::vector<std::string> lines;
    const auto previous = beacon::set_failure_sink([&](const beacon::failure& f) {
        std::lock_guard lock(mutex);
        lines.push_back(f.describe());
    });
    {
        std::atomic<int> ok{0};
        auto o = options(1, 10);
        o.name = "mailer";
        beacon::async_receiver async(failing_receiver{&ok}, o);
        beacon::event e = numbered("alice", 3);
        e.uri = "/buckets/b";
        async(e);
        REQUIRE(async.drain(20s));
    }
    beacon::set_failure_sink(previous);
    std::lock_guard lock(mutex);
    REQUIRE(lines.size() == 1);
    CHECK_THAT(lines[0], Catch::Matchers::StartsWith("beacon.async: mailer: "));
    CHECK_THAT(lines[0], Contains("failing_receiver failed on the event from \"alice\" at /buckets/b: smtp down"));
}

TEST_CASE("an async hub consumer's failures are failures of part::hub, naming the consumer", "[async][hub][failure]") {
    struct refusing : beacon::consumer {
        void consume(const beacon::event&) override { throw std::runtime_error("mailbox full"); }
    };
    std::promise<std::string> reported;
    auto o = options(1, 10);
    o.name = "mail";
    o.on_failure = [&](const beacon::failure& f) {
        reported.set_value(std::string(beacon::to_string(f.part)) + " / " + f.where + " / " + f.receiver + ": " + f.message());
    };
    beacon::async_consumer async(std::make_shared<refusing>(), o);
    async.consume(numbered("s", 0));
    const std::string text = reported.get_future().get();
    CHECK_THAT(text, Catch::Matchers::StartsWith("hub / mail / "));
    CHECK_THAT(text, Contains("refusing"));
    CHECK_THAT(text, Catch::Matchers::EndsWith(": mailbox full"));
    REQUIRE(async.drain(20s));
    CHECK(async.stats().failed == 1);
}

TEST_CASE("drain from the adapter's own worker is a misuse_error", "[async][misuse]") {
    std::promise<std::string> what;
    beacon::async_receiver* self = nullptr;
    beacon::async_receiver async([&](const beacon::event&) {
        try {
            self->drain(1s);
            what.set_value("no error");
        } catch (const beacon::misuse_error& e) {
            what.set_value(e.what());
        }
    });
    self = &async;
    async(numbered("s", 0));
    CHECK_THAT(what.get_future().get(), Contains("drain() called from its own worker"));
}

TEST_CASE("bad options are config_errors naming the option; a null consumer is a misuse_error", "[async][misuse]") {
    auto o = options(0, 10);
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) { return e.key() == "/workers"; }));
    o = options(1, 0);
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) { return e.key() == "/queue"; }));
    o = options(beacon::async_options::max_workers + 1, 10);
    REQUIRE_THROWS_AS(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error);
    o = options(1, 10);
    o.spin = beacon::async_options::max_spin + std::chrono::microseconds(1);
    REQUIRE_THROWS_MATCHES(beacon::async_receiver([](const beacon::event&) {}, o), beacon::config_error,
                           Catch::Matchers::Predicate<beacon::config_error>([](const auto& e) {
                               return e.key() == "/spin" && std::string(e.what()).find("expected a spin of 0 to 10000 us, got 10001") !=
                                                                std::string::npos;
                           }));
    REQUIRE_THROWS_AS(beacon::async_consumer(nullptr), beacon::misuse_error);
    REQUIRE_THROWS_AS(beacon::async_receiver(std::function<void(const beacon::event&)>(), {}, "none"), beacon::misuse_error);
}
