#pragma once
/// \file
/// Receivers connected to a signal through filters, with dispatch keyed on (action, resource name).

#include <beacon/connection.hpp>
#include <beacon/detail/slot.hpp>
#include <beacon/event.hpp>
#include <beacon/filter.hpp>
#include <beacon/signal.hpp>

#include <boost/core/demangle.hpp>
#include <boost/signals2/signal.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

// The index behind filtered_signal: filtered receivers filed by (action, resource name), so that a
// send visits only the receivers whose filter scope admits the event's key.
namespace beacon::detail {

/// One receiver connected through a filter. `control` is its Boost.Signals2 connection (in a
/// signal that is never emitted): it carries disconnection, blocking and lifetime tracking.
struct filtered_entry {
    std::uint64_t id;
    filter test;
    std::function<nlohmann::json(const event&)> receiver;  // gives what it returned (null for nothing)
    const std::type_info* receiver_type;                   // the type of the receiver connected
    boost::signals2::connection control;
    std::weak_ptr<void> owner;
    bool tracked;

    /// Calls the receiver if it is connected, unblocked, its owner alive and its filter passes;
    /// in a robust send, what the filter or the receiver throws is reported under this entry's id.
    void deliver(const delivery& d) const {
        if (!control.connected() || control.blocked()) return;
        std::shared_ptr<void> keep;
        if (tracked && !(keep = owner.lock())) return;
        if (d.errors == nullptr) {
            call(d);
            return;
        }
        try {
            call(d);
        } catch (...) {
            d.errors->push_back({id, boost::core::demangle(receiver_type->name()), std::current_exception()});
        }
    }

    void call(const delivery& d) const {
        if (!test(d.ev)) return;
        ++*d.calls;
        if (d.results == nullptr) {
            receiver(d.ev);
        } else {
            d.results->push_back({id, receiver(d.ev)});
        }
    }
};

using entry_list = std::vector<std::shared_ptr<const filtered_entry>>;

class filter_index {
    static void control_slot() noexcept {}

public:
    /// Connects `receiver` through `test`, files it under the keys of `test.scope()` and
    /// returns its control connection and its id.
    template <class F>
    std::pair<boost::signals2::connection, std::uint64_t> add(filter test, F&& receiver, const std::shared_ptr<void>& owner) {
        // A function pointer, not an empty lambda: g++ 12 -O2 takes Boost.Function's copy of an
        // empty functor's bytes for a read of uninitialized memory (-Werror=uninitialized).
        boost::signals2::signal<void()>::slot_type slot(&control_slot);
        if (owner) slot.track_foreign(std::weak_ptr<void>(owner));
        std::unique_lock lock(mutex_);
        auto entry = std::make_shared<filtered_entry>(
            filtered_entry{++last_id_, std::move(test), returning(std::forward<F>(receiver)), &typeid(std::decay_t<F>),
                           controls_.connect(slot), owner,
                           owner != nullptr});
        if (++adds_since_sweep_ >= 2 * entries_after_sweep_ + 16) sweep();
        const filter_scope& scope = entry->test.scope();
        for (std::size_t a = 0; a < any_action; ++a) {
            if (scope.actions != filter_scope::all_actions && (scope.actions & (1u << a)) == 0) continue;
            auto& target = rows_[scope.actions == filter_scope::all_actions ? any_action : a];
            if (!scope.resources) {
                append(target.any_resource, entry);
            } else {
                for (const auto& name : *scope.resources) append(target.by_resource[name], entry);
            }
            if (scope.actions == filter_scope::all_actions) break;
        }
        return {entry->control, entry->id};
    }

    /// Delivers `d.ev` to the receivers filed under its key, in connection order.
    void dispatch(const delivery& d) const {
        const event& e = d.ev;
        std::array<std::shared_ptr<const entry_list>, 4> lists;
        {
            std::shared_lock lock(mutex_);
            const std::size_t a = e.action ? static_cast<std::size_t>(*e.action) : no_action;
            lists = {rows_[any_action].any_resource, find(rows_[any_action], e.resource_name),
                     rows_[a].any_resource, find(rows_[a], e.resource_name)};
        }
        std::array<std::size_t, 4> next{};
        for (;;) {
            std::size_t best = lists.size();
            std::uint64_t best_id = std::numeric_limits<std::uint64_t>::max();
            for (std::size_t k = 0; k < lists.size(); ++k) {
                if (lists[k] && next[k] < lists[k]->size() && (*lists[k])[next[k]]->id < best_id) {
                    best = k;
                    best_id = (*lists[k])[next[k]]->id;
                }
            }
            if (best == lists.size()) return;
            (*lists[best])[next[best]++]->deliver(d);
        }
    }

    /// How many filtered receivers are connected.
    std::size_t size() const { return controls_.num_slots(); }

    /// How many places in the index hold a receiver, disconnected ones not yet dropped included.
    std::size_t filed() const {
        std::shared_lock lock(mutex_);
        std::size_t n = 0;
        for (const auto& r : rows_) {
            n += r.any_resource ? r.any_resource->size() : 0;
            for (const auto& [name, list] : r.by_resource) n += list->size();
        }
        return n;
    }

private:
    // The receiver as the index stores it: giving back what it returned, as JSON.
    template <class F>
    static std::function<nlohmann::json(const event&)> returning(F&& receiver) {
        return [f = std::decay_t<F>(std::forward<F>(receiver))](const event& e) mutable { return call_for_value(f, e); };
    }

