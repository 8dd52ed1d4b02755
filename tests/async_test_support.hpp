// Helpers shared by the asynchronous delivery tests (async_*_test.cpp).
#pragma once

#include <beacon/async.hpp>
#include <beacon/event.hpp>

#include "numbers.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace async_test {

using namespace std::chrono_literals;

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

inline beacon::event numbered(std::string sender, int n) {
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

using beacon_test::range;

/// `n` keys that fall in `n` different lanes of an adapter with `workers` workers (16 lanes per
/// worker, by std::hash), so that each can be delivered while the others are held.
inline std::vector<std::string> keys_in_distinct_lanes(std::size_t n, std::size_t workers) {
    std::vector<std::string> keys;
    std::set<std::size_t> lanes;
    for (int i = 0; keys.size() < n; ++i) {
        std::string key = "key-" + std::to_string(i);
        if (lanes.insert(std::hash<std::string_view>()(key) % (16 * workers)).second) keys.push_back(std::move(key));
    }
    return keys;
}

inline beacon::async_options options(std::size_t workers, std::size_t queue, beacon::full_policy on_full = beacon::full_policy::block) {
    beacon::async_options o;
    o.workers = workers;
    o.queue = queue;
    o.on_full = on_full;
    o.name = "test";
    return o;
}

/// A receiver (a named type, so that failures name it) failing on every third event.
struct failing_receiver {
    std::atomic<int>* ok;
    void operator()(const beacon::event& e) const {
        if (e.data["n"].get<int>() % 3 == 0) throw std::runtime_error("smtp down");
        ++*ok;
    }
};

}  // namespace async_test
