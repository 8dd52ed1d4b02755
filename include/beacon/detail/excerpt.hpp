#pragma once
/// \file
/// Internals: a short printable excerpt of outside text, the only way error messages quote it.

#include <cstddef>
#include <string>
#include <string_view>

namespace beacon::detail {

/// At most `max` bytes of `text`, printable: bytes outside printable ASCII become \xNN, and a cut
/// is marked with "..." and the full length. Error messages quote bad input only through this.
inline std::string excerpt(std::string_view text, std::size_t max = 64) {
    constexpr char hex[] = "0123456789abcdef";
    std::string out;
    const std::size_t n = text.size() < max ? text.size() : max;
    out.reserve(n + 32);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            out += {'\\', 'x', hex[c >> 4], hex[c & 15]};
        }
    }
    if (n < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

}  // namespace beacon::detail
