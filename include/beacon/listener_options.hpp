#pragma once
/// \file
/// Reading a configured listener's options (listener_context::options), for a listener type's
/// factory: counts, strings, wire formats; each bad value a config_error naming the option
/// (listener_context::fail). The listener types of beacon's parts (redis, outbound) use them.

#include <beacon/detail/json_guard.hpp>
#include <beacon/listener.hpp>
#include <beacon/wire_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace beacon {

/// Whether `key` is one of the loader's own settings left in listener_context::options ("use",
/// "actions", "resources"), not an option of the listener type. (The loader takes "async" and the
/// flat form's "async.<option>" out before the type's factory runs.)
inline bool loader_setting(std::string_view key) { return key == "use" || key == "actions" || key == "resources"; }

/// A configured count: a number, or a string of digits as in an ini file, at least `min`.
inline std::size_t config_count(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                std::size_t min, const char* what) {
    const bool natural = value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0);
    const std::string text = value.is_string() ? value.get<std::string>() : natural ? value.dump() : "";
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min) {
        c.fail(key, std::string("expected ") + what + ", got " +
                        (value.is_string() ? "\"" + detail::excerpt(text, 32) + "\"" : value.dump().substr(0, 32)));
    }
    return n;
}

/// A configured non-empty string.
inline std::string config_string(const listener_context& c, const std::string& key, const nlohmann::json& value) {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        c.fail(key, std::string("expected a non-empty string, got ") + (value.is_string() ? "\"\"" : value.type_name()));
    }
    return value.get<std::string>();
}

/// A configured flag: true or false, also as the strings "true" and "false" (an ini file's).
inline bool config_flag(const listener_context& c, const std::string& key, const nlohmann::json& value) {
    if (!value.is_boolean() && value != "true" && value != "false") {
        const std::string got = value.is_string() ? "\"" + detail::excerpt(value.get_ref<const std::string&>(), 32) + "\""
                                                  : std::string(value.type_name());
        c.fail(key, "expected true or false, got " + got);
    }
    return value.is_boolean() ? value.get<bool>() : value == "true";
}

/// A configured wire format by name: "envelope", "kinto", "cloudevents", or one of the host's `formats`.
inline wire_format config_format(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                 const std::vector<wire_format>& formats) {
    const std::string name = config_string(c, key, value);
    if (name == "envelope") return wire_format::envelope();
    if (name == "kinto") return wire_format::kinto();
    if (name == "cloudevents") return wire_format::cloudevents();
    const auto it = std::find_if(formats.begin(), formats.end(), [&](const wire_format& f) { return f.name() == name; });
    if (it == formats.end()) {
        std::string known = "envelope, kinto, cloudevents";
        for (const auto& f : formats) known += ", " + f.name();
        c.fail(key, "unknown wire format \"" + detail::excerpt(name, 64) + "\" (known: " + known + ")");
    }
    return *it;
}

}  // namespace beacon
