#pragma once
// The collection behind a unit of work: resource events merged by (resource name, parent, action)
// in order of first appearance.

#include <beacon/event.hpp>

#include <cstddef>
#include <iterator>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace beacon::detail {

/// A resource event with the parent it is merged under.
struct batched_event {
    std::string parent;
    event ev;
};

/// Resource events merged by (resource name, parent, action), in order of first appearance.
class event_batch {
public:
    /// Adds `e` (which has an action) under `parent`; an earlier event with the same key keeps its
    /// payload and gets `e`'s impacted records appended.
    void add(std::string parent, event e) {
        auto [it, inserted] = index_.try_emplace(key(e.resource_name, parent, *e.action), entries_.size());
        if (inserted) {
            try {
                entries_.push_back({std::move(parent), std::move(e)});
            } catch (...) {
                index_.erase(it);  // no index entry may point past the end
                throw;
            }
            return;
        }
        auto& records = entries_[it->second].ev.impacted_records;
        records.insert(records.end(), std::make_move_iterator(e.impacted_records.begin()),
                       std::make_move_iterator(e.impacted_records.end()));
    }

    bool empty() const noexcept { return entries_.empty(); }

    /// Moves the merged events out, leaving the batch empty.
    std::vector<batched_event> take() noexcept {
        index_.clear();
        return std::exchange(entries_, {});
    }

private:
    // The resource name is length-prefixed and the action is one trailing byte, so that no two
    // different triples give the same key.
    static std::string key(const std::string& resource_name, const std::string& parent, action a) {
        std::string k = std::to_string(resource_name.size());
        k.reserve(k.size() + resource_name.size() + parent.size() + 2);
        k += ':';
        k += resource_name;
        k += parent;
        k += static_cast<char>('0' + static_cast<int>(a));
        return k;
    }

    std::vector<batched_event> entries_;
    std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace beacon::detail
