#pragma once
/// \file
/// Receivers bound to an Asio executor: a send posts the call to the executor and returns.

#include <beacon/asio/detail/coroutines.hpp>  // first: before any Asio header

#include <beacon/detail/slot.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>

#include <boost/asio/execution/executor.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/core/demangle.hpp>

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#endif

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>

/// Receivers on the host's Asio executors, and signals a coroutine awaits.
namespace beacon::asio {

namespace detail {

/// Whether `E` is an Asio executor: the standard executor concept (io_context's, a strand,
/// thread_pool's, any_io_executor) or the older Networking TS one.
template <class E>
inline constexpr bool is_executor_v =
    boost::asio::execution::is_executor<E>::value || boost::asio::is_executor<E>::value;

/// Whether `C` is an Asio execution context (io_context, thread_pool), whose executor a receiver
/// may be bound to.
template <class C>
inline constexpr bool is_context_v = std::is_convertible_v<C&, boost::asio::execution_context&>;

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
template <class R>
inline constexpr bool is_awaitable_v = false;
template <class T, class E>
inline constexpr bool is_awaitable_v<boost::asio::awaitable<T, E>> = true;
#else
template <class R>
inline constexpr bool is_awaitable_v = false;
#endif

/// Checks a receiver to bind to an executor: callable with `const event&`, returning nothing or
/// (C++20) a `boost::asio::awaitable`, run as a coroutine.
template <class F>
constexpr bool check_bound_receiver() {
    constexpr bool takes = std::is_invocable_v<F&, const event&>;
    static_assert(takes, "beacon::asio::on: the receiver must be callable with (const beacon::event&)");
    if constexpr (takes) {
        using result = std::invoke_result_t<F&, const event&>;
        constexpr bool ok = std::is_void_v<result> || is_awaitable_v<result>;
        static_assert(ok, "beacon::asio::on: the receiver returns nothing, or (C++20) a boost::asio::awaitable "
                          "to run as a coroutine; a value it returned would be lost");
        return ok;
    } else {
        return false;
    }
}

/// What the calls posted by one connected receiver share: the receiver, its name for failures,
/// whether it is still connected, and the owner it is tracked by.
template <class F>
struct bound_state {
    bound_state(F f, std::string n) : receiver(std::move(f)), name(std::move(n)) {}
    F receiver;
    std::string name;
    std::atomic<bool> live{true};  // false once the receiver is disconnected (its slot destroyed)
    std::weak_ptr<void> owner;     // the tracked owner (signal::connect(receiver, owner))
    bool tracked = false;
};

}  // namespace detail

/// A receiver bound to an executor (made by `on`): each event it gets is shared with a call
/// posted to the executor, and the send returns. Connect it as any receiver: to every sender or to
/// one, tracked by an owner, blocked, muted, disconnected (blocking and muting act on sends, as for
/// any receiver: a call already posted still runs). A call posted before a disconnect (or before
/// the owner expired) and not yet run is skipped, unless the disconnect raced with the send that
/// posted it, as with Boost.Signals2's own calls. An exception the receiver throws is reported as a
/// failure of part `asio` (where: the event's type) and goes no further. The executor's context
/// must outlive the connection: disconnect (or destroy the signal) before destroying it.
template <class Executor, class F>
class executor_receiver : public beacon::detail::sharing_receiver, public beacon::detail::deferred_receiver {
public:
    /// Binds `receiver` to `executor`.
    executor_receiver(Executor executor, F receiver)
        : executor_(std::move(executor)),
          state_(std::make_shared<state>(std::move(receiver), boost::core::demangle(typeid(F).name()))) {}

    /// A receiver of its own, with `other`'s receiver, executor and owner: a connected copy (the
    /// one a signal keeps) marks its posted calls dead when it is destroyed (its disconnect).
    executor_receiver(const executor_receiver& other)
        : executor_(other.executor_),
          state_(other.state_ ? std::make_shared<state>(other.state_->receiver, other.state_->name) : nullptr) {
        if (state_) {
            state_->owner = other.state_->owner;
            state_->tracked = other.state_->tracked;
        }
    }
    /// Takes over `other`'s receiver and posted calls; `other` is left empty.
    executor_receiver(executor_receiver&&) noexcept = default;
    executor_receiver& operator=(const executor_receiver&) = delete;
    executor_receiver& operator=(executor_receiver&&) = delete;
    ~executor_receiver() {
        if (state_) state_->live.store(false, std::memory_order_release);
    }

