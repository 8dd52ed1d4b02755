// libFuzzer target: event JSON decoding. Contract: any input (scripts/fuzz feeds up to 1 MiB;
// seeds nest deeper than the limit and hold invalid UTF-8) either decodes to an event that
// survives a JSON round trip unchanged, or throws beacon::decode_error whose message quotes at
// most a short excerpt; nothing else (no crash, no stack overflow, no other exception).
#include <beacon/event.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    beacon::event decoded;
    try {
        decoded = beacon::parse_event(text);
    } catch (const beacon::decode_error& bad) {
        if (std::string_view(bad.what()).size() > 4096) std::abort();  // quotes the input at length
        return 0;
    }
    // Any other exception escapes and libFuzzer reports it as a crash.
    const nlohmann::json wire = decoded;
    if (wire.get<beacon::event>() != decoded) std::abort();
    if (beacon::parse_event(wire.dump()) != decoded) std::abort();
    return 0;
}
