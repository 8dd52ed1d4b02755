#pragma once
/// \file
/// Internals: percent-decoding, shared by the web part's query strings and the Redis part's URLs.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace beacon::detail {

// `text` with its %XX escapes decoded, and '+' as a space when `plus_is_space` (a query string,
// as HTML forms and Python's parse_qs read it); nullopt for a bad escape ('%' not followed by two
// hex digits), unless `lenient` (as Python's unquote: a bad escape stays as it is).
inline std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space, bool lenient) {
    const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%') {
            const int hi = i + 2 < text.size() ? hex(text[i + 1]) : -1;
            const int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
            } else if (lenient) {
                out += '%';
            } else {
                return std::nullopt;
            }
        } else {
            out += plus_is_space && text[i] == '+' ? ' ' : text[i];
        }
    }
    return out;
}

}  // namespace beacon::detail
