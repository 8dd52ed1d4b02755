#pragma once
/// \file
/// Units of work (Kinto's per-request events): resource events noted while one is open are merged
/// by (resource name, parent, action) and sent around the host's storage commit.

#include <beacon/connection.hpp>
#include <beacon/detail/event_batch.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/registry.hpp>
#include <beacon/signal.hpp>

#include <boost/core/demangle.hpp>
#include <boost/signals2/signal.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace beacon {

/// The parent of the resource at the REST-shaped `uri` `/<plural>/<id>/<plural>/<id>...`: the uri
/// of the object holding it ("/buckets/b/collections/c" for ".../c/records/r" and ".../c/records";
/// "" for "/buckets/b" and "/buckets"). Trailing and doubled slashes are ignored.
inline std::string parent_uri(std::string_view uri) {
    std::vector<std::size_t> segment_ends;
    for (std::size_t i = 0; i < uri.size(); ++i) {
        if (uri[i] != '/' && (i + 1 == uri.size() || uri[i + 1] == '/')) segment_ends.push_back(i + 1);
    }
    const std::size_t n = segment_ends.size();
    const std::size_t kept = n % 2 == 0 ? n - std::min<std::size_t>(n, 2) : n - 1;
    return kept == 0 ? std::string() : std::string(uri.substr(0, segment_ends[kept - 1]));
}

class unit_of_work;

/// Notes resource events into the calling thread's unit of work, or sends them at once when none
/// is open; holds what every unit of work of a host shares: the signals, the after-commit failure
/// handler and the after-commit batch observers. Thread-safe; must outlive its units of work.
class resource_notifier {
public:
    /// Looks up `resource_changed`, `resource_read`, `after_resource_changed` and
    /// `after_resource_read` in `reg.core()` (unknown_signal_error if core is sealed without them).
    /// An after-commit receiver or observer that throws is reported to `on_failure` as a
    /// `failure` of part::unit_of_work (empty: the process-wide sink, see set_failure_sink).
    explicit resource_notifier(registry& reg, failure_handler on_failure = {})
        : resource_changed_(&reg.core().signal("resource_changed")),
          resource_read_(&reg.core().signal("resource_read")),
          after_resource_changed_(&reg.core().signal("after_resource_changed")),
          after_resource_read_(&reg.core().signal("after_resource_read")),
          on_failure_(std::move(on_failure)) {}
    resource_notifier(const resource_notifier&) = delete;
    resource_notifier& operator=(const resource_notifier&) = delete;

    /// Notes `e` under the parent `parent_uri(e.uri)`; see the two-argument overload.
    void notify(event e);
    /// Notes `e` under `parent` in the calling thread's innermost unit of work of this notifier
    /// that has not closed yet; with none, sends it at once as a unit of work of its own
    /// (before-commit signal, then after-commit signal). Throws unit_of_work_error if `e` has no
    /// action, or if that unit of work is prepared (sent before commit, not yet committed).
    void notify(event e, std::string parent);

    /// The calling thread's innermost unit of work of this notifier that has not closed yet
    /// (open, sending or prepared), or nullptr.
    unit_of_work* current() const;

    /// Connects `observer` (callable with `const std::vector<event>&`): after each successful
    /// commit with events, it gets all the merged after-commit events at once, after the
    /// after-commit signals. Its exceptions are reported as failures whose `where` is
    /// "after-commit observer" and whose `ev` is null.
    template <class F>
    connection on_after_commit(F&& observer) {
        using observer_type = std::decay_t<F>;
        static_assert(std::is_invocable_v<observer_type&, const std::vector<event>&>,
                      "beacon::resource_notifier::on_after_commit: the observer must be callable with "
                      "(const std::vector<beacon::event>&)");
        const std::uint64_t id = next_observer_id_.fetch_add(1, std::memory_order_relaxed) + 1;
        auto guarded = [this, id, f = observer_type(std::forward<F>(observer))](const std::vector<event>& batch) mutable {
            try {
                std::invoke(f, batch);
            } catch (...) {
                report({part::unit_of_work, "after-commit observer",
                        receiver_name(id, boost::core::demangle(typeid(observer_type).name())), nullptr,
                        std::current_exception()},
                       on_failure_);
            }
        };
        return connection(observers_.connect(std::move(guarded)), id);
    }

private:
    friend class unit_of_work;

    signal& before_commit_signal(action a) const noexcept {
        return a == action::read ? *resource_read_ : *resource_changed_;
    }

