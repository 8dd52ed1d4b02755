// Keyed dispatch of filtered receivers (docs/filters.md): N receivers, each connected with
// `with_action(create) & with_resource("r<i>")`, and a send reaching one of them. Side by side:
// beacon::filtered_signal (index on (action, resource)), the same filters tested inside each
// receiver of a plain beacon::signal, and raw Boost.Signals2 with a hand-written test in each slot.
// Benchmark names are "<workload>/<side>/<N>".

#include "alloc_count.hpp"

#include <beacon/filtered_signal.hpp>
#include <beacon/registry.hpp>

#include <benchmark/benchmark.h>
#include <boost/signals2/signal.hpp>

#include <cstdint>
#include <string>

namespace {

std::string resource(std::int64_t i) { return "r" + std::to_string(i); }

beacon::filter wanted(std::int64_t i) { return beacon::with_action(beacon::action::create) & beacon::with_resource(resource(i)); }

/// The event every workload sends: a creation of the middle receiver's resource, prebuilt.
beacon::event target_event(std::int64_t n) {
    beacon::event e("storage", {{"id", 42}});
    e.action = beacon::action::create;
    e.resource_name = resource(n / 2);
    e.stamp();
    return e;
}

struct sink {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.timestamp); }
};

void report_allocations(benchmark::State& state, const beacon_bench::alloc_stats& before) {
    const auto made = beacon_bench::thread_allocs().allocations - before.allocations;
    state.counters["allocs_per_iter"] =
        benchmark::Counter(static_cast<double>(made) / static_cast<double>(state.iterations()));
}

void keyed_beacon(benchmark::State& state) {
    beacon::registry reg;
    beacon::filtered_signal filtered(reg.core().signal("resource_changed"));
    for (std::int64_t i = 0; i < state.range(0); ++i) filtered.connect(wanted(i), sink{});
    const auto e = target_event(state.range(0));
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) filtered.target().send(e);
    report_allocations(state, before);
}
BENCHMARK(keyed_beacon)->Name("filtered/beacon_keyed")->Arg(1)->Arg(100)->Arg(10000);

void filter_in_each_receiver(benchmark::State& state) {
    beacon::registry reg;
    auto& sig = reg.core().signal("resource_changed");
    for (std::int64_t i = 0; i < state.range(0); ++i) {
        sig.connect([test = wanted(i)](const beacon::event& e) {
            if (test(e)) sink{}(e);
        });
    }
    const auto e = target_event(state.range(0));
    for (auto _ : state) sig.send(e);
}
BENCHMARK(filter_in_each_receiver)->Name("filtered/beacon_filter_in_receiver")->Arg(1)->Arg(100)->Arg(10000);

void boost_test_in_each_slot(benchmark::State& state) {
    boost::signals2::signal<void(const beacon::event&)> sig;
    for (std::int64_t i = 0; i < state.range(0); ++i) {
        sig.connect([name = resource(i)](const beacon::event& e) {
            if (e.action == beacon::action::create && e.resource_name == name) sink{}(e);
        });
    }
    const auto e = target_event(state.range(0));
    for (auto _ : state) sig(e);
}
BENCHMARK(boost_test_in_each_slot)->Name("filtered/boost_test_in_slot")->Arg(1)->Arg(100)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
