// libFuzzer target: Redis URL parsing (the `url` option of the Redis listener and consumer):
// redis:// and unix:// URLs with percent-escapes and query options, as redis-py reads them.
// Contract: a parsed endpoint (TCP: a host and a port in 1..65535; unix://: an absolute socket
// path of at most 107 bytes without NUL), or a beacon::config_error; nothing else. Every URL,
// valid or not, keeps its secrets: what lies between the scheme (if the URL starts with one) and
// the last '@', and the query's values but those of db and the timeouts, never influence the
// display form, any error message or anything parsed but the user and password. Checked by
// parsing the same URL with those parts rewritten, keeping only their syntax (the characters
// % : / ? # @ & = + [ ], a bad escape as it is, and an escaped '%'): every other character
// becomes another of its kind (one that may be in a scheme, or not), a valid escape another escape.
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

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// Rewrites url[begin, end) keeping its syntax (see above).
void rewrite(std::string& url, std::size_t begin, std::size_t end) {
    constexpr std::string_view syntax = "%:/?#@&=+[]";
    for (std::size_t i = begin; i < end; ++i) {
        char& c = url[i];
        if (c == '%') {
            if (i + 2 < url.size() && is_hex(url[i + 1]) && is_hex(url[i + 2])) {
                if (url[i + 1] == '2' && url[i + 2] == '5') {  // an escaped '%': kept
                } else if (url[i + 1] == '5' && (url[i + 2] == 'a' || url[i + 2] == 'A')) {
                    url[i + 2] = '9';  // 'Z' becomes 'Y'
                } else {
                    url[i + 1] = '5';
                    url[i + 2] = 'A';
                }
            }
            i += 2;  // a bad escape stays as it is
        } else if (syntax.find(c) == std::string_view::npos) {
            // A character that may be in a scheme stays one, so that no scheme appears or vanishes.
            const bool scheme = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                                c == '-' || c == '.';
            c = scheme ? (c == 'Z' ? 'Y' : 'Z') : (c == '!' ? '~' : '!');
        }
    }
}

bool shown(std::string_view name) { return name == "db" || name == "socket_timeout" || name == "socket_connect_timeout"; }

// Rewrites the values of `query` = url[begin, end) (split at '&') but those `shown`; when `cut`,
// its first item is the rest of a value that an '@' cut, rewritten whole.
void rewrite_query(std::string& url, std::size_t begin, std::size_t end, bool cut) {
    for (bool first = true; begin <= end; first = false) {
        std::size_t amp = url.find('&', begin);
        if (amp == std::string::npos || amp > end) amp = end;
        const std::string_view item(url.data() + begin, amp - begin);
        const auto eq = item.find('=');
        if (first && cut) {
            rewrite(url, begin, amp);
        } else if (eq != std::string_view::npos && !shown(item.substr(0, eq))) {
            rewrite(url, begin + eq + 1, amp);
        }
        begin = amp + 1;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view url(reinterpret_cast<const char*>(data), size);
    const outcome got = parse(url);
    const auto& ep = got.endpoint;
    if (got.parsed) {
        const bool tcp = ep.socket_path.empty() && !ep.host.empty() && ep.port >= 1 && ep.port <= 65535;
        const bool local = ep.host.empty() && !ep.socket_path.empty() && ep.socket_path.size() <= 107 && ep.socket_path.front() == '/' &&
                           ep.socket_path.find('\0') == std::string::npos;
        if (!(tcp || local) || ep.db < 0) std::abort();
        if (ep.host.find('\0') != std::string::npos || ep.host.size() > 255) std::abort();
        if ((ep.socket_timeout && ep.socket_timeout->count() < 1) || (ep.connect_timeout && ep.connect_timeout->count() < 1)) {
            std::abort();
        }
    }
    if (got.message.size() > 1024 || ep.url.size() > 1024) std::abort();

    // The secret parts, as masked_url finds them: from after a leading "<scheme>://" to the last
    // '@'; then the query (after the first '?' after that '@', or the rest of the URL when a '?'
    // came before it).
    std::string other(url);
    const auto at = url.rfind('@');
    const auto question = url.find('?');
    if (at != std::string_view::npos) {
        std::size_t begin = 0;
        if (const auto end = url.find("://"); end != std::string_view::npos && end > 0 && end < at &&
                                              url.substr(0, end).find_first_not_of(
                                                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.") ==
                                                  std::string_view::npos) {
            begin = end + 3;
        }
        rewrite(other, begin, at);
        if (question < at) {
            rewrite_query(other, at + 1, url.size(), true);
        } else if (question != std::string_view::npos) {
            rewrite_query(other, question + 1, url.size(), false);
        }
    } else if (question != std::string_view::npos) {
        rewrite_query(other, question + 1, url.size(), false);
    }
    if (other == url) return 0;
    const outcome masked = parse(other);
    const auto& mp = masked.endpoint;
    if (got.parsed != masked.parsed || got.message != masked.message || ep.url != mp.url || ep.host != mp.host ||
        ep.port != mp.port || ep.db != mp.db || ep.socket_path != mp.socket_path || ep.socket_timeout != mp.socket_timeout ||
        ep.connect_timeout != mp.connect_timeout) {
        std::abort();
    }
    return 0;
}