    // The after-commit phase: every receiver and observer is called, exceptions are reported.
    void deliver_after_commit(std::vector<event>& events) {
        for (auto& e : events) {
            signal& s = *e.action == action::read ? *after_resource_read_ : *after_resource_changed_;
            s.stamp(e);  // the observers see the events the receivers saw, ids and all
            for (auto& thrown : s.send_robust(e)) {
                report({part::unit_of_work, s.namespace_name() + "." + s.name(),
                        receiver_name(thrown.receiver_id, thrown.receiver_type), &e, std::move(thrown.exception)},
                       on_failure_);
            }
        }
        if (!events.empty()) observers_(events);
    }

    // How a failure names a receiver or observer: "#<id> (<type>)".
    static std::string receiver_name(std::uint64_t id, const std::string& type) {
        return "#" + std::to_string(id) + " (" + type + ")";
    }

    // The open units of work of each thread, innermost last. Kept here rather than in a
    // thread_local so that a plugin in a shared library with hidden visibility sees them too.
    void register_unit(std::thread::id thread, unit_of_work* unit) {
        std::lock_guard lock(units_mutex_);
        open_units_[thread].push_back(unit);
    }

    void unregister_unit(std::thread::id thread, const unit_of_work* unit) noexcept {
        std::lock_guard lock(units_mutex_);
        const auto it = open_units_.find(thread);
        if (it == open_units_.end()) return;
        auto& units = it->second;
        const auto found = std::find(units.rbegin(), units.rend(), unit);
        if (found != units.rend()) units.erase(std::next(found).base());
        if (units.empty()) open_units_.erase(it);
    }

    signal* resource_changed_;
    signal* resource_read_;
    signal* after_resource_changed_;
    signal* after_resource_read_;
    failure_handler on_failure_;
    mutable std::mutex units_mutex_;
    std::unordered_map<std::thread::id, std::vector<unit_of_work*>> open_units_;
    std::atomic<std::uint64_t> next_observer_id_{0};
    boost::signals2::signal<void(const std::vector<event>&)> observers_;
};

/// Kinto's per-request event collection: while it is open, the resource events noted on its
/// thread are merged by (resource name, parent, action); `commit` sends them before and after
/// the host's storage commit. It belongs to the thread that opened it: only that thread's
/// notifications go to it, and only that thread may commit or roll it back. Destroying it
/// without commit rolls it back.
class unit_of_work {
public:
    /// Where a unit of work is in its life.
    enum class state {
        open,         ///< Collecting events.
        sending,      ///< before_commit() is sending; receivers' events go to the next round.
        prepared,     ///< Sent before commit; waiting for after_commit() or rollback().
        committed,    ///< after_commit() ran (or is running).
        rolled_back,  ///< Rolled back or destroyed without commit: nothing sent after commit.
        failed,       ///< A before-commit receiver or the storage commit threw.
    };

    /// The name of a state ("open", "sending", ...).
    static constexpr std::string_view to_string(state s) noexcept {
        constexpr std::string_view names[] = {"open", "sending", "prepared", "committed", "rolled back", "failed"};
        return names[static_cast<std::size_t>(s)];
    }

    /// Cascades deeper than this many rounds of before-commit sends are an error (a receiver
    /// that notifies an event for every event it gets would otherwise never let the commit end).
    static constexpr std::size_t max_cascade_rounds = 100;

    /// Opens a unit of work on the calling thread: `notifier.notify` collects into it until it closes.
    explicit unit_of_work(resource_notifier& notifier)
        : notifier_(&notifier), owner_(std::this_thread::get_id()) {
        notifier_->register_unit(owner_, this);
    }
    unit_of_work(const unit_of_work&) = delete;
    unit_of_work& operator=(const unit_of_work&) = delete;

    /// Rolls back if neither committed nor rolled back.
    ~unit_of_work() {
        if (state_ == state::open || state_ == state::prepared) close(state::rolled_back);
        else close(state_);
    }

    /// Notes `e` under the parent `parent_uri(e.uri)`; see the two-argument overload.
    void notify(event e) {
        std::string parent = parent_uri(e.uri);
        notify(std::move(e), std::move(parent));
    }

    /// Notes `e` (its timestamp set to now if 0) under `parent`: merged into an earlier event
    /// with the same resource name, parent and action, whose payload is kept and whose impacted
    /// records get `e`'s appended. While before_commit() sends, `e` goes to the next round.
    void notify(event e, std::string parent) {
        check_thread("notify()");
        if (state_ != state::open && state_ != state::sending) {
            throw unit_of_work_error("unit_of_work::notify(): the unit of work is " + std::string(to_string(state_)) +
                                     "; events can only be noted until before_commit() has sent them");
        }
        if (!e.action) {
            throw unit_of_work_error("unit_of_work::notify(): the event from \"" + e.sender + "\" at uri \"" + e.uri +
                                     "\" has no action (a resource event is a create, update, delete or read)");
        }
        if (e.timestamp == 0) e.timestamp = event::now_ms();  // ids are stamped per phase, at each send
        pending_.add(std::move(parent), std::move(e));
    }

