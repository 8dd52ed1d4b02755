#pragma once
/// \file
/// Internals of the Redis bridge: Redis URLs read as redis-py reads them (redis:// and unix://,
/// percent-escapes, query options), their display form without secrets; a bad URL is a config_error.

#include <beacon/detail/excerpt.hpp>
#include <beacon/detail/percent.hpp>
#include <beacon/redis/error.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace beacon::redis::detail {

/// Where a Redis server is, from a `redis://` or `unix://` URL.
struct redis_endpoint {
    std::string url;          ///< The URL without its secrets, for messages (see `masked_url`).
    std::string host;         ///< Host name or address (TCP); empty for a unix socket.
    int port = 6379;          ///< TCP port.
    std::string socket_path;  ///< Path of a unix socket (unix://); empty for TCP.
    int db = 0;               ///< Database selected after connecting.
    std::string user;         ///< ACL user name (Redis 6+), empty for the default user.
    std::string password;     ///< Password, empty for none.
    /// `socket_timeout`: bounds each read and write, and connecting unless `connect_timeout` is set.
    std::optional<std::chrono::milliseconds> socket_timeout;
    /// `socket_connect_timeout`: bounds connecting.
    std::optional<std::chrono::milliseconds> connect_timeout;
};

/// The URL forms accepted, for messages.
inline constexpr const char* redis_url_forms =
    "redis://[[user]:password@]host[:port][/db][?option=value&...] or "
    "unix://[[user]:password@]/path/to/socket[?option=value&...]";

/// The query options accepted; the values of the first three are shown in the display form.
inline constexpr std::string_view redis_url_options[] = {"db", "socket_timeout", "socket_connect_timeout", "username",
                                                         "password"};

// Outside text in a message: a short printable excerpt, as the core quotes it.
using beacon::detail::excerpt;

/// How much of a URL (masked) or a channel name a message quotes.
inline constexpr std::size_t url_quote_bytes = 128;

// Whether the value of query option `name` (as written) is shown in the display form.
inline bool shown_url_option(std::string_view name) {
    return name == "db" || name == "socket_timeout" || name == "socket_connect_timeout";
}

// `query` (the part after '?', or the rest of one that an '@' cut) with every value but those of
// db and the timeouts as "***"; when `cut`, its first item continues a value before the '@'.
inline std::string masked_query(std::string_view query, bool cut) {
    std::string out;
    for (bool first = true;; first = false) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        const auto eq = item.find('=');
        if (first && cut) {
            out += "***";
        } else if (eq == std::string_view::npos || shown_url_option(item.substr(0, eq))) {
            out += item;
        } else {
            out += std::string(item.substr(0, eq)) + "=***";
        }
        if (amp == std::string_view::npos) break;
        out += '&';
        query = query.substr(amp + 1);
    }
    return out;
}

// The display form of a URL, for messages: everything before its last '@' (the credentials, and
// whatever else a malformed URL holds there) becomes "***", keeping only a scheme
// ("<letters, digits, + - .>://") that starts the URL; the query's values become "***" but for db
// and the timeouts (a password may be there); then cut to a short excerpt.
inline std::string masked_url(std::string_view url) {
    const auto at = url.rfind('@');
    const auto question = url.find('?');
    if (at == std::string_view::npos) {
        if (question == std::string_view::npos) return excerpt(url, url_quote_bytes);
        const auto query = masked_query(url.substr(question + 1), false);
        return excerpt(std::string(url.substr(0, question + 1)) + query, url_quote_bytes);
    }
    std::string scheme;
    if (const auto end = url.find("://"); end != std::string_view::npos && end < at && end > 0) {
        const auto candidate = url.substr(0, end);
        const bool valid = std::all_of(candidate.begin(), candidate.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                   c == '-' || c == '.';
        });
        if (valid) scheme = std::string(url.substr(0, end + 3));
    }
    std::string out = scheme + "***@";
    const std::string_view tail = url.substr(at + 1);
    if (question < at) {
        out += masked_query(tail, true);  // the '@' was in the query: the tail is the rest of it
    } else if (const auto q = tail.find('?'); q != std::string_view::npos) {
        out += std::string(tail.substr(0, q + 1)) + masked_query(tail.substr(q + 1), false);
    } else {
        out += tail;
    }
    return excerpt(out, url_quote_bytes);
}

[[noreturn]] inline void url_fail(const std::string& display, const std::string& what) {
    throw config_error("", "/url", "url \"" + display + "\": " + what);
}

