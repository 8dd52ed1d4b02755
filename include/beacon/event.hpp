#pragma once
/// \file
/// The one payload every beacon signal carries, and its JSON wire shape (Kinto's).

#include <beacon/error.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <limits>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon {

/// What happened to the resource (Kinto's ACTIONS).
enum class action { create, update, delete_, read };

/// The wire name of an action: "create", "update", "delete" or "read".
constexpr std::string_view to_string(action a) noexcept {
    constexpr std::array<std::string_view, 4> names{"create", "update", "delete", "read"};
    return names[static_cast<std::size_t>(a)];
}

/// The action named `name` ("create", "update", "delete", "read"), or nothing.
constexpr std::optional<action> parse_action(std::string_view name) noexcept {
    for (action a : {action::create, action::update, action::delete_, action::read}) {
        if (to_string(a) == name) return a;
    }
    return std::nullopt;
}

/// One record an event touched: `old_value` is absent on create, `new_value` on delete.
struct impacted_record {
    std::optional<nlohmann::json> old_value;  ///< The record before the change ("old").
    std::optional<nlohmann::json> new_value;  ///< The record after the change ("new").

    /// Field-wise equality.
    friend bool operator==(const impacted_record& a, const impacted_record& b) {
        return a.old_value == b.old_value && a.new_value == b.new_value;
    }
    /// Field-wise inequality.
    friend bool operator!=(const impacted_record& a, const impacted_record& b) { return !(a == b); }
};

/// The payload of every signal: who sent it, what happened to which resource, and the details.
struct event {
    std::string sender;                            ///< Who sends: an action name, a user, an id.
    std::optional<::beacon::action> action;        ///< What happened, when it is a resource change.
    std::string resource_name;                     ///< "bucket", "record", "article", ...
    std::string uri;                               ///< The uri of the impacted resource.
    std::string user_id;                           ///< The authenticated user, if any.
    std::int64_t timestamp = 0;                    ///< Milliseconds since epoch; 0: stamped at send.
    nlohmann::json data = nlohmann::json::object();  ///< Ids and keyword arguments (an object).
    std::vector<impacted_record> impacted_records;   ///< The records the change touched.

    event() = default;
    /// An event from `sender` carrying `data` (CKAN's `send(sender, **kwargs)`).
    explicit event(std::string sender, nlohmann::json data = nlohmann::json::object())
        : sender(std::move(sender)), data(std::move(data)) {}

    /// Adds or replaces `data[key]` and returns the event, for chaining.
    event& set(std::string_view key, nlohmann::json value) & {
        data[std::string(key)] = std::move(value);
        return *this;
    }
    /// Adds or replaces `data[key]` on a temporary and returns it, for chaining.
    event&& set(std::string_view key, nlohmann::json value) && { return std::move(set(key, std::move(value))); }

    /// Sets `timestamp` to now when it is 0.
    void stamp() noexcept {
        if (timestamp == 0) timestamp = now_ms();
    }

    /// Milliseconds since the Unix epoch, from the system clock.
    static std::int64_t now_ms() noexcept {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }

    /// Field-wise equality.
    friend bool operator==(const event& a, const event& b) {
        return a.sender == b.sender && a.action == b.action && a.resource_name == b.resource_name &&
               a.uri == b.uri && a.user_id == b.user_id && a.timestamp == b.timestamp &&
               a.data == b.data && a.impacted_records == b.impacted_records;
    }
    /// Field-wise inequality.
    friend bool operator!=(const event& a, const event& b) { return !(a == b); }
};

/// Writes an action as its wire name.
inline void to_json(nlohmann::json& j, action a) { j = to_string(a); }

