#pragma once
// A signal's counters once signal::enable_stats was called: sends, receiver calls and receiver
// errors. Sending threads each own a slot of their own (a cache line they alone write, with plain
// relaxed stores: no locked instruction on the send path); a thread that finds no free slot adds
// into the shared last one atomically. Reading sums the slots.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>

namespace beacon::detail {

class send_counters {
public:
    /// What the slots add up to.
    struct totals {
        std::uint64_t sends = 0;
        std::uint64_t calls = 0;
        std::uint64_t errors = 0;
    };

    /// Counts one send that called `calls` receivers, `errors` of which threw.
    void count(std::size_t calls, std::size_t errors) noexcept {
        slot& s = slots_[index()];
        if (&s != &slots_.back()) {  // this thread's own: nobody else writes it
            s.sends.store(s.sends.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
            s.calls.store(s.calls.load(std::memory_order_relaxed) + calls, std::memory_order_relaxed);
        } else {
            s.sends.fetch_add(1, std::memory_order_relaxed);
            s.calls.fetch_add(calls, std::memory_order_relaxed);
        }
        if (errors != 0) s.errors.fetch_add(errors, std::memory_order_relaxed);
    }

    /// The counts of every thread so far (those still counting may be a few sends apart).
    totals read() const noexcept {
        totals t;
        for (const auto& s : slots_) {
            t.sends += s.sends.load(std::memory_order_relaxed);
            t.calls += s.calls.load(std::memory_order_relaxed);
            t.errors += s.errors.load(std::memory_order_relaxed);
        }
        return t;
    }

private:
    struct alignas(64) slot {
        std::atomic<std::thread::id> owner{};
        std::atomic<std::uint64_t> sends{0};
        std::atomic<std::uint64_t> calls{0};
        std::atomic<std::uint64_t> errors{0};
    };

    // This thread's slot: remembered per thread for the last counters it used (checked against
    // the slot's owner, since another object may later live at the same address), else claimed.
    std::size_t index() noexcept {
        thread_local const send_counters* cached_for = nullptr;
        thread_local std::size_t cached = 0;
        const auto me = std::this_thread::get_id();
        if (cached_for == this && slots_[cached].owner.load(std::memory_order_relaxed) == me) return cached;
        cached_for = this;
        cached = claim(me);
        return cached;
    }

    std::size_t claim(std::thread::id me) noexcept {
        const std::size_t own = slots_.size() - 1;  // the last slot is shared
        for (std::size_t i = 0; i < own; ++i) {
            if (slots_[i].owner.load(std::memory_order_acquire) == me) return i;
        }
        for (std::size_t i = 0; i < own; ++i) {
            std::thread::id free{};
            if (slots_[i].owner.compare_exchange_strong(free, me, std::memory_order_acq_rel)) return i;
        }
        return own;
    }

    std::array<slot, 16> slots_{};
};

}  // namespace beacon::detail
