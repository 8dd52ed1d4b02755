// beacon's performance targets P1-P4, P6, P13 and P18 (../../docs/performance.md), each measured
// side by side with its peer in the same run: raw Boost.Signals2 for dispatch and memory; for the
// CKAN-like send, a loop of std::function receivers (the floor) and Python blinker
// (blinker_peer.py, run by scripts/bench). P5 (compile time) is measured by
// scripts/bench. Benchmark names are "<target>/<side>/<args>"; scripts/bench pairs them up.

#include "alloc_count.hpp"

#include <beacon/beacon.hpp>

#include <benchmark/benchmark.h>
#include <boost/signals2/signal.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using raw_signal = boost::signals2::signal<void(const beacon::event&)>;

/// The receiver every workload connects, on both sides: reads the event, does nothing else.
struct sink {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.timestamp); }
};

/// A receiver capturing one pointer, like most real ones (`[this]`, `[&counter]`).
struct counting_sink {
    std::size_t* calls;
    void operator()(const beacon::event& e) const {
        benchmark::DoNotOptimize(e.timestamp);
        ++*calls;
    }
};

/// P4's receiver, like blinker_peer.py's: reads one keyword argument.
struct id_reader {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.data.find("id")); }
};

/// Raw Boost.Signals2's way to bind a receiver to one sender: a test inside every slot.
struct filtered_sink {
    std::string sender;
    void operator()(const beacon::event& e) const {
        if (e.sender == sender) benchmark::DoNotOptimize(e.timestamp);
    }
};

beacon::event prebuilt(std::string sender) {
    beacon::event e(std::move(sender), {{"id", 42}});
    beacon::signal("core", "p1").stamp(e);  // id, timestamp, type, source: sent as it is
    return e;
}

std::string sender_name(std::int64_t i) { return "sender-" + std::to_string(i); }

/// Reports the allocations made per iteration since `before`.
void report_allocations(benchmark::State& state, const beacon_bench::alloc_stats& before) {
    if (!beacon_bench::counts_allocations()) return;
    const auto made = beacon_bench::thread_allocs().allocations - before.allocations;
    state.counters["allocs_per_iter"] =
        benchmark::Counter(static_cast<double>(made) / static_cast<double>(state.iterations()));
}

// P1: a prebuilt event to N receivers connected for any sender.

void p1_beacon(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p1");
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(sink{});
    const auto e = prebuilt("anyone");
    for (auto _ : state) sig.send(e);
}
BENCHMARK(p1_beacon)->Name("P1/beacon")->Arg(1)->Arg(10)->Arg(100);

void p1_boost(benchmark::State& state) {
    raw_signal sig;
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(sink{});
    const auto e = prebuilt("anyone");
    for (auto _ : state) sig(e);
}
BENCHMARK(p1_boost)->Name("P1/boost")->Arg(1)->Arg(10)->Arg(100);

// P13: P1's send with the signal's counters on (signal::enable_stats, what beacon::metrics turns
// on): at most 5% over P1/beacon at 10 receivers. Off, P1 and P2 above are the unchanged figures.
void p13_beacon_stats(benchmark::State& state) {
    beacon::registry reg;
    reg.enable_stats();
    auto& sig = reg.core().signal("p1");
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(sink{});
    const auto e = prebuilt("anyone");
    for (auto _ : state) sig.send(e);
    if (sig.stats().sends != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("sends not counted");
}
BENCHMARK(p13_beacon_stats)->Name("P13/beacon/stats_on")->Arg(1)->Arg(10)->Arg(100);

// P1 with an unstamped const event (Kinto-shaped data and one impacted record): each send stamps
// a copy, after checking that the event is shallow enough to copy (check_depth); the copy done by
// hand next to it is the peer, so the ratio shows what the check adds.

beacon::event unstamped() {
    beacon::event e("anyone", {{"bucket_id", "b1"}, {"collection_id", "c1"}, {"id", "r1"}});
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "r1"}, {"title", "t"}, {"tags", {"a", "b"}}}});
    return e;
}

