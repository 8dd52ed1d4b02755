#pragma once
// Web push internals: what an error message may quote of outside input.

#include <string>
#include <string_view>

namespace beacon::web::detail {

// At most `max` bytes of `text`, control characters replaced by '?', with "..." when cut.
inline std::string excerpt(std::string_view text, std::size_t max = 64) {
    std::string out;
    for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (text.size() > max) out += "...";
    return out;
}

}  // namespace beacon::web::detail
