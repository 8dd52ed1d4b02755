// P14 (../../docs/performance.md, ../../docs/executors.md#cost): receivers on the host's Asio
// executors next to raw Boost.Asio, side by side in one run; the raw peer is named in each name.
// Posting: 1,000 posts of a lambda holding a shared event (BM_raw_post) against 1,000 calls of an
// executor-bound receiver with that event (BM_bound_receiver_call: the wrapper's own cost), then
// the io_context runs them; BM_signal_send_bound is the whole path (signal::send to one such
// receiver), for information. Awaiting (C++20 only): one hand-off per iteration from this thread
// to a coroutine on an io_context run by another, through a steady_timer that never expires,
// cancelled by a post (BM_raw_timer_handoff: the closest raw hand-off Asio 1.74 offers, which has
// no channels), through `co_await w.next()` of a waiter the coroutine keeps and a send
// (BM_await_waiter), or through a one-shot `co_await beacon::asio::next(signal)` that connects and
// disconnects each time (BM_await_next, for information); each back to back and on an idle loop. Allocations are counted per event or per round trip.

#include <beacon/asio.hpp>  // first: it lets Asio 1.74 offer its coroutines on clang

#include "alloc_count.hpp"

#include <beacon/beacon.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#if defined(BOOST_ASIO_HAS_CO_AWAIT)
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <thread>
#endif

#include <cstdint>
#include <memory>
#include <utility>

namespace {

namespace net = boost::asio;

/// Posts per iteration of the posting benchmarks (one io_context::run for all of them).
constexpr int batch = 1000;

/// The receiver on every side: reads the event, does nothing else.
struct sink {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.timestamp); }
};

/// A small event (a sender and one keyword argument), stamped by `s` so that a send takes it as it
/// is (no stamped copy), shared as a send to executor-bound receivers shares it.
std::shared_ptr<const beacon::event> shared_event(const beacon::signal& s) {
    beacon::event e("package_create", {{"id", 42}});
    s.stamp(e);
    return std::make_shared<const beacon::event>(std::move(e));
}

/// Reports the allocations this thread made per event since `before` (the posts and the runs
/// happen on this thread).
void report_allocations(benchmark::State& state, const beacon_bench::alloc_stats& before, std::int64_t events) {
    if (!beacon_bench::counts_allocations()) return;
    const auto made = beacon_bench::thread_allocs().allocations - before.allocations;
    state.counters["allocs_per_event"] = benchmark::Counter(static_cast<double>(made) / static_cast<double>(events));
}

// Posting: the executor-bound receiver's wrapper against a raw post of the same work.

void BM_raw_post(benchmark::State& state) {
    beacon::signal s("bench", "p14");
    net::io_context io;
    const auto e = shared_event(s);
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) net::post(io, [e] { sink{}(*e); });
        io.run();
        io.restart();
    }
    state.SetItemsProcessed(state.iterations() * batch);
    report_allocations(state, before, state.iterations() * batch);
}
BENCHMARK(BM_raw_post);

void BM_bound_receiver_call(benchmark::State& state) {
    beacon::signal s("bench", "p14");
    net::io_context io;
    const auto receiver = beacon::asio::on(io, sink{});
    const auto e = shared_event(s);
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) receiver(e);
        io.run();
        io.restart();
    }
    state.SetItemsProcessed(state.iterations() * batch);
    report_allocations(state, before, state.iterations() * batch);
}
BENCHMARK(BM_bound_receiver_call);

void BM_signal_send_bound(benchmark::State& state) {
    net::io_context io;  // before the registry: it outlives the receiver bound to it
    beacon::registry reg;
    auto& s = reg.core().signal("p14");
    auto c = s.connect(beacon::asio::on(io, sink{}));
    const auto e = shared_event(s);
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        for (int i = 0; i < batch; ++i) s.send(e);
        io.run();
        io.restart();
    }
    state.SetItemsProcessed(state.iterations() * batch);
    report_allocations(state, before, state.iterations() * batch);
}
BENCHMARK(BM_signal_send_bound);

#if defined(BOOST_ASIO_HAS_CO_AWAIT)

// Awaiting: a coroutine on an io_context run by another thread waits for an event; this thread
// hands one over, and the coroutine takes it and waits again. `ready` counts the waits the coroutine
// has begun: it is raised just before each co_await, in the same run of the loop's thread as the
// wait's start, so that a post made once it is seen runs after the coroutine waits (next() has
// also connected its receiver once the signal's receiver_count() is 1). Two ways:
// - back_to_back: the next hand-off as soon as the coroutine waits again; the real time of a round
//   trip. The loop's thread may not have gone to sleep yet when it comes: the cheaper side's
//   hand-off then often finds it awake, and needs no wake-up (no reactor interrupt).
// - idle_loop: the hand-off once the loop's thread has been idle 50 us (asleep in epoll_wait, as a
//   host's loop waiting for events is), timed from the hand-off until the coroutine waits again
//   (manual time): the wake-up, the delivery, the resumption and the next wait's start.
// The last hand-off stops the coroutine, and run() returns.

/// What the waiting coroutine shares with this thread.
struct coroutine_side {
    net::io_context io;  // its run() has returned (the coroutine ended) before anything is destroyed
    std::atomic<std::uint64_t> ready{0};      // the waits begun
    std::atomic<std::size_t> loop_allocs{0};  // the loop thread's allocations when the last began
    std::atomic<bool> ended{false};           // the loop thread's run() returned
    bool stop = false;  // written while the coroutine waits, before the hand-off that wakes it

    /// Called by the coroutine just before each wait.
    void waiting_again() {
        loop_allocs.store(beacon_bench::thread_allocs().allocations, std::memory_order_relaxed);
        ready.fetch_add(1, std::memory_order_release);
    }
};

