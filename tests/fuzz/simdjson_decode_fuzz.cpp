// libFuzzer target: beacon::simdjson's decoders against the core's, on the same bytes. The input
// is a message's text, any bytes (scripts/fuzz feeds up to 1 MiB; the seeds are copies of
// wire_decode's and cloudevents_decode's); each text is decoded under the default limits and under
// a small max_depth taken from its size (1 to 8), to cross the depth margin the fast path keeps.
// Contract: simdjson::decode_any, decode_kinto and decode_cloudevent return the event the core's
// decoders of those names return, every JSON value of the same type (a float of the same sign), or
// throw the same decode_error (message, path and reason); nothing else escapes either side.
#include <beacon/simdjson/decode.hpp>

#include "../same_decoding.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using beacon_test::decode_with;
    using beacon_test::same_outcome;
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    beacon::json_limits small;
    small.max_depth = 1 + size % 8;
    for (const auto& limits : {beacon::json_limits{}, small}) {
        if (!same_outcome(decode_with(beacon::simdjson::decode_any, text, limits),
                          decode_with(beacon::decode_any, text, limits)) ||
            !same_outcome(decode_with(beacon::simdjson::decode_kinto, text, limits),
                          decode_with(beacon::decode_kinto, text, limits)) ||
            !same_outcome(decode_with(beacon::simdjson::decode_cloudevent, text, limits),
                          decode_with(beacon::decode_cloudevent, text, limits))) {
            std::abort();
        }
    }
    return 0;
}