    /// What a signal calls: posts the call with `e`, shared (never copied).
    void operator()(const std::shared_ptr<const event>& e) const {
        if (e) post(e);
    }

    /// Posts the call with a copy of `e` (a direct call, outside any signal).
    void operator()(const event& e) const {
        check_depth(e);
        post(std::make_shared<const event>(e));
    }

    /// Records the owner the receiver is connected with (signal::connect(receiver, owner)): a
    /// posted call whose owner has expired is skipped, and the owner lives while the call runs.
    void track(const std::weak_ptr<void>& owner) {
        state_->owner = owner;
        state_->tracked = true;
    }

    /// The executor the calls are posted to.
    const Executor& executor() const noexcept { return executor_; }

private:
    using state = detail::bound_state<F>;

    void post(std::shared_ptr<const event> e) const {
        if constexpr (detail::is_awaitable_v<std::invoke_result_t<F&, const event&>>) {
            boost::asio::post(executor_, [s = state_, e = std::move(e), ex = executor_] { spawn(s, e, ex); });
        } else {
            boost::asio::post(executor_, [s = state_, e = std::move(e)] { run(*s, e); });
        }
    }

    // Whether the posted call may run: the receiver is still connected and its owner (if tracked)
    // lives; `owner` then holds it for the call.
    static bool may_run(const state& s, std::shared_ptr<void>& owner) {
        if (!s.live.load(std::memory_order_acquire)) return false;
        return !s.tracked || (owner = s.owner.lock()) != nullptr;
    }

    static void run(const state& s, const std::shared_ptr<const event>& e) {
        std::shared_ptr<void> owner;
        if (!may_run(s, owner)) return;
        try {
            std::invoke(s.receiver, *e);
        } catch (...) {
            fail(s, *e, std::current_exception());
        }
    }

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
    // Runs a coroutine receiver as a coroutine of its own on `ex`; the event and the owner live
    // until it returns.
    static void spawn(const std::shared_ptr<state>& s, const std::shared_ptr<const event>& e, const Executor& ex) {
        std::shared_ptr<void> owner;
        if (!may_run(*s, owner)) return;
        boost::asio::co_spawn(
            ex,
            [s, e, owner]() -> std::invoke_result_t<F&, const event&> { co_await std::invoke(s->receiver, *e); },
            [s, e](const std::exception_ptr& thrown) {
                if (thrown) fail(*s, *e, thrown);
            });
    }
#endif

    static void fail(const state& s, const event& e, std::exception_ptr thrown) noexcept {
        failure f;
        f.part = beacon::part::asio;
        try {
            f.where = e.type;
            f.receiver = s.name;
        } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory for the names: report without them
        }
        f.ev = &e;
        f.exception = std::move(thrown);
        report(f);
    }

    Executor executor_;
    std::shared_ptr<state> state_;
};

/// Binds `receiver` (callable with `const event&`) to `target`: an Asio executor (an
/// io_context's, a strand, a thread_pool's, any_io_executor) or an execution context (io_context,
/// thread_pool: its executor). Connect the result to signals, and each send posts the call there;
/// on a strand, the calls run one at a time, in send order.
template <class Target, class F>
auto on(Target&& target, F&& receiver) {
    using T = std::decay_t<Target>;
    static_assert(detail::is_executor_v<T> || detail::is_context_v<T>,
                  "beacon::asio::on: the first argument must be an Asio executor (io_context::executor_type, "
                  "a strand, thread_pool::executor_type, any_io_executor) or an execution context (io_context, "
                  "thread_pool)");
    if constexpr (detail::is_context_v<T>) {
        return on(target.get_executor(), std::forward<F>(receiver));
    } else if constexpr (detail::is_executor_v<T> && detail::check_bound_receiver<std::decay_t<F>>()) {
        return executor_receiver<T, std::decay_t<F>>(std::forward<Target>(target), std::forward<F>(receiver));
    }
}

}  // namespace beacon::asio
