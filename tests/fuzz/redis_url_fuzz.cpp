// libFuzzer target: Redis URL parsing (the `url` option of the Redis listener and consumer).
// Contract: a parsed endpoint with a port in 1..65535 and its credentials masked in its display
// form, or a beacon::redis_error; nothing else.
#include <beacon/redis.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view url(reinterpret_cast<const char*>(data), size);
    beacon::detail::redis_endpoint ep;
    try {
        ep = beacon::detail::parse_redis_url(url);
    } catch (const beacon::redis_error&) {
        return 0;
    }
    if (ep.port < 1 || ep.port > 65535 || ep.db < 0) std::abort();
    // Credentials never reach the display form: everything between the scheme and the last '@' is masked.
    const auto at = url.rfind('@');
    if (at != std::string_view::npos && ep.url != "redis://***" + std::string(url.substr(at))) std::abort();
    return 0;
}
