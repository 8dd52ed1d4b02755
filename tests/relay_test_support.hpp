#pragma once
// Helpers shared by the outbox relays' tests (SQLite, PostgreSQL): a publisher that records the
// numbers of what it was given (beacon_test::numbered events), the numbers expected, and the
// backlog a running relay counts.
#include <beacon/event.hpp>
#include <beacon/failure.hpp>

#include "eventually.hpp"
#include "numbers.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

namespace relay_test {

// A publisher that records the numbers it was given, batch by batch.
struct recorder {
    std::mutex mutex;
    std::vector<std::vector<int>> batches;
    std::vector<int> all() {
        std::lock_guard lock(mutex);
        std::vector<int> out;
        for (const auto& b : batches) out.insert(out.end(), b.begin(), b.end());
        return out;
    }
    void operator()(const std::vector<beacon::event>& events) {
        std::vector<int> numbers;
        for (const auto& e : events) numbers.push_back(e.data.at("n").get<int>());
        std::lock_guard lock(mutex);
        batches.push_back(std::move(numbers));
    }
};

using beacon_test::range;

// A Relay (sqlite::relay, postgres::relay) on `where`, whose outbox holds 12 rows and whose target
// is down, then up: it counts the rows waiting and the age of the oldest, then 0 once all went.
template <class Relay, class Options, class Where>
void check_backlog_counted(const Where& where) {
    using namespace std::chrono_literals;
    std::atomic<bool> up{false};
    recorder got;
    Options options;
    options.batch = 5;
    options.backoff_min = 5ms;
    options.backoff_max = 20ms;
    Relay relay(
        where,
        [&](const std::vector<beacon::event>& b) {
            if (!up) throw std::runtime_error("target down");
            got(b);
        },
        options, [](const beacon::failure&) {});
    CHECK(relay.stats().pending == 0);  // counted by the running relay only
    relay.start();
    REQUIRE(beacon_test::eventually([&] { return relay.stats().pending == 12; }));
    std::this_thread::sleep_for(30ms);  // the rows age while the target is down
    const auto stuck = relay.stats();
    CHECK(stuck.oldest_age >= 30ms);
    CHECK(stuck.oldest_age < 60s);
    up = true;
    REQUIRE(beacon_test::eventually([&] { return got.all().size() == 12; }));
    REQUIRE(beacon_test::eventually([&] { return relay.stats().pending == 0; }));  // counted again within a second
    CHECK(relay.stats().oldest_age == 0ms);
    relay.stop();
}

}  // namespace relay_test
