#pragma once
/// \file
/// The counters behind redis::forwarder_stats and redis::consumer_stats: relaxed atomics the
/// forwarders' copies and the consumers' own threads write, snapshots any thread reads (as the
/// snapshot type the public header stats.hpp defines, given as a template argument).

#include <beacon/duration_histogram.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace beacon::redis::detail {

/// A forwarder's counters, shared by its copies: relaxed atomics, nothing allocated per event.
struct forwarder_counters {
    std::atomic<std::uint64_t> published{0};  ///< forwarder_stats::published
    std::atomic<std::uint64_t> failures{0};   ///< forwarder_stats::failures
    duration_recorder round_trip;             ///< forwarder_stats::round_trip (recorded by the pool)

    /// Counts `n` events published.
    void count_published(std::size_t n) noexcept { published.fetch_add(n, std::memory_order_relaxed); }
    /// Counts `n` events failed.
    void count_failures(std::size_t n) noexcept { failures.fetch_add(n, std::memory_order_relaxed); }

    /// The counters as they are now, as a `Stats` (redis::forwarder_stats).
    template <class Stats>
    Stats snapshot() const noexcept {
        Stats out;
        out.published = published.load(std::memory_order_relaxed);
        out.failures = failures.load(std::memory_order_relaxed);
        out.round_trip = round_trip.snapshot();
        return out;
    }
};

/// Runs `send` (which sends `n` events to Redis), counting them published when it returns and
/// failed when it throws (rethrown).
template <class Send>
void counted(forwarder_counters& counters, std::size_t n, Send&& send) {
    try {
        send();
    } catch (...) {
        counters.count_failures(n);
        throw;
    }
    counters.count_published(n);
}

/// A consumer's counters, written by its own thread, read by any: relaxed atomics.
struct consumer_counters {
    std::atomic<std::uint64_t> delivered{0};       ///< consumer_stats::delivered
    std::atomic<std::uint64_t> failed{0};          ///< consumer_stats::failed
    std::atomic<std::uint64_t> redelivered{0};     ///< consumer_stats::redelivered
    std::atomic<std::uint64_t> dead_lettered{0};   ///< consumer_stats::dead_lettered
    std::atomic<std::uint64_t> backlog{0};         ///< consumer_stats::backlog
    std::atomic<std::uint64_t> pending{0};         ///< consumer_stats::pending
    std::atomic<std::int64_t> oldest_pending_idle_ms{0};  ///< consumer_stats::oldest_pending_idle
    /// When the lag is to be sampled next (the consuming thread's alone).
    std::chrono::steady_clock::time_point next_sample{};

    /// Counts one event delivered and acknowledged; `receiver_threw`: one of its receivers threw;
    /// `again`: it was delivered before.
    void count_delivered(bool receiver_threw, bool again = false) noexcept {
        delivered.fetch_add(1, std::memory_order_relaxed);
        if (receiver_threw) failed.fetch_add(1, std::memory_order_relaxed);
        if (again) redelivered.fetch_add(1, std::memory_order_relaxed);
    }
    /// Counts `n` (by default one) messages or entries.
    static void add(std::atomic<std::uint64_t>& counter, std::uint64_t n = 1) noexcept {
        counter.fetch_add(n, std::memory_order_relaxed);
    }
    /// Whether the lag is to be sampled now (every `interval`; never when it is 0), and if so when
    /// it is next.
    bool sample_due(std::chrono::milliseconds interval) noexcept {
        if (interval.count() <= 0) return false;
        const auto now = std::chrono::steady_clock::now();
        if (now < next_sample) return false;
        next_sample = now + interval;
        return true;
    }
    /// Stores a value sampled (a negative one, which no well-formed reply holds, as 0).
    template <class T>
    static void store(std::atomic<T>& to, long long value) noexcept {
        to.store(value < 0 ? T{0} : static_cast<T>(value), std::memory_order_relaxed);
    }

    /// The counters as they are now, with `duplicates` dropped, as a `Stats` (redis::consumer_stats).
    template <class Stats>
    Stats snapshot(std::uint64_t duplicates) const noexcept {
        Stats out;
        out.delivered = delivered.load(std::memory_order_relaxed);
        out.failed = failed.load(std::memory_order_relaxed);
        out.redelivered = redelivered.load(std::memory_order_relaxed);
        out.dead_lettered = dead_lettered.load(std::memory_order_relaxed);
        out.duplicates_dropped = duplicates;
        out.backlog = backlog.load(std::memory_order_relaxed);
        out.pending = pending.load(std::memory_order_relaxed);
        out.oldest_pending_idle = std::chrono::milliseconds(oldest_pending_idle_ms.load(std::memory_order_relaxed));
        return out;
    }
};

}  // namespace beacon::redis::detail
