// P9 (../../docs/performance.md): the sending thread's cost of an asynchronous delivery next to a
// synchronous send of the same stamped event to one no-op receiver, side by side in one run; a
// fresh event shared mutable (stamped in place) or const (stamped on a copy); and how many events
// per second one and two workers drain. Names are "<target>/<side>/<event>"; scripts/bench pairs
// P9/async with P9/sync.

#include "alloc_count.hpp"

#include <beacon/async.hpp>
#include <beacon/beacon.hpp>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

/// The receiver on both sides: reads the event, does nothing else.
struct sink {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.timestamp); }
};

/// A small event: a sender and one keyword argument (CKAN's shape).
beacon::event small_event() { return beacon::event("package_create", {{"id", 42}}); }

/// A Kinto-like event: a record created in a collection, with its ids and one impacted record.
beacon::event kinto_event() {
    beacon::event e("basicauth:2c9bd8a0a3bb0b1f5e8b2d4f1a6c3e9d", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", "r-0001"}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/r-0001";
    e.user_id = e.sender;
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "r-0001"}, {"title", "Hello"}, {"last_modified", 1700000000000}}});
    return e;
}

/// The event of `kind`, stamped as `sig` stamps it (id, timestamp, type, source): sent as it is.
beacon::event make_event(std::int64_t kind, const beacon::signal& sig) {
    auto e = kind == 0 ? small_event() : kinto_event();
    sig.stamp(e);
    return e;
}
const char* event_label(std::int64_t kind) { return kind == 0 ? "small" : "kinto"; }

/// Reports the allocations the sending thread made per iteration since `before`.
void report_allocations(benchmark::State& state, const beacon_bench::alloc_stats& before) {
    if (!beacon_bench::counts_allocations()) return;
    const auto made = beacon_bench::thread_allocs().allocations - before.allocations;
    state.counters["allocs_per_iter"] = benchmark::Counter(static_cast<double>(made) / static_cast<double>(state.iterations()));
}

// P9: one signal, one receiver; the sending thread's time per send.

void p9_sync(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p9");
    auto c = sig.connect(sink{});
    const auto e = make_event(state.range(0), sig);
    state.SetLabel(event_label(state.range(0)));
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) sig.send(e);
    report_allocations(state, before);
}
BENCHMARK(p9_sync)->Name("P9/sync")->Arg(0)->Arg(1);

/// One signal connected to an asynchronous receiver around `sink`, its queue room for what the
/// worker has not delivered yet: the sender never waits.
struct p9_async_setup {
    beacon::registry reg;
    beacon::signal& sig = reg.core().signal("p9");
    beacon::async_receiver async{sink{}, queue_room()};
    beacon::scoped_connection c{sig.connect(async.receiver())};

    static beacon::async_options queue_room() {
        beacon::async_options options;
        options.queue = 1'000'000;
        return options;
    }
    /// Waits for the worker, then reports its queue's high water and any event dropped.
    void finish(benchmark::State& state) {
        async.drain(std::chrono::seconds(60));
        const auto s = async.stats();
        state.counters["high_water"] = static_cast<double>(s.high_water);
        if (s.dropped != 0) state.SkipWithError("events were dropped");
    }
};

/// The asynchronous side: the same event, sent as a shared_ptr (the receiver shares it) or, for
/// `copy`, as a reference (the receiver copies it).
template <bool copy>
void p9_async(benchmark::State& state) {
    p9_async_setup p9;
    const auto e = std::make_shared<const beacon::event>(make_event(state.range(0), p9.sig));
    state.SetLabel(event_label(state.range(0)));
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        if constexpr (copy) p9.sig.send(*e);
        else p9.sig.send(e);
    }
    report_allocations(state, before);
    p9.finish(state);
}
BENCHMARK(p9_async<false>)->Name("P9/async")->Arg(0)->Arg(1);
BENCHMARK(p9_async<true>)->Name("P9/async_copy")->Arg(0)->Arg(1);

// P9's floors, for information: handing a shared event to a thread on the other core, with no
// signal around it, that thread looking for events every 20 us (as an idle async worker does).
// Through a mutex and a deque (the structure of beacon's queue), and through a ring that is the
// sender's own (one producer, one consumer: no lock, one release store per event).