namespace detail {

inline constexpr std::array<std::string_view, 5> payload_fields{"timestamp", "action", "uri", "user_id",
                                                                "resource_name"};

inline std::string pointer(const nlohmann::json::json_pointer& p) { return p.to_string(); }

[[noreturn]] inline void wrong_type(const nlohmann::json::json_pointer& at, const char* expected,
                                    const nlohmann::json& got) {
    throw decode_error(pointer(at), std::string("expected ") + expected + ", got " + got.type_name());
}

inline action read_action(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
    if (!j.is_string()) wrong_type(at, "an action name", j);
    const auto parsed = parse_action(j.get_ref<const std::string&>());
    if (!parsed) {
        throw decode_error(pointer(at), "unknown action \"" + j.get<std::string>() +
                                            "\" (expected create, update, delete or read)");
    }
    return *parsed;
}

inline std::int64_t read_timestamp(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
    const bool fits = j.is_number_unsigned()
                          ? j.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                          : j.is_number_integer() && j.get<std::int64_t>() >= 0;
    if (!fits) wrong_type(at, "a non-negative integer (milliseconds since epoch)", j);
    return j.get<std::int64_t>();
}

inline std::string read_string(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
    if (j.is_null()) return {};
    if (!j.is_string()) wrong_type(at, "a string", j);
    return j.get<std::string>();
}

inline impacted_record read_record(const nlohmann::json& j, const nlohmann::json::json_pointer& at) {
    if (!j.is_object()) wrong_type(at, "an object with \"old\" and/or \"new\"", j);
    impacted_record record;
    for (const auto& [key, value] : j.items()) {
        if (key == "old") {
            record.old_value = value;
        } else if (key == "new") {
            record.new_value = value;
        } else {
            throw decode_error(pointer(at / key), "unknown key in an impacted record (expected \"old\" or \"new\")");
        }
    }
    return record;
}

inline void read_payload(const nlohmann::json& j, const nlohmann::json::json_pointer& at, event& e) {
    if (!j.is_object()) wrong_type(at, "an object", j);
    for (const auto& [key, value] : j.items()) {
        const auto here = at / key;
        if (key == "timestamp") {
            e.timestamp = read_timestamp(value, here);
        } else if (key == "action") {
            if (!value.is_null()) e.action = read_action(value, here);
        } else if (key == "uri") {
            e.uri = read_string(value, here);
        } else if (key == "user_id") {
            e.user_id = read_string(value, here);
        } else if (key == "resource_name") {
            e.resource_name = read_string(value, here);
        } else {
            e.data[key] = value;
        }
    }
}

}  // namespace detail

/// Reads an action from its wire name; throws decode_error for anything else.
inline void from_json(const nlohmann::json& j, action& a) { a = detail::read_action(j, nlohmann::json::json_pointer()); }

/// Writes `e` in Kinto's wire shape: {"sender", "payload": {timestamp, action, uri, user_id,
/// resource_name, <data keys>}, "impacted_records": [{"old", "new"}]}.
/// Throws encode_error when `data` is not an object or has a key that a payload field owns.
inline void to_json(nlohmann::json& j, const event& e) {
    if (!e.data.is_object()) {
        throw encode_error("/data", std::string("must be a JSON object, got ") + e.data.type_name());
    }
    nlohmann::json payload = e.data;
    for (auto field : detail::payload_fields) {
        if (payload.contains(field)) {
            throw encode_error("/data/" + std::string(field),
                               "this key is a payload field of its own; rename the data key");
        }
    }
    payload["timestamp"] = e.timestamp;
    if (e.action) payload["action"] = *e.action;
    payload["uri"] = e.uri;
    payload["user_id"] = e.user_id;
    payload["resource_name"] = e.resource_name;

    nlohmann::json records = nlohmann::json::array();
    for (const auto& record : e.impacted_records) {
        nlohmann::json r = nlohmann::json::object();
        if (record.old_value) r["old"] = *record.old_value;
        if (record.new_value) r["new"] = *record.new_value;
        records.push_back(std::move(r));
    }
    j = nlohmann::json{{"sender", e.sender}, {"payload", std::move(payload)}, {"impacted_records", std::move(records)}};
}

/// Reads an event from Kinto's wire shape; "payload" is required, "sender" and
/// "impacted_records" are optional. Throws decode_error naming the JSON pointer of the bad value.
inline void from_json(const nlohmann::json& j, event& e) {
    using pointer = nlohmann::json::json_pointer;
    const pointer root;
    if (!j.is_object()) detail::wrong_type(root, "an event object", j);
    event out;
    bool has_payload = false;
    for (const auto& [key, value] : j.items()) {
        const auto here = root / key;
        if (key == "sender") {
            out.sender = detail::read_string(value, here);
        } else if (key == "payload") {
            detail::read_payload(value, here, out);
            has_payload = true;
        } else if (key == "impacted_records") {
            if (!value.is_array()) detail::wrong_type(here, "an array", value);
            for (std::size_t i = 0; i < value.size(); ++i) {
                out.impacted_records.push_back(detail::read_record(value[i], here / i));
            }
        } else {
            throw decode_error(detail::pointer(here),
                               "unknown key (expected \"sender\", \"payload\" or \"impacted_records\")");
        }
    }
    if (!has_payload) throw decode_error("", "missing required key \"payload\"");
    e = std::move(out);
}

/// Parses event JSON text; syntax errors and malformed events both throw decode_error.
inline event parse_event(std::string_view text) {
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& bad) {  // parse_error, or out_of_range for a number overflow
        throw decode_error("", std::string("not valid JSON: ") + bad.what());
    }
    return j.get<event>();
}

}  // namespace beacon
