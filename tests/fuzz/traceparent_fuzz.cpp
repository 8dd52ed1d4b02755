// libFuzzer target: W3C trace context parsing (beacon::trace_context::parse, which every decoder
// runs on a message's `traceparent` and `tracestate`). The input is the traceparent, then after
// the first newline the tracestate (any bytes).
// Contract: parse returns a valid context or throws beacon::decode_error naming "/traceparent" or
// "/tracestate", with a message under 4 KiB, nothing else. A context it returns writes a
// traceparent (version 00) that parses back to the same context; for a version 00 input, that
// traceparent is the input's text itself, and the tracestate is kept as given.
#include <beacon/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const auto newline = input.find('\n');
    const std::string_view parent = input.substr(0, newline);
    const std::string_view state = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
    beacon::trace_context context;
    try {
        context = beacon::trace_context::parse(parent, state);
    } catch (const beacon::decode_error& bad) {
        const std::string_view what(bad.what());
        if (what.size() >= 4096) std::abort();
        if (what.find("/traceparent") == std::string_view::npos && what.find("/tracestate") == std::string_view::npos) {
            std::abort();  // names neither attribute
        }
        return 0;
    }
    if (!context.valid()) std::abort();
    if (context.state != state) std::abort();
    const std::string written = context.traceparent();
    if (parent.substr(0, 2) == "00" && written != parent) std::abort();
    if (beacon::trace_context::parse(written, context.state) != context) std::abort();
    return 0;
}