    // Rows 0-3: one action each (in enum order); row 4: events without an action; row 5: any.
    static constexpr std::size_t no_action = 4;
    static constexpr std::size_t any_action = 5;

    struct row {
        std::shared_ptr<const entry_list> any_resource;
        std::map<std::string, std::shared_ptr<const entry_list>, std::less<>> by_resource;
    };

    static std::shared_ptr<const entry_list> find(const row& r, const std::string& resource) {
        const auto it = r.by_resource.find(resource);
        return it == r.by_resource.end() ? nullptr : it->second;
    }

    // Lists are copied on write, so that a send iterates a snapshot without holding the lock.
    static std::shared_ptr<entry_list> live_copy(const std::shared_ptr<const entry_list>& list) {
        auto copy = std::make_shared<entry_list>();
        if (list) {
            for (const auto& e : *list) {
                if (e->control.connected()) copy->push_back(e);
            }
        }
        return copy;
    }

    static void append(std::shared_ptr<const entry_list>& list, const std::shared_ptr<const filtered_entry>& entry) {
        auto copy = live_copy(list);
        copy->push_back(entry);
        list = std::move(copy);
    }

    // Drops disconnected receivers from every list once enough connects happened since the last
    // sweep, so that connecting and disconnecting in a loop does not grow the index.
    void sweep() {
        std::size_t kept = 0;
        for (auto& r : rows_) {
            if (r.any_resource) kept += (r.any_resource = live_copy(r.any_resource))->size();
            for (auto it = r.by_resource.begin(); it != r.by_resource.end();) {
                it->second = live_copy(it->second);
                kept += it->second->size();
                it = it->second->empty() ? r.by_resource.erase(it) : std::next(it);
            }
        }
        entries_after_sweep_ = kept;
        adds_since_sweep_ = 0;
    }

    mutable std::shared_mutex mutex_;
    std::array<row, 6> rows_;
    std::uint64_t last_id_ = 0;
    std::size_t adds_since_sweep_ = 0;
    std::size_t entries_after_sweep_ = 0;
    boost::signals2::signal<void()> controls_;
};

/// filtered_signal's one receiver on its signal: dispatches each delivery through the index.
struct filter_dispatcher : delivery_receiver {
    std::shared_ptr<const filter_index> index;
    void operator()(const delivery& d) const { index->dispatch(d); }
};

}  // namespace beacon::detail

namespace beacon {

/// Connects receivers to a signal through filters. It is one any-sender receiver of that signal
/// (connected along with its first receiver), holding an index of its receivers by (action,
/// resource name), built from each filter's scope: a send visits only the receivers whose filter
/// may pass the event's action and resource, then calls those whose filter passes, in connection
/// order.
///
/// A receiver's exception propagates out of the signal's `send` (the remaining filtered
/// receivers are not called). Under the signal's `send_robust`, every filtered receiver is called
/// and each one's exception (or its filter's) is reported under its own connection's `id()`.
/// Sends count each filtered receiver called.
class filtered_signal {
public:
    /// Listens to `target`, which must outlive this object, from the first `connect` on (so that
    /// until then sends stay lazy); destroying it disconnects everything it connected.
    explicit filtered_signal(::beacon::signal& target)
        : target_(&target), index_(std::make_shared<detail::filter_index>()) {}
    filtered_signal(const filtered_signal&) = delete;
    filtered_signal& operator=(const filtered_signal&) = delete;

    /// The signal this object listens to.
    ::beacon::signal& target() const noexcept { return *target_; }

    /// Connects `receiver` (callable with `const event&`) for the events `test` passes.
    template <class F>
    connection connect(filter test, F&& receiver) {
        return add(std::move(test), std::forward<F>(receiver), nullptr);
    }

    /// Connects `receiver` for the events `test` passes, while `owner` lives.
    template <class F, class T>
    connection connect(filter test, F&& receiver, const std::shared_ptr<T>& owner) {
        return add(std::move(test), std::forward<F>(receiver), owner);
    }

    /// Refuses `connect(receiver, filter)`: the filter comes first, as a signal's sender does.
    template <class F, class Test, class = std::enable_if_t<std::is_same_v<std::decay_t<Test>, filter>>>
    connection connect(F&&, Test&&) {
        static_assert(detail::always_false<F, Test>,
                      "beacon::filtered_signal::connect: the filter comes first: write connect(filter, receiver)");
        return {};
    }

    /// How many receivers are connected through this object.
    std::size_t receiver_count() const { return index_->size(); }

private:
    // `test` is moved into the index below; the call is type-dependent (std::forward<F>), so
    // clang-tidy does not see the move.
    template <class F>
    // NOLINTNEXTLINE(performance-unnecessary-value-param)
    connection add(filter test, F&& receiver, const std::shared_ptr<void>& owner) {
        using receiver_type = std::decay_t<F>;
        if constexpr (!detail::check_receiver<receiver_type>()) return {};
        // The dispatcher first: if connecting it throws, no receiver is left in the index.
        std::call_once(connected_, [this] { dispatcher_ = target_->connect(detail::filter_dispatcher{{}, index_}); });
        auto [control, id] = index_->add(std::move(test), std::forward<F>(receiver), owner);
        return connection(std::move(control), id);
    }

    ::beacon::signal* target_;
    std::shared_ptr<detail::filter_index> index_;
    std::once_flag connected_;
    scoped_connection dispatcher_;
};

}  // namespace beacon
