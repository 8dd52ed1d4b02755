#pragma once
/// \file
/// How long things took, as a Prometheus histogram: duration_histogram (a snapshot) and
/// duration_recorder (what records it, lock-free). Configured listeners' calls and the Redis
/// forwarders' round trips are timed with it (beacon::metrics exports them).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace beacon {

/// How long calls took (a snapshot), as a Prometheus histogram: `buckets[i]` counts the calls
/// that took at most `bounds[i]` seconds (cumulative), `count` every call, `sum` their seconds.
struct duration_histogram {
    /// The buckets' upper bounds in seconds, from 100 us to 10 s (Kinto's listener timer, finer).
    static constexpr std::array<double, 11> bounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                   0.01,   0.025,   0.1,    1.0,   10.0};
    std::array<std::uint64_t, bounds.size()> buckets{};  ///< Calls that took at most bounds[i] seconds.
    std::uint64_t count = 0;  ///< Every call (the +Inf bucket).
    double sum = 0;           ///< The calls' seconds, added up.
};

/// Records durations into a duration_histogram's buckets, in relaxed atomics: any thread may
/// record while another reads a snapshot (whose counts may then be a few calls apart).
class duration_recorder {
public:
    /// Counts one call that took `took`.
    void record(std::chrono::steady_clock::duration took) noexcept {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(took).count();
        const auto n = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
        std::size_t i = 0;
        while (i < bounds_ns.size() && n > bounds_ns[i]) ++i;
        per_bucket_[i].fetch_add(1, std::memory_order_relaxed);
        sum_ns_.fetch_add(n, std::memory_order_relaxed);
    }

    /// The histogram of what was recorded so far.
    duration_histogram snapshot() const noexcept {
        duration_histogram out;
        std::uint64_t below = 0;
        for (std::size_t i = 0; i < per_bucket_.size(); ++i) {
            below += per_bucket_[i].load(std::memory_order_relaxed);
            if (i < out.buckets.size()) out.buckets[i] = below;
        }
        out.count = below;
        out.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
        return out;
    }

private:
    static constexpr std::array<std::uint64_t, duration_histogram::bounds.size()> bounds_ns{
        100'000,    250'000,     500'000,     1'000'000,     2'500'000,     5'000'000,
        10'000'000, 25'000'000,  100'000'000, 1'000'000'000, 10'000'000'000};
    std::array<std::atomic<std::uint64_t>, duration_histogram::bounds.size() + 1> per_bucket_{};  // the last: +Inf
    std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace beacon
