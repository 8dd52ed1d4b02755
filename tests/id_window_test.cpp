// The window of the last event ids seen (<beacon/id_window.hpp>): its bound, the nil id, eviction
// in insertion order under churn, and several threads at once.
#include <beacon/id_window.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <deque>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {
std::vector<beacon::event_id> ids(std::size_t n) {
    std::vector<beacon::event_id> out;
    for (std::size_t i = 0; i < n; ++i) out.push_back(beacon::event_id::make());
    return out;
}
}  // namespace

TEST_CASE("an id window holds the last N ids: the N+1st forgets the oldest", "[id_window]") {
    beacon::id_window window(3);
    const auto id = ids(4);
    CHECK(window.capacity() == 3);
    CHECK(window.insert(id[0]));
    CHECK_FALSE(window.insert(id[0]));  // already there: a duplicate
    CHECK(window.insert(id[1]));
    CHECK(window.insert(id[2]));
    CHECK(window.size() == 3);
    CHECK(window.contains(id[0]));
    CHECK(window.insert(id[3]));  // the N+1st
    CHECK(window.size() == 3);
    CHECK_FALSE(window.contains(id[0]));  // the oldest, forgotten
    CHECK(window.contains(id[1]));
    CHECK(window.contains(id[2]));
    CHECK(window.contains(id[3]));
    CHECK(window.insert(id[0]));  // new again
    CHECK_FALSE(window.contains(id[1]));
    window.clear();
    CHECK(window.size() == 0);
    CHECK_FALSE(window.contains(id[3]));
}

TEST_CASE("the nil id is never in an id window; a window of 0 remembers nothing", "[id_window]") {
    beacon::id_window window(8);
    CHECK(window.insert(beacon::event_id()));
    CHECK(window.insert(beacon::event_id()));
    CHECK_FALSE(window.contains(beacon::event_id()));
    CHECK(window.size() == 0);

    beacon::id_window none(0);
    const auto id = beacon::event_id::make();
    CHECK(none.insert(id));
    CHECK(none.insert(id));
    CHECK_FALSE(none.contains(id));
    CHECK(beacon::id_window().capacity() == beacon::id_window::default_capacity);
}

TEST_CASE("an id window agrees with a model of the last N ids under churn", "[id_window]") {
    // Random ids, some repeated (drawn again from a pool): every answer matches a queue and a set.
    constexpr std::size_t capacity = 61;
    beacon::id_window window(capacity);
    std::deque<beacon::event_id> order;
    std::unordered_set<beacon::event_id> model;
    const auto pool = ids(200);
    std::mt19937 random(42);
    std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
    for (int step = 0; step < 100000; ++step) {
        const auto& id = pool[pick(random)];
        const bool fresh = model.count(id) == 0;
        REQUIRE(window.insert(id) == fresh);
        if (fresh) {
            order.push_back(id);
            model.insert(id);
            if (order.size() > capacity) {
                model.erase(order.front());
                order.pop_front();
            }
        }
        REQUIRE(window.size() == order.size());
    }
    for (const auto& id : pool) CHECK(window.contains(id) == (model.count(id) == 1));
}

TEST_CASE("an id window is safe to share between threads", "[id_window][threads]") {
    beacon::id_window window(1000);
    const auto shared = ids(500);
    std::vector<int> firsts(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (const auto& id : shared) firsts[t] += window.insert(id) ? 1 : 0;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(firsts[0] + firsts[1] + firsts[2] + firsts[3] == 500);  // each id new to exactly one thread
    CHECK(window.size() == 500);
}
