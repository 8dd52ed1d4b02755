// Plugins (docs/plugins.md): what a receiver costs when a plugin declares it, next to the same
// receiver connected directly and to Boost.Signals2's track_foreign (the other way to keep the
// plugin alive while a send calls it), and what loading plus unloading a plugin costs.
// Benchmark names are "<workload>/<side>/<N receivers>".

#include <beacon/plugin.hpp>

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>

namespace {

struct sink {
    void operator()(const beacon::event& e) const { benchmark::DoNotOptimize(e.timestamp); }
};

/// A plugin declaring `n` any-sender receivers on core signal "s".
class sink_plugin : public beacon::plugin {
public:
    explicit sink_plugin(std::int64_t n) : n_(n) {}
    std::string name() const override { return "sink"; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        beacon::signal_subscriptions entry{ctx.core().signal("s"), {}};
        for (std::int64_t i = 0; i < n_; ++i) entry.receivers.emplace_back(sink{});
        return {entry};
    }

private:
    std::int64_t n_;
};

beacon::event prebuilt() {
    beacon::event e("x");
    e.stamp();
    return e;
}

void send_direct(benchmark::State& state) {
    beacon::registry reg;
    auto& s = reg.core().signal("s");
    for (std::int64_t i = 0; i < state.range(0); ++i) s.connect(sink{});
    const auto e = prebuilt();
    for (auto _ : state) s.send(e);
}
BENCHMARK(send_direct)->Name("send/direct")->Arg(1)->Arg(10)->Arg(100);

void send_plugin(benchmark::State& state) {
    beacon::registry reg;
    auto& s = reg.core().signal("s");
    beacon::plugin_host host(reg);
    host.load(std::make_shared<sink_plugin>(state.range(0)));
    const auto e = prebuilt();
    for (auto _ : state) s.send(e);
}
BENCHMARK(send_plugin)->Name("send/plugin")->Arg(1)->Arg(10)->Arg(100);

void send_track_foreign(benchmark::State& state) {
    beacon::registry reg;
    auto& s = reg.core().signal("s");
    const auto owner = std::make_shared<int>(0);
    for (std::int64_t i = 0; i < state.range(0); ++i) s.connect(sink{}, owner);
    const auto e = prebuilt();
    for (auto _ : state) s.send(e);
}
BENCHMARK(send_track_foreign)->Name("send/track_foreign")->Arg(1)->Arg(10)->Arg(100);

void load_unload(benchmark::State& state) {
    beacon::registry reg;
    reg.core().signal("s");
    beacon::plugin_host host(reg);
    const auto plugin = std::make_shared<sink_plugin>(state.range(0));
    for (auto _ : state) {
        host.load(plugin);
        host.unload("sink");
    }
}
BENCHMARK(load_unload)->Name("load_unload/plugin")->Arg(1)->Arg(10)->Arg(100);

}  // namespace

BENCHMARK_MAIN();