    /// Sends each merged event on `resource_changed` or `resource_read` (reads); then, round after
    /// round, the events receivers notified meanwhile (merged within their round only). A
    /// receiver's exception propagates and the unit of work fails: the host must roll back.
    void before_commit() {
        require("before_commit()", state::open);
        state_ = state::sending;
        try {
            for (std::size_t round = 1; !pending_.empty(); ++round) {
                if (round > max_cascade_rounds) {
                    throw unit_of_work_error("unit_of_work::before_commit(): receivers still notify events after " +
                                             std::to_string(max_cascade_rounds) +
                                             " rounds of cascade (does a receiver notify an event for every event?)");
                }
                for (auto& item : pending_.take()) {
                    notifier_->before_commit_signal(*item.ev.action).send(item.ev);
                    sent_.push_back(std::move(item));
                }
            }
        } catch (...) {
            close(state::failed);
            throw;
        }
        state_ = state::prepared;
    }

    /// After the host's storage commit: closes the unit of work, merges every event sent before
    /// commit (cascades included) by resource name, parent and action, sends each on
    /// `after_resource_changed` or `after_resource_read` to every receiver, reporting exceptions
    /// to the error handler, then calls the batch observers once with all of them.
    void after_commit() {
        require("after_commit()", state::prepared);
        close(state::committed);
        detail::event_batch merged;
        for (auto& item : sent_) merged.add(std::move(item.parent), std::move(item.ev));
        sent_.clear();
        std::vector<event> events;
        for (auto& item : merged.take()) events.push_back(std::move(item.ev));
        notifier_->deliver_after_commit(events);
    }

    /// before_commit(), then `storage_commit()`, then after_commit(). If `storage_commit` throws,
    /// the unit of work fails, nothing is sent after commit and the exception propagates.
    template <class F>
    void commit(F&& storage_commit) {
        before_commit();
        try {
            std::invoke(std::forward<F>(storage_commit));
        } catch (...) {
            close(state::failed);
            throw;
        }
        after_commit();
    }

    /// before_commit() then after_commit(), for a host without storage to commit.
    void commit() {
        before_commit();
        after_commit();
    }

    /// Discards what is collected: nothing is sent after commit. Events already sent before
    /// commit stay sent. Allowed when open, prepared, failed or already rolled back.
    void rollback() {
        check_thread("rollback()");
        if (state_ == state::committed || state_ == state::sending) {
            throw unit_of_work_error("unit_of_work::rollback(): the unit of work is " +
                                     std::string(to_string(state_)) + "; it can no longer be rolled back");
        }
        pending_.take();
        sent_.clear();
        close(state::rolled_back);
    }

    /// Where the unit of work is in its life.
    state status() const noexcept { return state_; }

private:
    void check_thread(std::string_view where) const {
        if (owner_ == std::this_thread::get_id()) return;
        std::ostringstream message;
        message << "unit_of_work::" << where << ": the unit of work belongs to thread " << owner_
                << ", which opened it; called from thread " << std::this_thread::get_id();
        throw unit_of_work_error(message.str());
    }

    void require(std::string_view where, state expected) const {
        check_thread(where);
        if (state_ != expected) {
            throw unit_of_work_error("unit_of_work::" + std::string(where) + ": the unit of work is " +
                                     std::string(to_string(state_)) + " (it must be " +
                                     std::string(to_string(expected)) + ")");
        }
    }

    // Sets the final state and stops collecting: later notifications on this thread go to an
    // enclosing unit of work, or are sent at once.
    void close(state final_state) noexcept {
        state_ = final_state;
        notifier_->unregister_unit(owner_, this);
    }

    resource_notifier* notifier_;
    std::thread::id owner_;
    state state_ = state::open;
    detail::event_batch pending_;
    std::vector<detail::batched_event> sent_;
};

inline unit_of_work* resource_notifier::current() const {
    std::lock_guard lock(units_mutex_);
    const auto it = open_units_.find(std::this_thread::get_id());
    return it == open_units_.end() ? nullptr : it->second.back();
}

inline void resource_notifier::notify(event e) {
    std::string parent = parent_uri(e.uri);
    notify(std::move(e), std::move(parent));
}

inline void resource_notifier::notify(event e, std::string parent) {
    if (auto* open = current()) return open->notify(std::move(e), std::move(parent));
    unit_of_work own(*this);
    own.notify(std::move(e), std::move(parent));
    own.commit();
}

}  // namespace beacon
