#pragma once
/// \file
/// Awaiting a signal's events (C++20 coroutines on Boost.Asio): `co_await beacon::asio::next(s)`, or
/// one after another through a `beacon::asio::waiter`.

#include <beacon/asio/detail/coroutines.hpp>  // first: before any Asio header

#include <beacon/connection.hpp>
#include <beacon/detail/slot.hpp>
#include <beacon/event.hpp>
#include <beacon/filter.hpp>
#include <beacon/signal.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#if !defined(BOOST_ASIO_HAS_CO_AWAIT)
#error "<beacon/asio/awaitable.hpp> needs C++20 coroutines (-std=c++20), and on clang to be included before any Boost.Asio header (or BOOST_ASIO_HAS_CO_AWAIT and BOOST_ASIO_HAS_STD_COROUTINE defined)"
#endif

#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace beacon::asio {

/// Which event to wait for, and for how long.
struct next_options {
    std::optional<std::string> sender;  ///< Only events from this sender (none: any sender).
    std::optional<beacon::filter> filter;  ///< Only events this filter passes (none: every event).
    /// How long to wait before completing with `boost::asio::error::timed_out` (max: no limit).
    std::chrono::steady_clock::duration timeout = std::chrono::steady_clock::duration::max();
};

namespace detail {

/// What a waiter shares with its receiver: the events taken and not yet awaited, and the timer
/// that wakes the waiting coroutine. Every use of the timer holds the mutex: the receiver's wake
/// and the wait may run on two threads of one io_context.
struct waiter_state {
    explicit waiter_state(std::size_t room) : capacity(room) {}

    std::mutex mutex;
    std::deque<std::shared_ptr<const event>> events;  // taken, not yet awaited, oldest first
    std::size_t capacity;
    std::uint64_t dropped = 0;                    // events not taken: the queue was full
    std::optional<boost::asio::steady_timer> timer;  // made by the first wait, on its executor
    bool pending = false;                          // a wait has begun and not completed
    bool waiting = false;                          // that wait needs a wake: no event came yet
};

/// The receiver of a waiter: queues the events the filter passes, and wakes a pending wait.
class waiter_receiver : public beacon::detail::sharing_receiver {
public:
    waiter_receiver(std::weak_ptr<waiter_state> state, std::optional<beacon::filter> filter)
        : state_(std::move(state)), filter_(std::move(filter)) {}

    /// Takes a copy of `e` (a direct call, outside any signal).
    void operator()(const event& e) const {
        check_depth(e);
        (*this)(std::make_shared<const event>(e));
    }

    /// What a signal calls: queues `e` (shared) when the filter passes it and the queue has room.
    void operator()(const std::shared_ptr<const event>& e) const {
        const auto state = state_.lock();
        if (!state || !e || (filter_ && !(*filter_)(*e))) return;
        {
            const std::lock_guard lock(state->mutex);
            if (state->events.size() >= state->capacity) {
                ++state->dropped;
                return;
            }
            state->events.push_back(e);
            if (!state->waiting) return;
            state->waiting = false;  // one wake per wait
        }
        // The timer is cancelled on its own executor, as a wait's handler runs there (made before
        // the wait that was waiting: read without the lock). Posted unlocked: the wake that runs it
        // must not find the mutex held.
        boost::asio::post(state->timer->get_executor(), [state] {
            const std::lock_guard timer_lock(state->mutex);
            state->timer->cancel();
        });
    }

private:
    std::weak_ptr<waiter_state> state_;
    std::optional<beacon::filter> filter_;
};

/// Waits on the timer of `state` (its mutex held) until an event is queued or the timer expires.
template <class Handler>
void wait_for_event(const std::shared_ptr<waiter_state>& state, Handler&& handler) {
    state->timer->async_wait([state, handler = std::forward<Handler>(handler)](boost::system::error_code ec) mutable {
        std::unique_lock lock(state->mutex);
        if (!state->events.empty()) {
            auto e = std::move(state->events.front());
            state->events.pop_front();
            state->pending = state->waiting = false;
            lock.unlock();
            std::move(handler)(boost::system::error_code(), std::move(e));
        } else if (ec == boost::asio::error::operation_aborted) {
            wait_for_event(state, std::move(handler));  // a wake meant for an earlier wait: wait on
        } else {
            state->pending = state->waiting = false;
            lock.unlock();
            std::move(handler)(ec ? ec : boost::system::error_code(boost::asio::error::timed_out), nullptr);
        }
    });
}

/// What one wait of a waiter needs, in the awaiting coroutine's frame. Asio 1.74's use_awaitable
/// hands the arguments of an initiation to a coroutine by value, which g++ 12 mishandles for types
/// with a destructor (freed twice): the initiation gets this by pointer.
struct wait_request {
    boost::asio::any_io_executor executor;
    std::shared_ptr<waiter_state> state;
    std::chrono::steady_clock::duration timeout;
};

/// Starts the wait of `request` (see waiter::next).
struct initiate_wait {
    template <class Handler>
    void operator()(Handler&& handler, wait_request* request) const {
        const auto& state = request->state;
        const std::lock_guard lock(state->mutex);
        if (state->pending) {  // another coroutine waits on this waiter
            boost::asio::post(request->executor,
                              [handler = std::forward<Handler>(handler)]() mutable {
                                  std::move(handler)(boost::asio::error::already_started, nullptr);
                              });
            return;
        }
        if (!state->timer) state->timer.emplace(request->executor);
        const auto now = std::chrono::steady_clock::now();
        if (request->timeout >= std::chrono::steady_clock::time_point::max() - now) {
            state->timer->expires_at(std::chrono::steady_clock::time_point::max());
        } else {
            state->timer->expires_at(now + request->timeout);
        }
        wait_for_event(state, std::forward<Handler>(handler));
        state->pending = true;
        if (state->events.empty()) {
            state->waiting = true;
        } else {
            state->timer->cancel();  // an event came since the last wait: taken at once
        }
    }
};

}  // namespace detail

