#pragma once
// The functor beacon stores in Boost.Signals2 for each receiver: it counts its live copies (so
// that a send can tell "nobody listens" from atomic loads, without a lock), skips receivers
// connected after the send started, and collects exceptions during a robust send.

#include <beacon/connection.hpp>
#include <beacon/detail/receiver_traits.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <boost/core/demangle.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace beacon::detail {

/// What one send hands to every slot.
struct delivery {
    const event& ev;
    std::uint64_t last_id;                 // slots with a larger id were connected after the send began
    std::vector<receiver_error>* errors;   // non-null during a robust send
    std::size_t* calls;                    // receivers called so far
    const std::shared_ptr<const event>* shared = nullptr;  // owns `ev` when sent as a shared_ptr
    std::vector<receiver_result>* results = nullptr;       // non-null during send_collect
    mutable std::shared_ptr<const event> copy{};           // `ev` copied once for the receivers that keep it

    /// The event shared by every receiver that keeps it: the send's own shared_ptr, else one copy
    /// made by the first of them (an event too deep to copy safely is an encode_error, see check_depth).
    const std::shared_ptr<const event>& share() const {
        if (shared) return *shared;
        if (!copy) {
            check_depth(ev);
            copy = std::make_shared<const event>(ev);
        }
        return copy;
    }
};

/// Base of beacon's own composite receivers (filtered_signal's index) that take the whole
/// delivery: they count the calls and, in a robust send, report the errors of the receivers they
/// dispatch to themselves, so that each of those is a receiver of its own in send's results.
struct delivery_receiver {};

/// Base of receivers that keep events beyond the call (async_entry, an executor-bound receiver):
/// the slot calls them with a shared_ptr to the event (delivery::share), so that every such
/// receiver of one send shares one event instead of copying it.
struct sharing_receiver {};

/// Base of receivers that call later what they were given (an executor-bound receiver): connected
/// with an owner (signal::connect(receiver, owner)), they are given it by `track(weak_ptr)`, so
/// that the later call can check that the owner still lives.
struct deferred_receiver {};

/// A count of live slot copies; a sender-bound receiver's also counts in its signal's total of
/// bound receivers and in its sender's sender_bins bin.
struct slot_count {
    std::atomic<std::size_t> live{0};
    std::atomic<std::size_t>* total = nullptr;
    std::atomic<std::uint32_t>* bin = nullptr;

    void add() noexcept {
        live.fetch_add(1, std::memory_order_relaxed);
        if (total) total->fetch_add(1, std::memory_order_relaxed);
        if (bin) bin->fetch_add(1, std::memory_order_relaxed);
    }
    void remove() noexcept {
        // `live` drops last: once it reaches 0 the signal may free this count's bucket.
        if (total) total->fetch_sub(1, std::memory_order_release);
        if (bin) bin->fetch_sub(1, std::memory_order_release);
        live.fetch_sub(1, std::memory_order_release);
    }
};

/// Live sender-bound receivers, summed per hash bin of their sender: a send tells "nobody listens
/// to this sender" from one atomic load, without a lock or a map lookup, unless another sender
/// with live receivers shares the bin (then the signal looks the sender up).
class sender_bins {
public:
    /// The bin counting the receivers bound to `sender`.
    std::atomic<std::uint32_t>& bin(std::string_view sender) noexcept { return bins_[index(sender)]; }
    /// False when no receiver bound to `sender` is live; true when one may be.
    bool may_have(std::string_view sender) const noexcept {
        return bins_[index(sender)].load(std::memory_order_acquire) != 0;
    }

private:
    static constexpr int bits = 10;  // 1024 bins, 4 KiB, made with a signal's first bound receiver
    // A sender's bin from its length and its first and last 8 bytes (all of it up to 16 bytes),
    // mixed by multiplications: several times cheaper than std::hash, which would dominate a send
    // nobody listens to. Senders that differ only in their middle share a bin, which costs them
    // the exact lookup, never a wrong answer.
    static std::size_t index(std::string_view sender) noexcept {
        const std::size_t n = sender.size();
        std::uint64_t head = 0;
        std::uint64_t tail = 0;
        if (n >= 8) {
            std::memcpy(&head, sender.data(), 8);
            std::memcpy(&tail, sender.data() + n - 8, 8);
        } else if (n != 0) {
            std::memcpy(&head, sender.data(), n);
        }
        std::uint64_t h = (head ^ n) * 0x9E3779B97F4A7C15ull;
        h = ((h ^ (h >> 32)) ^ tail) * 0xC2B2AE3D27D4EB4Full;
        h ^= h >> 29;
        return static_cast<std::size_t>((h * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    }
    std::array<std::atomic<std::uint32_t>, std::size_t{1} << bits> bins_{};
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
        if constexpr (std::is_base_of_v<delivery_receiver, F>) {
            receiver_(d);
        } else {
            ++*d.calls;
            if (d.errors == nullptr) {
                if (d.results == nullptr) {
                    call(d);
                } else {
                    d.results->push_back({id_, value_of(d)});
                }
                return;
            }
            try {
                call(d);
            } catch (...) {
                d.errors->push_back({id_, boost::core::demangle(typeid(F).name()), std::current_exception()});
            }
        }
    }

private:
    void call(const delivery& d) const {
        if constexpr (std::is_base_of_v<sharing_receiver, F>) {
            receiver_(d.share());
        } else {
            std::invoke(receiver_, d.ev);
        }
    }

    // Calls the receiver and gives what it returned, for send_collect.
    nlohmann::json value_of(const delivery& d) const {
        if constexpr (std::is_base_of_v<sharing_receiver, F>) {
            call(d);
            return nullptr;
        } else {
            return call_for_value(receiver_, d.ev);
        }
    }

    mutable F receiver_;
    counted counted_;
    std::uint64_t id_;
};

}  // namespace beacon::detail
