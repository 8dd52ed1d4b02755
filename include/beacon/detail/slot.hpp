#pragma once
// The functor beacon stores in Boost.Signals2 for each receiver: it counts its live copies (so
// that a send can tell "nobody listens" with one atomic load), skips receivers connected after
// the send started, and collects exceptions during a robust send.

#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <boost/core/demangle.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
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

/// A count of live slot copies, optionally rolled up into a parent count.
struct slot_count {
    std::atomic<std::size_t> live{0};
    std::atomic<std::size_t>* parent = nullptr;

    void add() noexcept {
        live.fetch_add(1, std::memory_order_relaxed);
        if (parent) parent->fetch_add(1, std::memory_order_relaxed);
    }
    void remove() noexcept {
        live.fetch_sub(1, std::memory_order_release);
        if (parent) parent->fetch_sub(1, std::memory_order_release);
    }
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
