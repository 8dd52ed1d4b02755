// libFuzzer target: the receiving side's decoders, what both Redis consumers run by default on
// every message they read: beacon::decode_any (the envelope format's decoder: beacon's envelope
// or Kinto's flat payload, told apart by shape) and beacon::decode_kinto (Kinto's format). The
// input is the message's text, any bytes (scripts/fuzz feeds up to 1 MiB).
// Contract: each decoder returns an event or throws beacon::decode_error, nothing else, and the
// error's message is under 4 KiB. An event decode_any returns is written by the envelope and
// reads back equal (a timestamp of 0 is written as now: then it reads back stamped, otherwise
// equal); an event decode_kinto returns is what decode_any returns for the same bytes, and
// Kinto's format writes it so that decode_kinto reads it back equal.
#include <beacon/wire_format.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace {

using decoder = beacon::event (*)(std::string_view, const beacon::json_limits&);

// The event `decode` reads from `text`, or none when it throws decode_error (any other exception
// escapes, and libFuzzer reports it).
std::optional<beacon::event> decode(decoder read, std::string_view text) {
    try {
        return read(text, beacon::json_limits{});
    } catch (const beacon::decode_error& bad) {
        if (std::string_view(bad.what()).size() >= 4096) std::abort();  // quotes the input at length
        return std::nullopt;
    }
}

// Writes `e` with `encode` and reads it back with `read`: it must be `e` again (with a timestamp
// of 0, stamped on the way: equal once the stamp is copied). An encode_error escapes.
void round_trip(const beacon::event& e, void (*encode)(const beacon::event&, std::string&), decoder read) {
    std::string bytes;
    encode(e, bytes);
    const auto back = decode(read, bytes);
    if (!back) std::abort();  // what one side writes, the other refuses
    beacon::event expected = e;
    if (expected.timestamp == 0) {
        if (back->timestamp == 0) std::abort();
        expected.timestamp = back->timestamp;
    }
    if (*back != expected) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto any = decode(beacon::decode_any, text);
    if (any) round_trip(*any, beacon::encode_envelope, beacon::decode_any);
    const auto kinto = decode(beacon::decode_kinto, text);
    if (kinto) {
        if (!any || *any != *kinto) std::abort();  // decode_any reads Kinto's bytes as decode_kinto does
        round_trip(*kinto, beacon::encode_kinto, beacon::decode_kinto);
    }
    return 0;
}