void p1_beacon_unstamped(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p1");
    sig.connect(sink{});
    const auto e = unstamped();
    for (auto _ : state) sig.send(e);
}
BENCHMARK(p1_beacon_unstamped)->Name("P1/beacon/unstamped");

void p1_boost_copy_stamp(benchmark::State& state) {
    raw_signal sig;
    sig.connect(sink{});
    const auto e = unstamped();
    for (auto _ : state) {
        beacon::event copy = e;
        copy.stamp();
        sig(copy);
    }
}
BENCHMARK(p1_boost_copy_stamp)->Name("P1/boost/copy_stamp");

// P11: stamping a new event. Before events had an identity, the stamp set the timestamp alone
// (the peer); event::stamp now also makes a UUIDv7 id and looks up the trace context of the event
// being handled; a signal's stamp then copies its type and the registry's source into the event.
// Each iteration builds a fresh event, as a send does.

void p11_timestamp_only(benchmark::State& state) {
    for (auto _ : state) {
        beacon::event e("s");
        if (e.timestamp == 0) e.timestamp = beacon::event::now_ms();
        benchmark::DoNotOptimize(e);
    }
}
BENCHMARK(p11_timestamp_only)->Name("P11/before/stamp");

void p11_event_stamp(benchmark::State& state) {
    for (auto _ : state) {
        beacon::event e("s");
        e.stamp();
        benchmark::DoNotOptimize(e);
    }
}
BENCHMARK(p11_event_stamp)->Name("P11/beacon/stamp");

void p11_signal_stamp(benchmark::State& state) {
    beacon::registry reg;
    reg.set_source("https://shop.example/api");
    auto& sig = reg.core().signal("resource_changed");
    for (auto _ : state) {
        beacon::event e("s");
        sig.stamp(e);
        benchmark::DoNotOptimize(e);
    }
}
BENCHMARK(p11_signal_stamp)->Name("P11/beacon/signal_stamp");

// P2: a send nobody listens to. The argument is how many receivers are bound to other senders;
// the sends cycle through 64 unbound senders, so that the cost is averaged over their hashes.

void p2_beacon(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p2");
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(sender_name(i), sink{});
    std::array<std::string, 64> nobody;
    for (std::size_t i = 0; i < nobody.size(); ++i) nobody[i] = "nobody-" + std::to_string(i);
    std::size_t next = 0;
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        next = (next + 1) % nobody.size();  // a constant power of two: a mask, not a division
        sig.send_lazy(nobody[next], [] { return beacon::event("nobody", {{"id", 42}, {"name", "never built"}}); });
    }
    report_allocations(state, before);
}
BENCHMARK(p2_beacon)->Name("P2/beacon")->Arg(0)->Arg(100);

void p2_boost(benchmark::State& state) {
    raw_signal sig;
    const auto e = prebuilt("nobody");
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) sig(e);
    report_allocations(state, before);
}
BENCHMARK(p2_boost)->Name("P2/boost")->Arg(0);

// P3: N receivers bound to distinct senders, a send reaching one of them.

void p3_beacon(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p3");
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(sender_name(i), sink{});
    const auto e = prebuilt(sender_name(state.range(0) / 2));
    for (auto _ : state) sig.send(e);
}
BENCHMARK(p3_beacon)->Name("P3/beacon")->Arg(1)->Arg(10000);

void p3_boost(benchmark::State& state) {
    raw_signal sig;
    for (std::int64_t i = 0; i < state.range(0); ++i) sig.connect(filtered_sink{sender_name(i)});
    const auto e = prebuilt(sender_name(state.range(0) / 2));
    for (auto _ : state) sig(e);
}
BENCHMARK(p3_boost)->Name("P3/boost")->Arg(1)->Arg(10000);

// P4: CKAN's `signal.send(sender, id=..., name=..., private=...)` to 10 receivers, the event
// built in the loop. Python blinker's side is blinker_peer.py.

const std::string dataset_id = "c8a5b5b0-1e0a-4bd4-9c7f-2f8d0b5d9e11";
const std::string dataset_name = "annual-report-2024";

/// Times `send(signal)` with 10 receivers that read the "id" argument, counting allocations.
template <class Send>
void ckan_send(benchmark::State& state, Send send) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p4");
    for (int i = 0; i < 10; ++i) sig.connect(id_reader{});
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) send(sig);
    report_allocations(state, before);
}