// `text` decoded; a bad escape fails naming `part`.
inline std::string url_decode(std::string_view text, bool plus_is_space, const std::string& display, const std::string& part) {
    auto decoded = beacon::detail::percent_decode(text, plus_is_space, false);
    if (!decoded) url_fail(display, "bad percent-escape in the " + part + " (expected % and two hex digits, e.g. %40 for @)");
    return std::move(*decoded);
}

inline int parse_url_number(std::string_view text, int min, int max, const std::string& display, const std::string& what) {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        url_fail(display, "bad " + what + " \"" + excerpt(text, 32) + "\" (expected a whole number in " +
                              std::to_string(min) + ".." + std::to_string(max) + ")");
    }
    return value;
}

// Seconds as redis-py's float() reads them, but only digits with an optional fraction ("0.5",
// "2", ".25"), rounded up to whole milliseconds, from 0.001 to 86400.
inline std::chrono::milliseconds parse_url_seconds(std::string_view text, const std::string& display, std::string_view name) {
    const auto dot = text.find('.');
    const std::string_view whole = text.substr(0, dot);
    const std::string_view fraction = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
    const auto digits = [](std::string_view s) { return s.find_first_not_of("0123456789") == std::string_view::npos; };
    long long ms = 0;
    const auto first = whole.find_first_not_of('0');
    const std::string_view significant = first == std::string_view::npos ? std::string_view() : whole.substr(first);
    // At most 5 significant digits before the point: no overflow below.
    bool ok = digits(whole) && digits(fraction) && (!whole.empty() || !fraction.empty()) && significant.size() <= 5;
    if (ok) {
        for (char c : significant) ms = ms * 10 + (c - '0');
        ms *= 1000;
        long long scale = 100;  // the first three digits after the point are milliseconds
        for (std::size_t i = 0; i < 3; ++i, scale /= 10) ms += (i < fraction.size() ? fraction[i] - '0' : 0) * scale;
        if (fraction.size() > 3 && fraction.substr(3).find_first_not_of('0') != std::string_view::npos) ++ms;
        ok = ok && ms >= 1 && ms <= 86400000;
    }
    if (!ok) {
        url_fail(display, "bad value \"" + excerpt(text, 32) + "\" for URL option " + std::string(name) +
                              " (expected seconds from 0.001 to 86400, e.g. 0.5)");
    }
    return std::chrono::milliseconds(ms);
}

// The host of a redis:// URL from its authority (after the user info): "name", "name:port",
// "[v6]" or "[v6]:port"; percent-escapes decoded.
inline void parse_url_authority(std::string_view authority, redis_endpoint& ep) {
    std::string_view host = authority;
    if (const auto colon = host.rfind(':'); colon != std::string_view::npos && host.find(']', colon) == std::string_view::npos) {
        ep.port = parse_url_number(host.substr(colon + 1), 1, 65535, ep.url, "port");
        host = host.substr(0, colon);
    }
    const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
    if (bracketed) host = host.substr(1, host.size() - 2);
    if (host.empty()) url_fail(ep.url, std::string("missing host (expected ") + redis_url_forms + ")");
    ep.host = url_decode(host, false, ep.url, "host");
    const bool printable = std::all_of(ep.host.begin(), ep.host.end(), [&](char c) {
        return c > 0x20 && c < 0x7f && c != '[' && c != ']' && c != '@' && c != '/' && (bracketed || c != ':');
    });
    if (!printable || ep.host.empty() || ep.host.size() > 255) {
        url_fail(ep.url, "bad host \"" + excerpt(ep.host, 64) + "\" (expected a name, an IPv4 address or an [IPv6] address)");
    }
}

