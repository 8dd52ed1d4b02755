#pragma once
// The outbound part's guards on where a request may go: a URL parsed by libcurl (http or https, a
// host, its credentials kept out of every message) and the addresses a request must not reach
// unless the host allows them (loopback, private, link-local, shared, multicast, reserved).

#include <beacon/detail/json_guard.hpp>
#include <beacon/error.hpp>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace beacon::outbound::detail {

/// An endpoint's URL, checked: `url` as given (sent to libcurl), `shown` without credentials,
/// query, fragment or the path past its first segment (the one form any message quotes), `host`
/// as written in the URL.
struct checked_url {
    std::string url;
    std::string shown;
    std::string host;
};

struct curl_url_deleter {
    void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};

// One part of a parsed URL, or "" when it has none.
inline std::string url_part(CURLU* u, CURLUPart which) {
    char* text = nullptr;
    if (curl_url_get(u, which, &text, 0) != CURLUE_OK || !text) return {};
    std::string out(text);
    curl_free(text);
    return out;
}

/// Parses `url`; throws config_error at `key` (of `alias`) for anything but a URL with a host whose
/// scheme is `plain` or `secure` (http and https, smtp and smtps). The message never quotes the
/// credentials, query or fragment.
inline checked_url check_url(const std::string& url, const std::string& alias, const std::string& key,
                             std::string_view plain = "http", std::string_view secure = "https") {
    const std::unique_ptr<CURLU, curl_url_deleter> u(curl_url());
    if (!u) throw config_error(alias, key, "cannot parse a URL: out of memory");
    if (url.size() > 2048) throw config_error(alias, key, "a URL is at most 2048 bytes, this one has " + std::to_string(url.size()));
    if (const auto rc = curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
        // The text is not a URL: quote at most its scheme (letters, digits, + - . before "://"),
        // never what could be a user name or a password.
        const auto end = url.find("://");
        const bool scheme_like = end != std::string::npos && end > 0 && end <= 16 && std::isalpha(static_cast<unsigned char>(url[0])) &&
                                 std::all_of(url.begin(), url.begin() + static_cast<std::ptrdiff_t>(end), [](char c) {
                                     return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
                                 });
        const std::string scheme = scheme_like ? url.substr(0, end) : std::string();
        throw config_error(alias, key, std::string("not a URL (") + curl_url_strerror(rc) + ")" +
                                           (scheme.empty() ? "" : ", scheme \"" + scheme + "\""));
    }
    checked_url out;
    const std::string scheme = url_part(u.get(), CURLUPART_SCHEME);
    if (scheme != plain && scheme != secure) {
        throw config_error(alias, key, "unknown scheme \"" + ::beacon::detail::excerpt(scheme, 16) + "\" (the URL is " +
                                           std::string(plain) + " or " + std::string(secure) + ")");
    }
    out.host = url_part(u.get(), CURLUPART_HOST);
    if (out.host.empty()) throw config_error(alias, key, "the URL needs a host");
    out.url = url;
    // Shown: the path's first segment only (Slack's, Discord's and Teams' webhook URLs carry
    // their token in the path), and "/..." for the rest.
    const std::string port = url_part(u.get(), CURLUPART_PORT);
    const std::string path = url_part(u.get(), CURLUPART_PATH);
    const auto second = path.find('/', 1);
    out.shown = scheme + "://" + out.host + (port.empty() ? "" : ":" + port) +
                ::beacon::detail::excerpt(path.substr(0, second), 64) +
                (second == std::string::npos || second + 1 == path.size() ? "" : "/...");
    return out;
}

// Whether the first `bits` bits of `a` and `prefix` agree (IPv4 addresses in host order).
constexpr bool in_v4(std::uint32_t a, std::uint32_t prefix, int bits) noexcept {
    return bits == 0 || (a >> (32 - bits)) == (prefix >> (32 - bits));
}

