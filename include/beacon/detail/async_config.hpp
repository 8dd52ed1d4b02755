#pragma once
// Reading a configured listener's "async" setting (see docs/async.md and docs/listeners.md).

#include <beacon/async.hpp>
#include <beacon/error.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <vector>

namespace beacon::detail {

// A configured listener's "async" setting: the adapter's options, and whether the listener
// listens after commit.
struct async_setting {
    async_options options;
    bool after_commit = false;
};

// Reads a configured listener's "async" setting from its `settings` (an object): absent, null or
// false: none; true: the defaults; an object of options; in the flat form also "async.<option>"
// keys. `key_of(name)` is the JSON pointer of the listener option `name`; errors are config_errors
// on `alias` naming the offending key.
inline std::optional<async_setting> read_async_setting(const nlohmann::json& settings, const std::string& alias,
                                                      const std::function<std::string(std::string_view)>& key_of) {
    using pointer = nlohmann::json::json_pointer;
    constexpr std::string_view known = "workers, queue, on_full, block_ms, order_by or after_commit";
    std::vector<std::tuple<std::string, const nlohmann::json*, std::string>> given;  // option, value, key
    const auto whole = settings.find("async");
    const bool enabled_whole = whole != settings.end() && !whole->is_null() && !(whole->is_boolean() && !whole->get<bool>());
    if (whole != settings.end() && !whole->is_null() && !whole->is_boolean()) {
        if (!whole->is_object()) {
            throw config_error(alias, key_of("async"), std::string("expected an object of async options or a boolean, got ") + whole->type_name());
        }
        for (const auto& [name, value] : whole->items()) given.emplace_back(name, &value, (pointer(key_of("async")) / name).to_string());
    }
    for (const auto& [key, value] : settings.items()) {  // the flat form: "async.workers": "2"
        if (key.size() > 6 && key.compare(0, 6, "async.") == 0) given.emplace_back(key.substr(6), &value, key_of(key));
    }
    if (!enabled_whole && given.empty()) return std::nullopt;
    if (whole != settings.end() && !enabled_whole) {
        throw config_error(alias, std::get<2>(given.front()), "an async option is set while \"async\" is " + whole->dump());
    }

    async_setting out;
    out.options.name = alias;
    std::set<std::string> seen;
    for (const auto& [name, value, key] : given) {
        auto fail = [&, &k = key](const std::string& details) { throw config_error(alias, k, details); };
        if (!seen.insert(name).second) fail("async option \"" + name + "\" is given twice");
        // Numbers: a JSON integer, or a string of digits (the flat form comes from ini files).
        auto number = [&, &v = *value](std::uint64_t low, std::uint64_t high) {
            std::uint64_t n = 0;
            bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
            if (ok) {
                n = v.get<std::uint64_t>();
            } else if (v.is_string()) {
                const auto& text = v.get_ref<const std::string&>();
                const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), n);
                ok = err == std::errc() && end == text.data() + text.size() && !text.empty();
            }
            if (!ok || n < low || n > high) {
                fail("expected an integer from " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                     v.dump().substr(0, 40));
            }
            return n;
        };
        auto word = [&, &v = *value, &k = key](std::initializer_list<std::string_view> words) {
            std::string list;
            for (auto w : words) {
                if (v.is_string() && v.get_ref<const std::string&>() == w) return w;
                list += (list.empty() ? "" : ", ") + std::string(w);
            }
            throw config_error(alias, k, "expected one of " + list + ", got " + v.dump().substr(0, 40));
        };
        if (name == "workers") {
            out.options.workers = static_cast<std::size_t>(number(1, async_options::max_workers));
        } else if (name == "queue") {
            out.options.queue = static_cast<std::size_t>(number(1, async_options::max_queue));
        } else if (name == "block_ms") {
            out.options.block_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(number(0, 3'600'000)));
        } else if (name == "on_full") {
            const auto w = word({"block", "drop_newest", "drop_oldest", "throw"});
            out.options.on_full = w == "block"         ? full_policy::block
                                  : w == "drop_newest" ? full_policy::drop_newest
                                  : w == "drop_oldest" ? full_policy::drop_oldest
                                                       : full_policy::throw_error;
        } else if (name == "order_by") {
            out.options.order_by = word({"sender", "uri"}) == "uri" ? order_key(by_uri) : order_key(by_sender);
        } else if (name == "after_commit") {
            if (value->is_boolean()) out.after_commit = value->get<bool>();
            else out.after_commit = word({"true", "false"}) == "true";
        } else {
            fail("unknown async option \"" + name.substr(0, 40) + "\" (expected " + std::string(known) + ")");
        }
    }
    return out;
}

}  // namespace beacon::detail