void p4_beacon_init_list(benchmark::State& state) {
    ckan_send(state, [](beacon::signal& sig) {
        sig.send("package_create", {{"id", dataset_id}, {"name", dataset_name}, {"private", false}});
    });
}
BENCHMARK(p4_beacon_init_list)->Name("P4/beacon/init_list");

void p4_beacon_set(benchmark::State& state) {
    ckan_send(state, [](beacon::signal& sig) {
        sig.send_lazy("package_create", [] {
            return beacon::event("package_create")
                .set("id", dataset_id)
                .set("name", dataset_name)
                .set("private", false);
        });
    });
}
BENCHMARK(p4_beacon_set)->Name("P4/beacon/set");

// P4's floor: the same payload built the same way, handed to the same 10 receivers held as
// `std::function`s and called in a loop (no registry, no lock, no keyed dispatch, no stamp):
// what any send of that payload costs at least.
template <class Make>
void ckan_floor(benchmark::State& state, Make make) {
    const std::vector<std::function<void(const beacon::event&)>> receivers(10, id_reader{});
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        const beacon::event e = make();
        for (const auto& receiver : receivers) receiver(e);
    }
    report_allocations(state, before);
}

void p4_floor_init_list(benchmark::State& state) {
    ckan_floor(state, [] {
        return beacon::event("package_create", {{"id", dataset_id}, {"name", dataset_name}, {"private", false}});
    });
}
BENCHMARK(p4_floor_init_list)->Name("P4/floor/init_list");

void p4_floor_set(benchmark::State& state) {
    ckan_floor(state, [] {
        return beacon::event("package_create").set("id", dataset_id).set("name", dataset_name).set("private", false);
    });
}
BENCHMARK(p4_floor_set)->Name("P4/floor/set");

// P6: bytes held per connected receiver. live_bytes_per (P6, P18) calls `make(n)` while counting
// and sets the counter `name` to the bytes it allocated and kept (malloc_usable_size), per thing
// made, while what it returned is alive.
template <class Make>
void live_bytes_per(benchmark::State& state, const char* name, int n, Make make) {
    double bytes = 0;
    for (auto _ : state) {
        state.PauseTiming();
        {
            const beacon_bench::byte_count counting;
            const auto before = beacon_bench::thread_allocs();
            [[maybe_unused]] const auto held = make(n);  // kept until the bytes are read
            bytes = static_cast<double>(beacon_bench::thread_allocs().live_bytes - before.live_bytes) / n;
        }
        state.ResumeTiming();
    }
    if (beacon_bench::counts_allocations()) state.counters[name] = bytes;
}

template <class Connect>
void bytes_per_connection(benchmark::State& state, Connect connect) {
    live_bytes_per(state, "bytes_per_connection", 1000, [&](int n) {
        connect(n);
        return 0;
    });
}

std::size_t p6_calls = 0;

void p6_beacon(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p6");
    bytes_per_connection(state, [&](int n) {
        for (int i = 0; i < n; ++i) sig.connect(counting_sink{&p6_calls});
    });
}
BENCHMARK(p6_beacon)->Name("P6/beacon")->Iterations(1);

void p6_boost(benchmark::State& state) {
    raw_signal sig;
    bytes_per_connection(state, [&](int n) {
        for (int i = 0; i < n; ++i) sig.connect(counting_sink{&p6_calls});
    });
}
BENCHMARK(p6_boost)->Name("P6/boost")->Iterations(1);

void p6_beacon_bound(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("p6");
    std::vector<std::string> senders;
    for (int i = 0; i < 1000; ++i) senders.push_back(sender_name(i));
    bytes_per_connection(state, [&](int n) {
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) sig.connect(senders[i], counting_sink{&p6_calls});
    });
}
BENCHMARK(p6_beacon_bound)->Name("P6/beacon/bound")->Iterations(1);