/// Why a request must not go to the IPv4 address `a` (host order), or "" when it may.
inline std::string_view forbidden_v4(std::uint32_t a) noexcept {
    if (in_v4(a, 0x7F000000u, 8)) return "a loopback address";
    if (in_v4(a, 0x0A000000u, 8) || in_v4(a, 0xAC100000u, 12) || in_v4(a, 0xC0A80000u, 16)) return "a private address";
    if (in_v4(a, 0xA9FE0000u, 16)) return "a link-local address";
    if (in_v4(a, 0x64400000u, 10)) return "a shared (carrier-grade NAT) address";
    if (in_v4(a, 0x00000000u, 8)) return "an unspecified address";
    if (in_v4(a, 0xC0000000u, 24) || in_v4(a, 0xC6120000u, 15)) return "a special-purpose address";
    if (in_v4(a, 0xE0000000u, 4)) return "a multicast address";
    if (in_v4(a, 0xF0000000u, 4)) return "a reserved address";
    return {};
}

/// Why a request must not go to the IPv6 address `b` (16 bytes), or "" when it may. An IPv4
/// address inside one (mapped, NAT64, 6to4) is judged as IPv4.
inline std::string_view forbidden_v6(const std::array<std::uint8_t, 16>& b) noexcept {
    const auto v4_at = [&](std::size_t i) {
        return (std::uint32_t{b[i]} << 24) | (std::uint32_t{b[i + 1]} << 16) | (std::uint32_t{b[i + 2]} << 8) | b[i + 3];
    };
    const auto zeros = [&](std::size_t from, std::size_t to) {
        for (std::size_t i = from; i < to; ++i) {
            if (b[i] != 0) return false;
        }
        return true;
    };
    if (zeros(0, 15) && b[15] == 1) return "a loopback address";
    if (zeros(0, 16)) return "an unspecified address";
    if (zeros(0, 10) && b[10] == 0xFF && b[11] == 0xFF) return forbidden_v4(v4_at(12));               // ::ffff:a.b.c.d
    if (zeros(0, 8) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0) return forbidden_v4(v4_at(12));  // ::ffff:0:a.b.c.d
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && zeros(4, 12)) return forbidden_v4(v4_at(12));  // 64:ff9b::/96
    if (b[0] == 0x20 && b[1] == 0x02) return forbidden_v4(v4_at(2));                                   // 2002::/16
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0x00 && b[5] == 0x01) {
        return "a local-use NAT64 address";  // 64:ff9b:1::/48: the IPv4 inside may be anything local
    }
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) return "a Teredo address";  // 2001::/32
    if (b[0] == 0x01 && zeros(1, 8)) return "a discard-only address";                              // 100::/64
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "a site-local address";                      // fec0::/10
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "a link-local address";
    if ((b[0] & 0xFE) == 0xFC) return "a unique local (private) address";
    if (b[0] == 0xFF) return "a multicast address";
    if (zeros(0, 12)) return "a deprecated IPv4-compatible address";
    return {};
}

/// Why a request must not go to `address`, or "" when it may; `shown` gets the address as text.
inline std::string_view forbidden_address(const sockaddr* address, std::string& shown) noexcept {
    std::array<char, INET6_ADDRSTRLEN> text{};
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        ::inet_ntop(AF_INET, &in.sin_addr, text.data(), text.size());
        shown = text.data();
        return forbidden_v4(ntohl(in.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        ::inet_ntop(AF_INET6, &in6.sin6_addr, text.data(), text.size());
        shown = text.data();
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &in6.sin6_addr, 16);
        return forbidden_v6(bytes);
    }
    shown = "an address of family " + std::to_string(address->sa_family);
    return "not an internet address";
}

/// Why a request must not go to `host` when it is an IP literal ("" when it may, or when it is a
/// name: names are judged on the addresses they resolve to, when the request connects).
inline std::string_view forbidden_literal(std::string_view written) {
    std::string host(written);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    if (const auto zone = host.find('%'); zone != std::string::npos) host.resize(zone);
    in_addr v4{};
    if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return forbidden_v4(ntohl(v4.s_addr));
    in6_addr v6{};
    if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &v6, 16);
        return forbidden_v6(bytes);
    }
    return {};
}

}  // namespace beacon::outbound::detail
