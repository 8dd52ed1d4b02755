// The failure model (<beacon/failure.hpp>): the record's message and one-line description, the
// handler or the process-wide sink, and a sink or handler that throws.
#include <beacon/failure.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

beacon::failure smtp_down(const beacon::event* e = nullptr) {
    beacon::failure f;
    f.part = beacon::part::async;
    f.where = "mailer";
    f.receiver = "send_mail";
    f.ev = e;
    f.exception = std::make_exception_ptr(std::runtime_error("smtp down"));
    return f;
}

/// Restores the process-wide sink a test replaced, also when the test fails.
struct sink_guard {
    beacon::failure_handler previous;
    ~sink_guard() { beacon::set_failure_sink(previous); }
};

}  // namespace

TEST_CASE("every part has a name", "[failure]") {
    CHECK(beacon::to_string(beacon::part::signal) == "signal");
    CHECK(beacon::to_string(beacon::part::unit_of_work) == "unit_of_work");
    CHECK(beacon::to_string(beacon::part::redis) == "redis");
    CHECK(beacon::to_string(beacon::part::web) == "web");
    CHECK(beacon::to_string(beacon::part::sqlite) == "sqlite");
    CHECK(beacon::to_string(beacon::part::postgres) == "postgres");
    CHECK(beacon::to_string(beacon::part::asio) == "asio");
    CHECK(beacon::to_string(beacon::part::outbound) == "outbound");
}

TEST_CASE("a failure describes itself in one line: part, where, receiver, event, message", "[failure]") {
    beacon::event e("alice");
    e.uri = "/buckets/b";
    CHECK(smtp_down(&e).describe() ==
          "beacon.async: mailer: send_mail failed on the event from \"alice\" at /buckets/b: smtp down");
    CHECK(smtp_down().describe() == "beacon.async: mailer: send_mail failed: smtp down");

    beacon::failure bare;
    bare.part = beacon::part::web;
    bare.exception = std::make_exception_ptr(42);
    CHECK(bare.message() == "unknown exception");
    CHECK(bare.describe() == "beacon.web: failed: unknown exception");
}

TEST_CASE("report gives a failure to its handler when set, otherwise to the process-wide sink", "[failure]") {
    std::vector<std::string> sunk;
    std::vector<std::string> handled;
    sink_guard guard{beacon::set_failure_sink([&](const beacon::failure& f) { sunk.push_back(f.message()); })};

    beacon::report(smtp_down(), [&](const beacon::failure& f) { handled.push_back(f.where); });
    CHECK(handled == std::vector<std::string>{"mailer"});
    CHECK(sunk.empty());

    beacon::report(smtp_down());
    CHECK(sunk == std::vector<std::string>{"smtp down"});
}

TEST_CASE("set_failure_sink returns the previous sink; an empty sink restores write_to_stderr", "[failure]") {
    int first = 0;
    int second = 0;
    sink_guard guard{beacon::set_failure_sink([&](const beacon::failure&) { ++first; })};
    auto previous = beacon::set_failure_sink([&](const beacon::failure&) { ++second; });
    previous(smtp_down());
    beacon::report(smtp_down());
    CHECK(first == 1);
    CHECK(second == 1);

    beacon::set_failure_sink({});
    const auto restored = beacon::set_failure_sink([&](const beacon::failure&) { ++first; });
    REQUIRE(restored.target<void (*)(const beacon::failure&)>() != nullptr);
    CHECK(*restored.target<void (*)(const beacon::failure&)>() == &beacon::write_to_stderr);
}

TEST_CASE("a handler or sink that throws loses the report, never the caller", "[failure]") {
    sink_guard guard{beacon::set_failure_sink([](const beacon::failure&) { throw std::runtime_error("logger down"); })};
    CHECK_NOTHROW(beacon::report(smtp_down()));
    CHECK_NOTHROW(beacon::report(smtp_down(), [](const beacon::failure&) { throw 1; }));
}

TEST_CASE("reports from many threads reach the sink, one call each", "[failure][threads]") {
    std::atomic<int> count{0};
    sink_guard guard{beacon::set_failure_sink([&](const beacon::failure&) { ++count; })};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([] {
            for (int i = 0; i < 250; ++i) beacon::report(smtp_down());
        });
    }
    for (auto& t : threads) t.join();
    CHECK(count == 1000);
}