/// A coroutine's subscription to a signal: `beacon::asio::waiter w(s); for (;;) { auto e = co_await
/// w.next(); ... }`. Connected from construction to destruction, it queues the events `options`
/// select (up to `capacity`; beyond, they are dropped and counted), so that none is missed between
/// two waits, and shares them (never copied again). Keep it in the coroutine's frame: destroying
/// the coroutine (its io_context destroyed) disconnects it.
class waiter {
public:
    /// Connects to `s`: events from `options.sender` (none: any sender) that `options.filter`
    /// passes are queued; `options.timeout` bounds each wait.
    explicit waiter(beacon::signal& s, next_options options = {}, std::size_t capacity = 1024)
        : state_(std::make_shared<detail::waiter_state>(capacity == 0 ? 1 : capacity)),
          timeout_(options.timeout) {
        detail::waiter_receiver receiver(state_, std::move(options.filter));
        if (options.sender) {
            connection_ = s.connect(*options.sender, std::move(receiver));
        } else {
            connection_ = s.connect(std::move(receiver));
        }
    }

    waiter(const waiter&) = delete;
    waiter& operator=(const waiter&) = delete;

    /// In a coroutine: the oldest queued event, or the next to come. The wait runs on the
    /// coroutine's executor (a strand's, if the io_context has several threads); after the timeout
    /// it throws boost::system::system_error (`timed_out`); `already_started` if another coroutine
    /// waits on this waiter.
    boost::asio::awaitable<std::shared_ptr<const event>> next() {
        {
            const std::lock_guard lock(state_->mutex);
            if (!state_->events.empty() && !state_->pending) {
                auto e = std::move(state_->events.front());
                state_->events.pop_front();
                co_return e;
            }
        }
        // No temporary with a destructor in a co_await expression: g++ 12 destroys those twice.
        const auto executor = co_await boost::asio::this_coro::executor;
        detail::wait_request request{executor, state_, timeout_};
        co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                       void(boost::system::error_code, std::shared_ptr<const event>)>(
            detail::initiate_wait{}, boost::asio::use_awaitable, &request);
    }

    /// How many events are queued, not yet awaited.
    [[nodiscard]] std::size_t queued() const {
        const std::lock_guard lock(state_->mutex);
        return state_->events.size();
    }

    /// How many events were dropped because the queue was full.
    [[nodiscard]] std::uint64_t dropped() const {
        const std::lock_guard lock(state_->mutex);
        return state_->dropped;
    }

private:
    std::shared_ptr<detail::waiter_state> state_;
    std::chrono::steady_clock::duration timeout_;
    scoped_connection connection_;  // last: disconnected first
};

/// In a coroutine: `auto e = co_await beacon::asio::next(s)`: the next event of `s` that `options`
/// select, shared with the signal's other receivers (never copied again). It waits on the
/// coroutine's executor; after `options.timeout` it throws boost::system::system_error
/// (`boost::asio::error::timed_out`). The receiver it connects is disconnected when the wait ends,
/// and when the waiting coroutine is destroyed (its io_context destroyed). To await events one
/// after another without missing any in between, keep a waiter.
inline boost::asio::awaitable<std::shared_ptr<const event>> next(beacon::signal& s, next_options options) {
    waiter w(s, std::move(options), 1);
    // cppcheck-suppress missingReturn ; a coroutine: co_return is its return
    co_return co_await w.next();
}

/// In a coroutine: `auto e = co_await beacon::asio::next(s)`: the next event of `s`, from any
/// sender, without a timeout (see next(s, options)). An overload, not a default argument: g++ 12
/// destroys the temporaries of a co_await expression twice.
inline boost::asio::awaitable<std::shared_ptr<const event>> next(beacon::signal& s) {
    return next(s, next_options());
}

}  // namespace beacon::asio
