// libFuzzer target: CloudEvents 1.0 JSON decoding (beacon::decode_cloudevent, what a Redis
// consumer with `format = cloudevents` runs on every message). The input is the message's text,
// any bytes (scripts/fuzz feeds up to 1 MiB).
// Contract: decode_cloudevent returns an event or throws beacon::decode_error, nothing else, and
// the error's message is under 4 KiB. An event it returns encode_cloudevent writes (no
// encode_error: what beacon reads it can forward) and decode_cloudevent reads back equal (a
// timestamp of 0 is written as now: then it reads back stamped, otherwise equal).
#include <beacon/cloudevents.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

std::optional<beacon::event> decode(std::string_view text) {
    try {
        return beacon::decode_cloudevent(text);
    } catch (const beacon::decode_error& bad) {
        if (std::string_view(bad.what()).size() >= 4096) std::abort();  // quotes the input at length
        return std::nullopt;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto e = decode(text);
    if (!e) return 0;
    std::string bytes;
    beacon::encode_cloudevent(*e, bytes);  // an encode_error escapes: libFuzzer reports it
    const auto back = decode(bytes);
    if (!back) std::abort();  // what beacon writes, it refuses
    beacon::event expected = *e;
    if (expected.timestamp == 0) {
        if (back->timestamp == 0) std::abort();
        expected.timestamp = back->timestamp;
    }
    if (*back != expected) std::abort();
    return 0;
}
