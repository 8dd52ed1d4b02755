#pragma once
// Validation of signal and namespace names.

#include <beacon/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace beacon::detail {

inline constexpr std::size_t max_name_length = 256;

/// Throws name_error unless `name` is 1 to 256 bytes without control characters.
inline void check_name(std::string_view what, std::string_view name) {
    if (name.empty()) throw name_error(std::string(what) + " name is empty");
    if (name.size() > max_name_length) {
        throw name_error(std::string(what) + " name \"" + std::string(name.substr(0, 32)) + "...\" is " +
                         std::to_string(name.size()) + " bytes long (at most " +
                         std::to_string(max_name_length) + ")");
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c < 0x20 || c == 0x7f) {
            throw name_error(std::string(what) + " name has a control character (code " + std::to_string(c) +
                             ") at byte " + std::to_string(i));
        }
    }
}

}  // namespace beacon::detail