// The query of a URL (after '?'): each option of `redis_url_options` at most once, with a value.
// Returns the db it names, if any; `user` and `password` get those it names.
inline std::optional<int> parse_url_query(std::string_view query, redis_endpoint& ep, std::string& user, std::string& password) {
    std::optional<int> db;
    std::vector<std::string_view> seen;
    for (;;) {
        const auto amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        if (!item.empty()) {
            const auto eq = item.find('=');
            const std::string_view name = item.substr(0, eq);
            if (std::find(std::begin(redis_url_options), std::end(redis_url_options), name) == std::end(redis_url_options)) {
                url_fail(ep.url, "unknown URL option \"" + excerpt(name, 32) +
                                     "\" (accepted: db, socket_timeout, socket_connect_timeout, username, password)");
            }
            const std::string option(name);
            if (std::find(seen.begin(), seen.end(), name) != seen.end()) url_fail(ep.url, "URL option " + option + " given twice");
            seen.push_back(name);
            if (eq == std::string_view::npos || eq + 1 == item.size()) url_fail(ep.url, "URL option " + option + " has no value");
            // As redis-py (parse_qs, then unquote): decoded twice, the second time leniently.
            const std::string value =
                *beacon::detail::percent_decode(url_decode(item.substr(eq + 1), true, ep.url, "value of URL option " + option), false, true);
            if (name == "db") {
                db = parse_url_number(value, 0, 1 << 30, ep.url, "value for URL option db");
            } else if (name == "socket_timeout") {
                ep.socket_timeout = parse_url_seconds(value, ep.url, name);
            } else if (name == "socket_connect_timeout") {
                ep.connect_timeout = parse_url_seconds(value, ep.url, name);
            } else {
                (name == "username" ? user : password) = value;
            }
        }
        if (amp == std::string_view::npos) break;
        query = query.substr(amp + 1);
    }
    return db;
}

/// Parses a `redis://` or `unix://` URL as redis-py does; throws config_error naming the URL
/// (masked, see `masked_url`) and the part that is wrong.
inline redis_endpoint parse_redis_url(std::string_view url) {
    redis_endpoint ep;
    ep.url = masked_url(url);
    const auto scheme_is = [&](std::string_view scheme) {
        return url.size() >= scheme.size() && std::equal(scheme.begin(), scheme.end(), url.begin(), [](char a, char b) {
                   return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
               });
    };
    if (scheme_is("rediss://")) {
        url_fail(ep.url, "rediss:// (TLS) is not supported: this build's hiredis (Debian's 0.14.1) has no TLS, which came "
                         "with hiredis 1.0; reach a TLS server through a local TLS tunnel (e.g. stunnel) with redis://, "
                         "or build with a newer hiredis");
    }
    const bool unix_socket = scheme_is("unix://");
    if (!unix_socket && !scheme_is("redis://")) url_fail(ep.url, std::string("unknown scheme (expected ") + redis_url_forms + ")");
    std::string_view rest = url.substr(unix_socket ? 7 : 8);

    std::string user;
    std::string password;
    if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
        const std::string_view userinfo = rest.substr(0, at);
        if (userinfo.find_first_of("/?#") != std::string_view::npos) {
            url_fail(ep.url, "'/', '?' or '#' before the last '@': percent-encode them in a user name or password "
                             "(%2F, %3F, %23), and an '@' after the host (%40)");
        }
        const auto colon = userinfo.find(':');
        user = url_decode(userinfo.substr(0, colon), false, ep.url, "user name");
        if (colon != std::string_view::npos) password = url_decode(userinfo.substr(colon + 1), false, ep.url, "password");
        rest = rest.substr(at + 1);
    }
    if (rest.find('#') != std::string_view::npos) url_fail(ep.url, "a fragment ('#') is not accepted in a Redis URL");
    std::optional<int> query_db;
    std::string query_user;
    std::string query_password;
    if (const auto question = rest.find('?'); question != std::string_view::npos) {
        query_db = parse_url_query(rest.substr(question + 1), ep, query_user, query_password);
        rest = rest.substr(0, question);
    }
    // As redis-py: the user info wins over the query's username and password.
    ep.user = user.empty() ? query_user : user;
    ep.password = password.empty() ? query_password : password;

    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
    if (unix_socket) {
        if (!authority.empty()) url_fail(ep.url, "a unix:// URL has no host (expected unix:///path/to/socket)");
        ep.socket_path = url_decode(path, false, ep.url, "socket path");
        if (ep.socket_path.empty()) url_fail(ep.url, "missing socket path (expected unix:///path/to/socket)");
        if (ep.socket_path.find('\0') != std::string::npos) url_fail(ep.url, "the socket path holds a NUL byte");
        // sockaddr_un's sun_path holds 108 bytes, the terminating NUL included.
        if (ep.socket_path.size() > 107) url_fail(ep.url, "socket path longer than 107 bytes");
        if (query_db) ep.db = *query_db;
        return ep;
    }
    parse_url_authority(authority, ep);
    // The path's db ("/2"); as redis-py, a db in the query wins over it.
    const std::string db_path = url_decode(path, false, ep.url, "path");
    if (db_path.size() > 1) ep.db = parse_url_number(std::string_view(db_path).substr(1), 0, 1 << 30, ep.url, "database number");
    if (query_db) ep.db = *query_db;
    return ep;
}

}  // namespace beacon::redis::detail
