// Encoding one event for the wire (issue 15's target: a 300-byte event in at most 1 us, bytes
// unchanged), side by side in one run: today's encoding until the wire formats (nlohmann::json(e)
// then dump(): a document built, then serialized), beacon's envelope written directly (the same
// bytes, checked before timing), and Kinto's format. The event is redis_bench's 297-byte record
// creation. Benchmark names are "encode/<side>". CloudEvents JSON is measured beside the envelope
// on the same event stamped (an id, a source, a type: what a CloudEvent requires), encoding and
// decoding ("encode/stamped_*", "decode/stamped_*").

#include "alloc_count.hpp"

#include <beacon/wire_format.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

beacon::event sample() {
    beacon::event e("blog-api", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", "a1"}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "a1"}, {"title", "Hello"}}});
    e.timestamp = 1453896392123;
    return e;
}

void report(benchmark::State& state, const beacon_bench::alloc_stats& before, std::size_t bytes) {
    const auto made = beacon_bench::thread_allocs().allocations - before.allocations;
    if (beacon_bench::counts_allocations()) {
        state.counters["allocs_per_iter"] = static_cast<double>(made) / static_cast<double>(state.iterations());
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}

void nlohmann_dump(benchmark::State& state) {
    const auto e = sample();
    std::size_t size = 0;
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        const std::string text = nlohmann::json(e).dump();
        size = text.size();
        benchmark::DoNotOptimize(text.data());
    }
    report(state, before, size);
}
BENCHMARK(nlohmann_dump)->Name("encode/nlohmann_json_then_dump");

// One format into a string reused from one event to the next, as a listener encoding a batch does.
void encode_with(benchmark::State& state, const beacon::wire_format& format, beacon::event (*make)()) {
    const auto e = make();
    std::string out;
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        out.clear();
        format.encode(e, out);
        benchmark::DoNotOptimize(out.data());
    }
    report(state, before, out.size());
}
BENCHMARK_CAPTURE(encode_with, envelope, beacon::wire_format::envelope(), sample)->Name("encode/beacon_envelope");
BENCHMARK_CAPTURE(encode_with, kinto, beacon::wire_format::kinto(), sample)->Name("encode/beacon_kinto");

// The sample as a signal sends it: stamped with an id, a source and a type.
beacon::event stamped() {
    auto e = sample();
    e.id = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    e.source = "/blog-api";
    e.type = "core.resource_changed";
    return e;
}

BENCHMARK_CAPTURE(encode_with, stamped_envelope, beacon::wire_format::envelope(), stamped)->Name("encode/stamped_envelope");
BENCHMARK_CAPTURE(encode_with, stamped_cloudevents, beacon::wire_format::cloudevents(), stamped)
    ->Name("encode/stamped_cloudevents");

void decode_stamped(benchmark::State& state, const beacon::wire_format& format) {
    const std::string text = format.encode(stamped());
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        auto e = format.decode(text);
        benchmark::DoNotOptimize(&e);
    }
    report(state, before, text.size());
}
BENCHMARK_CAPTURE(decode_stamped, envelope, beacon::wire_format::envelope())->Name("decode/stamped_envelope");
BENCHMARK_CAPTURE(decode_stamped, cloudevents, beacon::wire_format::cloudevents())->Name("decode/stamped_cloudevents");

// A fresh string per event, as a listener forwarding one event does.
void encode_fresh(benchmark::State& state) {
    const auto e = sample();
    const auto format = beacon::wire_format::envelope();
    std::size_t size = 0;
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        const std::string text = format.encode(e);
        size = text.size();
        benchmark::DoNotOptimize(text.data());
    }
    report(state, before, size);
}
BENCHMARK(encode_fresh)->Name("encode/beacon_envelope_fresh_string");

}  // namespace

int main(int argc, char** argv) {
    // The bytes are unchanged: the envelope written directly is nlohmann's dump, byte for byte.
    if (beacon::wire_format::envelope().encode(sample()) != nlohmann::json(sample()).dump()) {
        std::cerr << "wire_format_bench: the envelope's bytes differ from nlohmann's dump\n";
        return 1;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
