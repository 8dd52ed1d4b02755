#pragma once
// beacon_test::eventually: polls a condition until it holds, with a deadline against hanging.

#include <chrono>
#include <thread>

namespace beacon_test {

// Polls `done` until it holds or `limit` passes (a deadline against hanging, not a timing check).
template <class Pred>
bool eventually(Pred done, std::chrono::seconds limit = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

}  // namespace beacon_test
