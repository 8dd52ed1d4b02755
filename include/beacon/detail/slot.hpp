#pragma once
// The functor beacon stores in Boost.Signals2 for each receiver: it counts its live copies (so
// that a send can tell "nobody listens" with one or two atomic loads), skips receivers connected
// after the send started, and collects exceptions during a robust send.

#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <boost/core/demangle.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace beacon::detail {

/// What one send hands to every slot.
struct delivery {
    const event& ev;
    std::uint64_t last_id;                 // slots with a larger id were connected after the send began
    std::vector<receiver_error>* errors;   // non-null during a robust send
    std::size_t* calls;                    // receivers called so far
};

/// A count of live slot copies, optionally rolled up into two parent counts (a sender-bound
/// receiver counts in its signal's total of bound receivers and in its sender's sender_bins bin).
struct slot_count {
    std::atomic<std::size_t> live{0};
    std::array<std::atomic<std::size_t>*, 2> parents{};

    void add() noexcept {
        live.fetch_add(1, std::memory_order_relaxed);
        for (auto* parent : parents) {
            if (parent) parent->fetch_add(1, std::memory_order_relaxed);
        }
    }
    void remove() noexcept {
        live.fetch_sub(1, std::memory_order_release);
        for (auto* parent : parents) {
            if (parent) parent->fetch_sub(1, std::memory_order_release);
        }
    }
};

/// Live sender-bound receivers, summed per hash bin of their sender: a send tells "nobody listens
/// to this sender" from one atomic load, without a lock or a map lookup, unless another sender
/// with live receivers shares the bin (then the signal looks the sender up).
class sender_bins {
public:
    /// The bin counting the receivers bound to `sender`.
    std::atomic<std::size_t>& bin(std::string_view sender) noexcept { return bins_[index(sender)]; }
    /// False when no receiver bound to `sender` is live; true when one may be.
    bool may_have(std::string_view sender) const noexcept {
        return bins_[index(sender)].load(std::memory_order_acquire) != 0;
    }

private:
    static constexpr std::size_t size = 512;
    static std::size_t index(std::string_view sender) noexcept { return std::hash<std::string_view>{}(sender) % size; }
    std::array<std::atomic<std::size_t>, size> bins_{};
};

/// Counts one live copy of a slot in a slot_count for as long as it exists.
class counted {
public:
    explicit counted(slot_count& count) noexcept : count_(&count) { count_->add(); }
    counted(const counted& other) noexcept : count_(other.count_) { count_->add(); }
    counted& operator=(const counted&) = delete;
    ~counted() { count_->remove(); }

private:
    slot_count* count_;
};

/// The Boost.Signals2 slot functor wrapping a user receiver `F`.
template <class F>
class slot {
public:
    slot(F receiver, slot_count& count, std::uint64_t id)
        : receiver_(std::move(receiver)), counted_(count), id_(id) {}

    void operator()(const delivery& d) const {
        if (id_ > d.last_id) return;
        ++*d.calls;
        if (d.errors == nullptr) {
            std::invoke(receiver_, d.ev);
            return;
        }
        try {
            std::invoke(receiver_, d.ev);
        } catch (...) {
            d.errors->push_back({id_, boost::core::demangle(typeid(F).name()), std::current_exception()});
        }
    }

private:
    mutable F receiver_;
    counted counted_;
    std::uint64_t id_;
};

}  // namespace beacon::detail
