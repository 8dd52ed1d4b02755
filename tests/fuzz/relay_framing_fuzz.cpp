// libFuzzer target: the framing check an outbox relay runs on each stored row before it hands the
// row's text on as it is (beacon::detail::framed_as_object, in <beacon/outbox.hpp>). The
// input is a row's text, any bytes; the first byte picks the depth limit (1 to 256), the rest is
// the text. Contract: the check returns without fault on any bytes, and it never refuses a text
// that beacon's decoder (decode_any, the envelope format's) takes within the same limits, unless
// the text starts with a byte order mark (which the decoder skips; the relay then decodes the
// row, and passes it on).
#include <beacon/outbox.hpp>
#include <beacon/wire_format.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    beacon::json_limits limits;
    limits.max_depth = std::size_t{data[0]} + 1;
    const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
    const bool framed = beacon::detail::framed_as_object(text, limits);
    bool decoded = true;
    try {
        (void)beacon::decode_any(text, limits);
    } catch (const beacon::decode_error&) {
        decoded = false;
    }
    if (decoded && !framed && text.substr(0, 3) != "\xEF\xBB\xBF") std::abort();
    return 0;
}
