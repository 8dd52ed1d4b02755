// Encoding one event for the wire (issue 15's target: a 300-byte event in at most 1 us, bytes
// unchanged), side by side in one run: today's encoding until the wire formats (nlohmann::json(e)
// then dump(): a document built, then serialized), beacon's envelope written directly (the same
// bytes, checked before timing), and Kinto's format. The event is redis_bench's 297-byte record
// creation. Benchmark names are "encode/<side>". CloudEvents JSON is measured beside the envelope
// on the same event stamped (an id, a source, a type: what a CloudEvent requires), encoding and
// decoding ("encode/stamped_*", "decode/stamped_*"); with beacon::simdjson built, its decoders
// beside the core's on the same texts ("decode/simdjson_*").

#include "alloc_count.hpp"
#include "sample_event.hpp"

#include <beacon/wire_format.hpp>
#ifdef BEACON_BENCH_SIMDJSON
#include <beacon/simdjson.hpp>
#endif

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

beacon::event sample() { return beacon_bench::kinto_record(); }

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

// The stamped sample in `format` (the envelope by default): the text the decoders read.
std::string stamped_text(const beacon::wire_format& format = beacon::wire_format::envelope()) {
    return format.encode(stamped());
}

void decode_stamped(benchmark::State& state, const beacon::wire_format& format) {
    const std::string text = stamped_text(format);
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        auto e = format.decode(text);
        benchmark::DoNotOptimize(&e);
    }
    report(state, before, text.size());
}
BENCHMARK_CAPTURE(decode_stamped, envelope, beacon::wire_format::envelope())->Name("decode/stamped_envelope");
BENCHMARK_CAPTURE(decode_stamped, cloudevents, beacon::wire_format::cloudevents())->Name("decode/stamped_cloudevents");

// Kinto's bytes of the same event, decoded by Kinto's format (`format` encodes them as Kinto's does).
BENCHMARK_CAPTURE(decode_stamped, kinto, beacon::wire_format::kinto())->Name("decode/stamped_kinto");
#ifdef BEACON_BENCH_SIMDJSON
// The same texts decoded by beacon::simdjson's formats (issue 25, item 1: at most 3x encode).
BENCHMARK_CAPTURE(decode_stamped, simdjson_envelope, beacon::simdjson::envelope())->Name("decode/simdjson_stamped_envelope");
BENCHMARK_CAPTURE(decode_stamped, simdjson_cloudevents, beacon::simdjson::cloudevents())->Name("decode/simdjson_stamped_cloudevents");
BENCHMARK_CAPTURE(decode_stamped, simdjson_kinto, beacon::simdjson::kinto())->Name("decode/simdjson_stamped_kinto");
#endif

// The floors of decoding the same envelope text with nlohmann's parser (issue 25, item 1: decode
// at most 3x encode): "decode/nlohmann_parse" builds the document with nlohmann::json::parse (no
// limits, no event), "decode/nlohmann_lexer" checks it with nlohmann::json::accept, whose SAX
// handler keeps nothing (the lexer and the grammar alone: no decoder built on this parser can be
// faster).
void nlohmann_parse(benchmark::State& state) {
    const std::string text = stamped_text();
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        auto j = nlohmann::json::parse(text);
        benchmark::DoNotOptimize(&j);
    }
    report(state, before, text.size());
}
BENCHMARK(nlohmann_parse)->Name("decode/nlohmann_parse");

void nlohmann_lexer(benchmark::State& state) {
    const std::string text = stamped_text();
    const auto before = beacon_bench::thread_allocs();
    for (auto _ : state) {
        if (!nlohmann::json::accept(text)) state.SkipWithError("the text did not parse");
    }
    report(state, before, text.size());
}
BENCHMARK(nlohmann_lexer)->Name("decode/nlohmann_lexer");

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

// Large events (issue 25, item 7: at 10 KiB and above, encoding at most 10x a copy of the same
// bytes), three shapes: a record with a long text in English (ASCII, a line break every 77
// bytes), in French (an accented letter or a character to escape every 8 bytes or so), and a
// record of many short fields. "encode/large_<shape>" encodes into a reused string;
// "copy/large_<shape>" copies the encoded bytes into a reused string (the floor). Arg: the
// text's bytes, or the number of fields.
enum class shape { english, french, fields };

beacon::event large(shape kind, std::int64_t size) {
    beacon::event e = sample();
    if (kind == shape::fields) {
        nlohmann::json fields = nlohmann::json::object();
        for (std::int64_t n = 0; n < size; ++n) fields["field_" + std::to_string(n)] = "value " + std::to_string(n);
        e.data["fields"] = fields;
        return e;
    }
    const std::string line = kind == shape::english
                                 ? "The relay publishes the outbox in commit order, in batches, to any forwarder.\n"
                                 : "Des nouvelles du caf\xc3\xa9 : \"beacon\" publie ses \xc3\xa9v\xc3\xa9nements.\n";
    std::string body;
    while (body.size() < static_cast<std::size_t>(size)) body += line;
    e.data["body"] = body;
    return e;
}

void encode_large(benchmark::State& state, shape kind) {
    const auto e = large(kind, state.range(0));
    const auto format = beacon::wire_format::envelope();
    std::string out;
    for (auto _ : state) {
        out.clear();
        format.encode(e, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}

void copy_large(benchmark::State& state, shape kind) {
    const std::string encoded = beacon::wire_format::envelope().encode(large(kind, state.range(0)));
    std::string out;
    for (auto _ : state) {
        out.assign(encoded);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
}
BENCHMARK_CAPTURE(encode_large, english, shape::english)->Name("encode/large_english")->Arg(10240)->Arg(102400);
BENCHMARK_CAPTURE(copy_large, english, shape::english)->Name("copy/large_english")->Arg(10240)->Arg(102400);
BENCHMARK_CAPTURE(encode_large, french, shape::french)->Name("encode/large_french")->Arg(10240)->Arg(102400);
BENCHMARK_CAPTURE(copy_large, french, shape::french)->Name("copy/large_french")->Arg(10240)->Arg(102400);
BENCHMARK_CAPTURE(encode_large, fields, shape::fields)->Name("encode/large_fields")->Arg(400)->Arg(4000);
BENCHMARK_CAPTURE(copy_large, fields, shape::fields)->Name("copy/large_fields")->Arg(400)->Arg(4000);

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
