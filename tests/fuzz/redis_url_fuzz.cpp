// libFuzzer target: Redis URL parsing (the `url` option of the Redis listener and consumer).
// Contract: a parsed endpoint with a port in 1..65535, or a beacon::config_error; nothing else.
// Every URL, valid or not, keeps its secret: whatever lies between the scheme (if the URL starts
// with one) and the last '@' never influences the display form or any error message (both are
// compared with those of the same URL with that part replaced), and a message stays short.
#include <beacon/redis.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

struct outcome {
    bool parsed = false;
    beacon::redis::detail::redis_endpoint endpoint;
    std::string message;
};

outcome parse(std::string_view url) {
    outcome out;
    try {
        out.endpoint = beacon::redis::detail::parse_redis_url(url);
        out.parsed = true;
    } catch (const beacon::config_error& e) {
        out.message = e.what();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view url(reinterpret_cast<const char*>(data), size);
    const outcome got = parse(url);
    if (got.parsed && (got.endpoint.port < 1 || got.endpoint.port > 65535 || got.endpoint.db < 0)) std::abort();
    if (got.message.size() > 1024 || got.endpoint.url.size() > 1024) std::abort();

    const auto at = url.rfind('@');
    if (at == std::string_view::npos) return 0;
    // The secret part: from after a leading "<scheme>://" (the masking's own rule) to the last '@'.
    std::size_t begin = 0;
    if (const auto end = url.find("://"); end != std::string_view::npos && end > 0 && end < at &&
                                          url.substr(0, end).find_first_not_of(
                                              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
                                              std::string_view::npos) {
        begin = end + 3;
    }
    std::string other(url);
    for (std::size_t i = begin; i < at; ++i) other[i] = other[i] == 'Z' ? 'Y' : 'Z';
    const outcome masked = parse(other);
    if (got.parsed != masked.parsed || got.message != masked.message || got.endpoint.url != masked.endpoint.url ||
        got.endpoint.host != masked.endpoint.host || got.endpoint.port != masked.endpoint.port ||
        got.endpoint.db != masked.endpoint.db) {
        std::abort();
    }
    return 0;
}
