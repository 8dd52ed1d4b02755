#pragma once
/// \file
/// Internals: the thread a loop (a relay's publisher, a consumer) runs in, so that the loop's
/// owner can refuse to wait for that thread from the thread itself.

#include <atomic>
#include <exception>
#include <thread>

namespace beacon::detail {

/// The thread running a loop, while it runs.
class own_thread {
public:
    /// Marks the calling thread as the loop's for its lifetime.
    class scope {
    public:
        /// Marks the calling thread in `id`.
        explicit scope(std::atomic<std::thread::id>& id) noexcept : id_(id) { id_.store(std::this_thread::get_id()); }
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
        ~scope() { id_.store(std::thread::id()); }

    private:
        std::atomic<std::thread::id>& id_;
    };

    /// The calling thread runs the loop until the scope returned ends.
    [[nodiscard]] scope enter() noexcept { return scope(id_); }

    /// Whether the calling thread runs the loop now.
    bool is_current() const noexcept { return id_.load() == std::this_thread::get_id(); }

    /// From the loop's own thread, which cannot wait for itself: calls `report` (which reports
    /// the misuse), then std::terminate. From any other thread, does nothing.
    template <class Report>
    void refuse_waiting_for_itself(Report&& report) const noexcept {
        if (!is_current()) return;
        report();
        std::terminate();
    }

private:
    std::atomic<std::thread::id> id_{};
};

}  // namespace beacon::detail
