#pragma once
/// \file
/// Awaiting a signal's next event (C++20 coroutines on Boost.Asio): `co_await beacon::asio::next(s)`.

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

/// One wait: a timer on the waiter's executor that an event (or the timeout) ends, the event that
/// came, and the receiver's connection. The timer's pending wait owns it; the receiver only
/// watches it, so that when the wait is destroyed unfinished (its io_context destroyed), the
/// connection goes with it.
struct next_wait {
    template <class Executor>
    explicit next_wait(const Executor& executor) : timer(executor) {}

    boost::asio::steady_timer timer;
    std::mutex mutex;
    std::shared_ptr<const event> got;  // the event that ended the wait
    bool done = false;                 // the wait completed: later events are not taken
    scoped_connection connection;
};

/// The receiver of one wait: takes the first event the filter passes, then wakes the waiter.
class next_receiver : public beacon::detail::sharing_receiver {
public:
    next_receiver(std::weak_ptr<next_wait> wait, std::optional<beacon::filter> filter)
        : wait_(std::move(wait)), filter_(std::move(filter)) {}

    /// Takes a copy of `e` (a direct call, outside any signal).
    void operator()(const event& e) const {
        check_depth(e);
        (*this)(std::make_shared<const event>(e));
    }

    /// What a signal calls: takes `e` (shared) when it is the first event passing the filter.
    void operator()(const std::shared_ptr<const event>& e) const {
        const auto wait = wait_.lock();
        if (!wait || !e || (filter_ && !(*filter_)(*e))) return;
        {
            const std::lock_guard lock(wait->mutex);
            if (wait->done || wait->got) return;
            wait->got = e;
        }
        // The timer is cancelled on its own executor: a timer is not safe to use from two threads.
        boost::asio::post(wait->timer.get_executor(), [wait] { wait->timer.cancel(); });
    }

private:
    std::weak_ptr<next_wait> wait_;
    std::optional<beacon::filter> filter_;
};

/// What one `next` waits for, in the awaiting coroutine's frame. Asio 1.74's use_awaitable hands
/// the arguments of an initiation to a coroutine by value, which g++ 12 mishandles for types with
/// a destructor (freed twice): the initiation gets this by pointer.
struct next_request {
    boost::asio::any_io_executor executor;
    beacon::signal* s;
    next_options options;
};

/// Starts the wait of `request` (see next).
struct initiate_next {
    template <class Handler>
    void operator()(Handler&& handler, next_request* request) const {
        auto wait = std::make_shared<next_wait>(request->executor);
        const auto now = std::chrono::steady_clock::now();
        const auto timeout = request->options.timeout;
        if (timeout >= std::chrono::steady_clock::time_point::max() - now) {
            wait->timer.expires_at(std::chrono::steady_clock::time_point::max());
        } else {
            wait->timer.expires_at(now + timeout);
        }
        // The wait starts before the receiver is connected: an event cancels a timer already waiting.
        wait->timer.async_wait([wait, handler = std::forward<Handler>(handler)](boost::system::error_code ec) mutable {
            std::shared_ptr<const event> got;
            scoped_connection connection;  // disconnects when this returns
            {
                const std::lock_guard lock(wait->mutex);
                wait->done = true;
                got = std::move(wait->got);
                connection = std::move(wait->connection);
            }
            connection.disconnect();
            if (got) {
                std::move(handler)(boost::system::error_code(), std::move(got));
            } else {
                std::move(handler)(ec ? ec : boost::system::error_code(boost::asio::error::timed_out), nullptr);
            }
        });
        next_receiver receiver(wait, std::move(request->options.filter));
        auto& s = *request->s;
        scoped_connection connection;
        if (request->options.sender) {
            connection = s.connect(*request->options.sender, std::move(receiver));
        } else {
            connection = s.connect(std::move(receiver));
        }
        const std::lock_guard lock(wait->mutex);
        if (!wait->done) wait->connection = std::move(connection);  // else: disconnected on return
    }
};

}  // namespace detail

/// In a coroutine: `auto e = co_await beacon::asio::next(s)`: the next event of `s` that `options`
/// select, shared with the signal's other receivers (never copied again). It waits on the
/// coroutine's executor; after `options.timeout` it throws boost::system::system_error
/// (`boost::asio::error::timed_out`). The receiver it connects is disconnected when the wait ends,
/// and when the waiting coroutine is destroyed (its io_context destroyed).
inline boost::asio::awaitable<std::shared_ptr<const event>> next(beacon::signal& s, next_options options) {
    // No temporary with a destructor in a co_await expression: g++ 12 destroys those twice.
    const auto executor = co_await boost::asio::this_coro::executor;
    detail::next_request request{executor, &s, std::move(options)};
    co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&,
                                                   void(boost::system::error_code, std::shared_ptr<const event>)>(
        detail::initiate_next{}, boost::asio::use_awaitable, &request);
}

/// In a coroutine: `auto e = co_await beacon::asio::next(s)`: the next event of `s`, from any
/// sender, without a timeout (see next(s, options)). An overload, not a default argument: g++ 12
/// destroys the temporaries of a co_await expression twice.
inline boost::asio::awaitable<std::shared_ptr<const event>> next(beacon::signal& s) {
    return next(s, next_options());
}

}  // namespace beacon::asio