void p6_boost_filtered(benchmark::State& state) {
    raw_signal sig;
    std::vector<std::string> senders;
    for (int i = 0; i < 1000; ++i) senders.push_back(sender_name(i));
    bytes_per_connection(state, [&](int n) {
        for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) sig.connect(filtered_sink{senders[i]});
    });
}
BENCHMARK(p6_boost_filtered)->Name("P6/boost/filtered")->Iterations(1);

// P18: looking a signal up by name among 1 and among 100,000 signals of one namespace: one name
// again and again (the lookup's own cost, in cache), or every name in a shuffled order (a large
// namespace is not all in cache: memory latency); and the bytes a signal nobody connected to
// holds, with its place in the namespace (next to a raw Boost.Signals2 signal).

void p18_lookup(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    beacon::registry reg;
    std::vector<std::string> names;  // short enough to be held in place (no pointer to chase)
    for (std::size_t i = 0; i < n; ++i) names.push_back("s" + std::to_string(i));
    for (const auto& name : names) reg.core().signal(name);
    std::shuffle(names.begin(), names.end(), std::mt19937(15));
    if (state.range(1) == 0) names.resize(1);  // the same name every time
    auto& core = reg.core();
    std::size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(core.find(names[i]));
        if (++i == names.size()) i = 0;
    }
}
BENCHMARK(p18_lookup)->Name("P18/beacon/lookup")->ArgNames({"signals", "shuffled"})
    ->Args({1, 0})->Args({100000, 0})->Args({100000, 1});

void p18_beacon_memory(benchmark::State& state) {
    live_bytes_per(state, "bytes_per_signal", 10000, [](int n) {
        auto reg = std::make_unique<beacon::registry>();
        for (int i = 0; i < n; ++i) reg->core().signal("resource_changed_" + std::to_string(i));
        return reg;
    });
}
BENCHMARK(p18_beacon_memory)->Name("P18/beacon/bytes_per_signal")->Iterations(1);

void p18_boost_memory(benchmark::State& state) {
    live_bytes_per(state, "bytes_per_signal", 10000, [](int n) {
        std::vector<std::unique_ptr<raw_signal>> held;
        for (int i = 0; i < n; ++i) held.push_back(std::make_unique<raw_signal>());
        return held;
    });
}
BENCHMARK(p18_boost_memory)->Name("P18/boost/bytes_per_signal")->Iterations(1);

// Connecting then disconnecting one receiver, next to 10 that stay connected.

void connect_beacon(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("connect");
    for (int i = 0; i < 10; ++i) sig.connect(sink{});
    for (auto _ : state) sig.connect(sink{}).disconnect();
}
BENCHMARK(connect_beacon)->Name("connect_disconnect/beacon");

void connect_beacon_bound(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("connect");
    for (int i = 0; i < 10; ++i) sig.connect(sink{});
    for (auto _ : state) sig.connect("one sender", sink{}).disconnect();
}
BENCHMARK(connect_beacon_bound)->Name("connect_disconnect/beacon/bound");

void connect_boost(benchmark::State& state) {
    raw_signal sig;
    for (int i = 0; i < 10; ++i) sig.connect(sink{});
    for (auto _ : state) sig.connect(sink{}).disconnect();
}
BENCHMARK(connect_boost)->Name("connect_disconnect/boost");

// Four threads sending prebuilt events through one signal to 10 any-sender receivers.

struct shared_signals {
    beacon::registry reg;
    beacon::signal& sig = reg.core().signal("mt");
    raw_signal raw;
    shared_signals() {
        for (int i = 0; i < 10; ++i) {
            sig.connect(sink{});
            raw.connect(sink{});
        }
    }
};

shared_signals& mt() {
    static shared_signals instance;
    return instance;
}

void mt_beacon(benchmark::State& state) {
    auto& sig = mt().sig;
    const auto e = prebuilt("thread-" + std::to_string(state.thread_index()));
    for (auto _ : state) sig.send(e);
}
BENCHMARK(mt_beacon)->Name("mt_send/beacon")->Threads(4)->UseRealTime();

void mt_boost(benchmark::State& state) {
    auto& sig = mt().raw;
    const auto e = prebuilt("thread-" + std::to_string(state.thread_index()));
    for (auto _ : state) sig(e);
}
BENCHMARK(mt_boost)->Name("mt_send/boost")->Threads(4)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