/// A thread that calls `take` every 20 us until it is destroyed, then once more.
class looking_thread {
public:
    template <class Take>
    explicit looking_thread(Take take)
        : thread_([this, take]() mutable {
              while (!stop_.load(std::memory_order_acquire)) {
                  take();
                  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
                  while (std::chrono::steady_clock::now() < until) {
                  }
              }
              take();
          }) {}
    looking_thread(const looking_thread&) = delete;
    looking_thread& operator=(const looking_thread&) = delete;
    ~looking_thread() {
        stop_.store(true, std::memory_order_release);
        thread_.join();
    }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

void p9_floor_mutex(benchmark::State& state) {
    beacon::registry reg;
    const auto e = std::make_shared<const beacon::event>(make_event(0, reg.core().signal("p9")));
    std::mutex mutex;
    std::deque<std::shared_ptr<const beacon::event>> queue;
    {
        const looking_thread worker([&] {
            std::vector<std::shared_ptr<const beacon::event>> taken;
            do {  // up to 32 a lock, as beacon's workers take them
                taken.clear();
                const std::lock_guard lock(mutex);
                for (; !queue.empty() && taken.size() < 32; queue.pop_front()) taken.push_back(std::move(queue.front()));
            } while (!taken.empty());
        });
        for (auto _ : state) {
            const std::lock_guard lock(mutex);
            queue.push_back(e);
        }
    }
    state.SetLabel("small");
}
BENCHMARK(p9_floor_mutex)->Name("P9/floor/mutex_deque")->UseRealTime();

void p9_floor_ring(benchmark::State& state) {
    beacon::registry reg;
    const auto e = std::make_shared<const beacon::event>(make_event(0, reg.core().signal("p9")));
    constexpr std::size_t size = std::size_t{1} << 16;
    std::vector<std::shared_ptr<const beacon::event>> slots(size);
    alignas(64) std::atomic<std::size_t> tail{0};  // written by the sender
    alignas(64) std::atomic<std::size_t> head{0};  // written by the worker
    {
        const looking_thread worker([&, taken = std::size_t{0}]() mutable {
            for (const std::size_t end = tail.load(std::memory_order_acquire); taken != end; ++taken) slots[taken % size].reset();
            head.store(taken, std::memory_order_release);
        });
        std::size_t sent = 0;
        for (auto _ : state) {
            while (sent - head.load(std::memory_order_acquire) == size) {
            }
            slots[sent % size] = e;
            tail.store(++sent, std::memory_order_release);
        }
    }
    state.SetLabel("small");
}
BENCHMARK(p9_floor_ring)->Name("P9/floor/ring")->UseRealTime();

/// A host's own send: a fresh, unstamped small event per send, made shared mutable (the signal
/// stamps it in place and shares it) or shared const (the signal stamps a copy and shares that).
template <class Event>
void p9_fresh(benchmark::State& state) {
    p9_async_setup p9;
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) p9.sig.send(std::make_shared<Event>("package_create", nlohmann::json{{"id", 42}}));
    report_allocations(state, before);
    p9.finish(state);
}
BENCHMARK(p9_fresh<beacon::event>)->Name("P9/async_fresh/mutable");
BENCHMARK(p9_fresh<const beacon::event>)->Name("P9/async_fresh/const");

// Drain: events queued while the workers are held, then released; events per second from the
// release until drain() returns. The argument is the number of workers; the events come from 64
// senders, so that two workers can share them.

/// Holds the workers while the queue fills.
class hold {
public:
    void close() {
        std::lock_guard lock(mutex_);
        open_ = false;
    }
    void open() {
        {
            std::lock_guard lock(mutex_);
            open_ = true;
        }
        opened_.notify_all();
    }
    void wait() {
        std::unique_lock lock(mutex_);
        opened_.wait(lock, [&] { return open_; });
    }

private:
    std::mutex mutex_;
    std::condition_variable opened_;
    bool open_ = true;
};

template <class Work>
void drain_rate(benchmark::State& state, Work work) {
    constexpr int events = 10'000;
    hold gate;
    beacon::async_options options;
    options.workers = static_cast<std::size_t>(state.range(0));
    options.queue = events;
    beacon::async_receiver async(
        [&](const beacon::event& e) {
            gate.wait();
            work(e);
        },
        options);
    std::vector<std::shared_ptr<const beacon::event>> batch;  // shared: queueing them copies nothing
    for (int i = 0; i < events; ++i) {
        auto e = kinto_event();
        e.stamp();
        e.sender = "sender-" + std::to_string(i % 64);
        batch.push_back(std::make_shared<const beacon::event>(std::move(e)));
    }
    for (auto _ : state) {
        gate.close();
        for (const auto& e : batch) async(e);
        const auto start = std::chrono::steady_clock::now();
        gate.open();
        async.drain(std::chrono::seconds(60));
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    state.SetItemsProcessed(state.iterations() * events);
    if (async.stats().dropped != 0) state.SkipWithError("events were dropped");
}

void drain_noop(benchmark::State& state) { drain_rate(state, sink{}); }
BENCHMARK(drain_noop)->Name("drain/noop/workers")->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);

/// About a microsecond of work per event: the event written as JSON, as a forwarding receiver does.
void drain_json(benchmark::State& state) {
    drain_rate(state, [](const beacon::event& e) { benchmark::DoNotOptimize(nlohmann::json(e).dump()); });
}
BENCHMARK(drain_json)->Name("drain/json/workers")->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
