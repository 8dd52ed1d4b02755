#pragma once
/// \file
/// A bounded memory of event ids: the last N ids seen, to tell an event delivered again (a
/// redelivery after a crash, a retried publish) from a new one.

#include <beacon/event_id.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace beacon {

/// The last `capacity()` event ids inserted, oldest forgotten first: `insert` tells whether an id
/// is in the window and adds it, in O(1), without allocating after construction (a ring of the
/// ids and an open-addressing table of their positions: about 24 bytes per id of capacity).
/// The nil id is never in the window (an event without an id is never taken for a duplicate).
/// Thread-safe: every call takes one mutex.
class id_window {
public:
    /// The capacity of the consumers' window by default.
    static constexpr std::size_t default_capacity = 4096;

    /// A window of the last `capacity` ids (0: remembers nothing; at most 2^30).
    explicit id_window(std::size_t capacity = default_capacity)
        : ring_(capacity < max_capacity ? capacity : max_capacity), slots_(table_size(ring_.size()), 0), mask_(slots_.size() - 1) {}

    /// Whether `id` is in the window (false for nil).
    bool contains(const event_id& id) const {
        if (id.is_nil()) return false;
        const std::lock_guard lock(mutex_);
        return find(id) != npos;
    }

    /// Adds `id` (forgetting the oldest id when full) and returns true; returns false, changing
    /// nothing, when `id` is already in the window. Nil is never added (returns true).
    bool insert(const event_id& id) {
        if (id.is_nil() || ring_.empty()) return true;
        const std::lock_guard lock(mutex_);
        if (find(id) != npos) return false;
        if (size_ == ring_.size()) {
            erase(find(ring_[next_]));  // the oldest
        } else {
            ++size_;
        }
        ring_[next_] = id;
        std::size_t at = home(id);
        while (slots_[at] != 0) at = (at + 1) & mask_;
        slots_[at] = static_cast<std::uint32_t>(next_ + 1);
        next_ = next_ + 1 == ring_.size() ? 0 : next_ + 1;
        return true;
    }

    /// Forgets every id.
    void clear() {
        const std::lock_guard lock(mutex_);
        std::fill(slots_.begin(), slots_.end(), 0);
        size_ = 0;
        next_ = 0;
    }

    /// How many ids the window holds.
    std::size_t size() const {
        const std::lock_guard lock(mutex_);
        return size_;
    }
    /// How many ids it holds at most.
    std::size_t capacity() const noexcept { return ring_.size(); }

private:
    static constexpr std::size_t max_capacity = std::size_t(1) << 30;
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    // A power of two at least twice the capacity (a load of at most one half).
    static std::size_t table_size(std::size_t capacity) {
        std::size_t n = 2;
        while (n < 2 * capacity) n *= 2;
        return n;
    }

    std::size_t home(const event_id& id) const noexcept { return std::hash<event_id>()(id) & mask_; }

    // The table slot holding `id`, or npos.
    std::size_t find(const event_id& id) const noexcept {
        if (ring_.empty()) return npos;
        for (std::size_t at = home(id); slots_[at] != 0; at = (at + 1) & mask_) {
            if (ring_[slots_[at] - 1] == id) return at;
        }
        return npos;
    }

    // Empties slot `hole`, moving back the entries of its probe run that would no longer be found
    // (linear probing's backward-shift deletion: no tombstones).
    void erase(std::size_t hole) noexcept {
        slots_[hole] = 0;
        for (std::size_t at = (hole + 1) & mask_; slots_[at] != 0; at = (at + 1) & mask_) {
            const std::size_t wanted = home(ring_[slots_[at] - 1]);
            // Stays when its home lies cyclically in (hole, at].
            const bool stays = hole <= at ? (hole < wanted && wanted <= at) : (hole < wanted || wanted <= at);
            if (stays) continue;
            slots_[hole] = slots_[at];
            slots_[at] = 0;
            hole = at;
        }
    }

    mutable std::mutex mutex_;
    std::vector<event_id> ring_;          // the ids, ring_[next_] the oldest once full
    std::vector<std::uint32_t> slots_;    // position in ring_ + 1; 0: empty
    std::size_t mask_;
    std::size_t size_ = 0;
    std::size_t next_ = 0;
};

}  // namespace beacon