/// Waits (yielding) until `done()`; aborts, rather than hang, if the coroutine of `w` ended early.
template <class Done>
void wait_until(const coroutine_side& w, Done done) {
    while (!done()) {
        if (w.ended.load(std::memory_order_acquire)) {
            std::fputs("asio_bench: the waiting coroutine ended before its last hand-off\n", stderr);
            std::abort();
        }
        std::this_thread::yield();
    }
}

/// Waits until the coroutine of `w` has begun its wait number `n`.
void wait_for_wait(const coroutine_side& w, std::uint64_t n) {
    wait_until(w, [&] { return w.ready.load(std::memory_order_acquire) >= n; });
}

/// Runs the hand-offs to the coroutine of `w`: `waiting()` returns once it waits (beyond
/// `w.ready`), `hand()` hands over one event; the last, after `w.stop` is set, stops it.
template <class Waiting, class Hand>
void hand_offs(benchmark::State& state, bool idle_loop, coroutine_side& w, Waiting waiting, Hand hand) {
    std::uint64_t rounds = 1;
    wait_for_wait(w, rounds);
    waiting();
    const auto loop_before = w.loop_allocs.load(std::memory_order_relaxed);
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        if (idle_loop) {
            const auto settled = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
            while (std::chrono::steady_clock::now() < settled) {
            }
        }
        const auto start = std::chrono::steady_clock::now();
        hand();
        wait_for_wait(w, ++rounds);
        waiting();
        if (idle_loop) {
            state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        }
    }
    if (beacon_bench::counts_allocations()) {  // both threads' allocations per round trip
        const auto made = beacon_bench::thread_allocs().allocations - before.allocations +
                          (w.loop_allocs.load(std::memory_order_relaxed) - loop_before);
        state.counters["allocs_per_round"] = static_cast<double>(made) / static_cast<double>(state.iterations());
    }
    w.stop = true;
    hand();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

/// The raw side's state: a timer that never expires, cancelled to wake the coroutine, and the
/// member through which the event is handed over.
struct timer_handoff : coroutine_side {
    net::steady_timer timer{io, net::steady_timer::time_point::max()};
    std::shared_ptr<const beacon::event> handed;  // written before the post, read after the wake
};

net::awaitable<void> timer_waiter(timer_handoff& h) {
    boost::system::error_code ec;
    auto token = net::redirect_error(net::use_awaitable, ec);  // a cancelled wait does not throw
    for (;;) {
        h.waiting_again();
        co_await h.timer.async_wait(token);  // operation_aborted: cancelled, an event is there
        const auto e = std::move(h.handed);
        if (h.stop) co_return;
        sink{}(*e);
    }
}

/// Spawns `coroutine` on the loop of `h`, runs that loop on a thread of its own, and times the
/// hand-offs (see hand_offs).
template <class Waiting, class Hand>
void run_hand_offs(benchmark::State& state, bool idle_loop, coroutine_side& h, net::awaitable<void> coroutine,
                   Waiting waiting, Hand hand) {
    net::co_spawn(h.io, std::move(coroutine), net::detached);
    std::thread loop([&] {
        h.io.run();
        h.ended.store(true, std::memory_order_release);
    });
    hand_offs(state, idle_loop, h, waiting, hand);
    loop.join();
}

void BM_raw_timer_handoff(benchmark::State& state, bool idle_loop) {
    beacon::signal s("bench", "p14");
    timer_handoff h;
    const auto e = shared_event(s);
    run_hand_offs(state, idle_loop, h, timer_waiter(h), [] {}, [&] {
        h.handed = e;
        net::post(h.io, [&h] { h.timer.cancel(); });
    });
}
BENCHMARK_CAPTURE(BM_raw_timer_handoff, back_to_back, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_raw_timer_handoff, idle_loop, true)->UseManualTime();

/// The beacon side's state: the signal the coroutine awaits.
struct signal_handoff : coroutine_side {
    beacon::signal s{"bench", "p14"};
};

/// Awaits one-shot next() calls, one after another.
net::awaitable<void> next_waiter(signal_handoff& h) {
    for (;;) {
        h.waiting_again();
        const std::shared_ptr<const beacon::event> e = co_await beacon::asio::next(h.s);
        if (h.stop) co_return;
        sink{}(*e);
    }
}

void BM_await_next(benchmark::State& state, bool idle_loop) {
    signal_handoff h;
    const auto e = shared_event(h.s);
    run_hand_offs(
        state, idle_loop, h, next_waiter(h),
        [&] { wait_until(h, [&] { return h.s.receiver_count() == 1; }); },  // next() connected
        [&] { h.s.send(e); });
}
BENCHMARK_CAPTURE(BM_await_next, back_to_back, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_await_next, idle_loop, true)->UseManualTime();

/// Keeps one waiter and awaits its events one after another.
net::awaitable<void> waiter_loop(signal_handoff& h) {
    beacon::asio::waiter w(h.s);
    for (;;) {
        h.waiting_again();
        const std::shared_ptr<const beacon::event> e = co_await w.next();
        if (h.stop) co_return;
        sink{}(*e);
    }
}

void BM_await_waiter(benchmark::State& state, bool idle_loop) {
    signal_handoff h;
    const auto e = shared_event(h.s);
    // An event sent before the wait starts is queued and taken by it, as the raw side's post.
    run_hand_offs(state, idle_loop, h, waiter_loop(h), [] {}, [&] { h.s.send(e); });
}
BENCHMARK_CAPTURE(BM_await_waiter, back_to_back, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_await_waiter, idle_loop, true)->UseManualTime();

#endif  // BOOST_ASIO_HAS_CO_AWAIT

}  // namespace

BENCHMARK_MAIN();
