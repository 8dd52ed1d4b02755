#pragma once
// Web push internals: reading a notification's fields back from an event, for the filters.

#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

namespace beacon::web::detail {

// data[key] when it is an array, else nullptr.
inline const nlohmann::json* string_list(const event& e, const char* key) {
    const auto it = e.data.find(key);
    return it != e.data.end() && it->is_array() ? &*it : nullptr;
}

// data["expiration_datetime"] when it is an integer.
inline std::optional<std::int64_t> expiration_of(const event& e) {
    const auto it = e.data.find("expiration_datetime");
    if (it == e.data.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

}  // namespace beacon::web::detail
