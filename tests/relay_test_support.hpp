#pragma once
// Helpers shared by the outbox relays' tests (SQLite, PostgreSQL): a publisher that records the
// numbers of what it was given (beacon_test::numbered events), and the numbers expected.
#include <beacon/event.hpp>

#include <mutex>
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

// first, first + 1, ..., last - 1.
inline std::vector<int> range(int first, int last) {
    std::vector<int> out;
    for (int n = first; n < last; ++n) out.push_back(n);
    return out;
}

}  // namespace relay_test
