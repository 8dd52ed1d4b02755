#pragma once
/// \file
/// The one payload every beacon signal carries, and its JSON wire shape (beacon's envelope; Kinto's
/// own flat payload is a wire format of <beacon/wire_format.hpp>).

#include <beacon/detail/json_guard.hpp>
#include <beacon/error.hpp>
#include <beacon/event_id.hpp>
#include <beacon/trace.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
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

/// The payload of every signal: who sent it, what happened to which resource, and the details;
/// and its identity (id, source, type: with them every event is a CloudEvent) and trace context.
struct event {
    ::beacon::event_id id;                         ///< Unique across machines, sorts by time; nil: stamped at send.
    std::string source;                            ///< A URI reference naming the producer; "": the registry's, at send.
    std::string type;                              ///< What kind of event; "": the signal's "<namespace>.<name>", at send.
    trace_context trace;                           ///< W3C trace context; empty: the cause's or the tracer's, at send.
    ::beacon::event_id cause;                      ///< The id of the event whose receiver sent this one; nil: none.
    std::string sender;                            ///< Who sends: an action name, a user, an id.
    std::optional<::beacon::action> action;        ///< What happened, when it is a resource change.
    std::string resource_name;                     ///< "bucket", "record", "article", ...
    std::string uri;                               ///< The uri of the impacted resource.
    std::string user_id;                           ///< The authenticated user, if any.
    std::int64_t timestamp = 0;                    ///< Milliseconds since epoch; 0: stamped at send.
    nlohmann::json data = nlohmann::json::object();  ///< Ids and keyword arguments (an object).
    std::vector<impacted_record> impacted_records;   ///< The records the change touched.

    event() = default;
    /// An event from `from` carrying `payload` as its data (CKAN's `send(sender, **kwargs)`).
    explicit event(std::string from, nlohmann::json payload = nlohmann::json::object())
        : sender(std::move(from)), data(std::move(payload)) {}

    /// Adds or replaces `data[key]` and returns the event, for chaining.
    event& set(std::string_view key, nlohmann::json value) & {
        data[std::string(key)] = std::move(value);
        return *this;
    }
    /// Adds or replaces `data[key]` on a temporary and returns it, for chaining.
    event&& set(std::string_view key, nlohmann::json value) && { return std::move(set(key, std::move(value))); }

    /// Stamps a new event: a nil `id` becomes a new version 7 id and a 0 `timestamp` its time; then,
    /// when the event has none, the trace context and cause of the event whose receiver runs in this
    /// thread (or the innermost trace_scope's context, or the trace_provider's). An event whose id is
    /// set (a redelivered or forwarded one) keeps its trace and cause. The signal that sends it also
    /// fills `type` and `source` (see signal::stamp).
    void stamp() {
        if (!id.is_nil()) {
            if (timestamp == 0) timestamp = now_ms();
            return;
        }
        const auto now = std::chrono::system_clock::now().time_since_epoch();
        id = ::beacon::event_id::make(now);
        if (timestamp == 0) timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
        if (cause.is_nil()) {
            if (const auto* handling = current_cause()) cause = *handling;
        }
        if (!trace.valid()) {
            if (const auto* context = current_trace()) {
                trace = *context;
            } else if (const auto provider = detail::trace_provider_slot().load(std::memory_order_acquire)) {
                trace_context from_tracer;
                if (provider(from_tracer) && from_tracer.valid()) trace = std::move(from_tracer);
            }
        }
    }

    /// Milliseconds since the Unix epoch, from the system clock.
    static std::int64_t now_ms() noexcept {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }

    /// Field-wise equality.
    friend bool operator==(const event& a, const event& b) {
        return a.id == b.id && a.source == b.source && a.type == b.type && a.trace == b.trace &&
               a.cause == b.cause && a.sender == b.sender && a.action == b.action && a.resource_name == b.resource_name &&
               a.uri == b.uri && a.user_id == b.user_id && a.timestamp == b.timestamp &&
               a.data == b.data && a.impacted_records == b.impacted_records;
    }
    /// Field-wise inequality.
    friend bool operator!=(const event& a, const event& b) { return !(a == b); }
};

/// Writes an action as its wire name.
inline void to_json(nlohmann::json& j, action a) { j = to_string(a); }

/// Bounds applied to JSON that comes from outside (parse_event, a Redis consumer) and to the
/// JSON of events beacon copies or serializes (to_json, a send that stamps a copy).
struct json_limits {
    /// Longest accepted text, in bytes: longer text is rejected before parsing (decode_reason::too_large).
    std::size_t max_bytes = std::size_t{16} << 20;
    /// Deepest accepted nesting of arrays and objects, the event object itself being level 1
    /// (so a payload's own values start at level 3, an impacted record's "old"/"new" at level 4).
    /// Kinto payloads and records nest a few levels; 128 (serde_json's default) leaves records
    /// over 120 levels, while nlohmann's recursive copy, comparison and dump then use tens of KiB
    /// of stack at most, far below the 8 MiB of a main thread or the 2 MiB of a default thread.
    std::size_t max_depth = 128;
};

namespace detail {

inline constexpr std::array<std::string_view, 5> payload_fields{"timestamp", "action", "uri", "user_id",
                                                                "resource_name"};

inline std::string pointer(const nlohmann::json::json_pointer& p) { return pointer_text(p); }
inline std::string pointer(const json_path& p) { return pointer_text(p.pointer()); }

[[noreturn]] inline void wrong_type(const json_path& at, const char* expected, const nlohmann::json& got) {
    throw decode_error(pointer(at), std::string("expected ") + expected + ", got " + got.type_name());
}

inline action read_action(const nlohmann::json& j, const json_path& at) {
    if (!j.is_string()) wrong_type(at, "an action name", j);
    const auto parsed = parse_action(j.get_ref<const std::string&>());
    if (!parsed) {
        throw decode_error(pointer(at), "unknown action \"" + excerpt(j.get_ref<const std::string&>()) +
                                            "\" (expected create, update, delete or read)");
    }
    return *parsed;
}

inline std::int64_t read_timestamp(const nlohmann::json& j, const json_path& at) {
    const bool fits = j.is_number_unsigned()
                          ? j.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
                          : j.is_number_integer() && j.get<std::int64_t>() >= 0;
    if (!fits) wrong_type(at, "a non-negative integer (milliseconds since epoch)", j);
    return j.get<std::int64_t>();
}

inline std::string read_string(nlohmann::json& j, const json_path& at) {
    if (j.is_null()) return {};
    if (!j.is_string()) wrong_type(at, "a string", j);
    return std::move(j.get_ref<std::string&>());
}

// The readers below take the parsed document by non-const reference and move its values into
// the event: decoding costs no second copy of the data, and no recursive copy at all.
inline impacted_record read_record(nlohmann::json& j, const json_path& at) {
    if (!j.is_object()) wrong_type(at, "an object with \"old\" and/or \"new\"", j);
    impacted_record record;
    for (auto& [key, value] : j.items()) {
        if (key == "old") {
            record.old_value = std::move(value);
        } else if (key == "new") {
            record.new_value = std::move(value);
        } else {
            throw decode_error(pointer(at / key), "unknown key in an impacted record (expected \"old\" or \"new\")");
        }
    }
    return record;
}

inline void read_payload(nlohmann::json& j, const json_path& at, event& e) {
    if (!j.is_object()) wrong_type(at, "an object", j);
    for (auto& [key, value] : j.items()) {
        if (key == "timestamp") {
            e.timestamp = read_timestamp(value, at / key);
        } else if (key == "action") {
            if (!value.is_null()) e.action = read_action(value, at / key);
        } else if (key == "uri") {
            e.uri = read_string(value, at / key);
        } else if (key == "user_id") {
            e.user_id = read_string(value, at / key);
        } else if (key == "resource_name") {
            e.resource_name = read_string(value, at / key);
        } else {
            e.data[key] = std::move(value);
        }
    }
}

inline ::beacon::event_id read_id(const nlohmann::json& j, const json_path& at) {
    if (!j.is_string()) wrong_type(at, "an event id (a UUID string)", j);
    const auto& text = j.get_ref<const std::string&>();
    const auto parsed = ::beacon::event_id::parse(text);
    if (!parsed || parsed->is_nil()) {
        throw decode_error(pointer(at), "expected a UUID other than nil (8-4-4-4-12 hexadecimal digits), got \"" +
                                            excerpt(text) + "\"");
    }
    return *parsed;
}

// The identity keys beacon's envelope and the CloudEvents format share; `trace_parent` and
// `trace_state` collect the two trace headers, read together once the object is read.
struct identity_reader {
    std::optional<std::string> trace_parent;
    std::optional<std::string> trace_state;

    // Reads `key` into `e` when it is one of the identity keys; false for any other key.
    bool read(const std::string& key, nlohmann::json& value, const json_path& at, event& e) {
        if (key == "id") {
            e.id = read_id(value, at);
        } else if (key == "source") {
            e.source = read_string(value, at);
        } else if (key == "type") {
            e.type = read_string(value, at);
        } else if (key == "cause") {
            e.cause = read_id(value, at);
        } else if (key == "traceparent") {
            if (!value.is_string()) wrong_type(at, "a string", value);
            trace_parent = std::move(value.get_ref<std::string&>());
        } else if (key == "tracestate") {
            if (!value.is_string()) wrong_type(at, "a string", value);
            trace_state = std::move(value.get_ref<std::string&>());
        } else {
            return false;
        }
        return true;
    }

    void finish(const json_path& root, event& e) const {
        if (trace_parent) {
            e.trace = trace_context::parse(*trace_parent, trace_state ? *trace_state : std::string_view(),
                                           pointer(root / "traceparent"));
        } else if (trace_state) {
            throw decode_error(pointer(root / "tracestate"), "a tracestate without a traceparent");
        }
    }
};

// Reads an event out of `j`, moving its values; `j` is left valid but unspecified.
inline event read_event(nlohmann::json& j) {
    const json_path root;
    if (!j.is_object()) wrong_type(root, "an event object", j);
    event out;
    bool has_payload = false;
    identity_reader identity;
    for (auto& [key, value] : j.items()) {
        if (identity.read(key, value, root / key, out)) continue;
        if (key == "sender") {
            out.sender = read_string(value, root / key);
        } else if (key == "payload") {
            read_payload(value, root / key, out);
            has_payload = true;
        } else if (key == "impacted_records") {
            if (!value.is_array()) wrong_type(root / key, "an array", value);
            for (std::size_t i = 0; i < value.size(); ++i) {
                out.impacted_records.push_back(read_record(value[i], root / key / i));
                value[i] = nullptr;  // frees the record's object as soon as its values are moved out
            }
        } else {
            throw decode_error(pointer(root / key),
                               "unknown key (expected \"sender\", \"payload\", \"impacted_records\", \"id\", "
                               "\"source\", \"type\", \"cause\", \"traceparent\" or \"tracestate\")");
        }
    }
    if (!has_payload) throw decode_error("", "missing required key \"payload\"");
    identity.finish(root, out);
    return out;
}

[[noreturn]] inline void throw_too_deep_to_encode(const std::string& where, std::size_t max_depth) {
    throw encode_error(where, "nests deeper than " + std::to_string(max_depth) +
                                  " levels in the wire shape (json_limits::max_depth)");
}

}  // namespace detail

/// Throws encode_error naming the place when `e` would nest deeper than `max_depth` levels in
/// the wire shape (data values start at level 3, impacted records' "old"/"new" at level 4).
/// Iterative: checking an event of any depth costs no stack. beacon checks this before it copies
/// or serializes an event (nlohmann's copy and dump recurse once per level).
inline void check_depth(const event& e, std::size_t max_depth = json_limits{}.max_depth) {
    if (const auto at = detail::too_deep(e.data, max_depth, 1)) {
        detail::throw_too_deep_to_encode("/data" + detail::pointer(*at), max_depth);
    }
    for (std::size_t i = 0; i < e.impacted_records.size(); ++i) {
        const auto& record = e.impacted_records[i];
        for (const auto& [value, name] : {std::pair{&record.old_value, "/old"}, std::pair{&record.new_value, "/new"}}) {
            if (!*value) continue;
            if (const auto at = detail::too_deep(**value, max_depth, 3)) {
                detail::throw_too_deep_to_encode("/impacted_records/" + std::to_string(i) + name + detail::pointer(*at),
                                                 max_depth);
            }
        }
    }
}

/// Reads an action from its wire name; throws decode_error for anything else.
inline void from_json(const nlohmann::json& j, action& a) { a = detail::read_action(j, detail::json_path()); }

/// Writes `e` in beacon's envelope: {"sender", "payload": {timestamp, action, uri, user_id,
/// resource_name, and the data's keys}, "impacted_records": [{"old", "new"}]}, and the identity
/// keys that are set: "id", "source", "type", "cause", "traceparent", "tracestate".
/// Throws encode_error when `data` is not an object or has a key that a payload field owns, or
/// when the event nests deeper than json_limits' default max_depth (see check_depth).
inline void to_json(nlohmann::json& j, const event& e) {
    if (!e.data.is_object()) {
        throw encode_error("/data", std::string("must be a JSON object, got ") + e.data.type_name());
    }
    check_depth(e);
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
    if (!e.id.is_nil()) j["id"] = e.id.to_string();
    if (!e.source.empty()) j["source"] = e.source;
    if (!e.type.empty()) j["type"] = e.type;
    if (!e.cause.is_nil()) j["cause"] = e.cause.to_string();
    if (e.trace.valid()) {
        j["traceparent"] = e.trace.traceparent();
        if (!e.trace.state.empty()) j["tracestate"] = e.trace.state;
    }
}

/// Reads an event from beacon's envelope; "payload" is required, "sender", "impacted_records" and
/// the identity keys are optional (an id or cause must be a UUID other than nil, a traceparent W3C's). Throws decode_error naming the JSON pointer of the bad value,
/// also when `j` nests deeper than json_limits' default max_depth (checked first, iteratively,
/// since copying the values out of `j` recurses once per level).
inline void from_json(const nlohmann::json& j, event& e) {
    constexpr json_limits defaults{};
    const std::size_t max_depth = defaults.max_depth;
    if (const auto at = detail::too_deep(j, max_depth)) {
        throw decode_error(detail::pointer(*at), "nests deeper than " + std::to_string(max_depth) +
                                                     " levels (json_limits::max_depth)",
                           decode_reason::too_deep);
    }
    nlohmann::json copy = j;
    e = detail::read_event(copy);
}

namespace detail {

// Parses JSON text from outside within `limits` (see parse_event), throwing decode_error.
inline nlohmann::json parse_json(std::string_view text, const json_limits& limits) {
    if (text.size() > limits.max_bytes) {
        throw decode_error("", "message of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                   std::to_string(limits.max_bytes) + " bytes (json_limits::max_bytes)",
                           decode_reason::too_large);
    }
    // A syntax error: `why`, and a short excerpt of the text around byte `at`.
    const auto not_json = [&](const std::string& why, std::size_t at) {
        const std::size_t from = at > 24 ? at - 24 : 0;
        return decode_error("", "not valid JSON: " + why + "; near byte " + std::to_string(at) + ": \"" +
                                    excerpt(text.substr(from, 48)) + "\"",
                            decode_reason::syntax);
    };
    // nlohmann's lexer takes a NUL byte for the end of the input and ignores what follows it, so
    // `{...}\0anything` would pass; JSON allows no raw NUL anywhere (not even inside a string).
    if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) throw not_json("a NUL byte", nul);
    nlohmann::json j;
    bounded_dom_parser parser(j, limits.max_depth);
    bool parsed = false;
    try {
        parsed = nlohmann::json::sax_parse(text, &parser);
    } catch (const depth_exceeded& deep) {
        throw decode_error(pointer(deep.at), "nests deeper than " + std::to_string(limits.max_depth) +
                                                 " levels (json_limits::max_depth)",
                           decode_reason::too_deep);
    }
    if (!parsed) {
        // nlohmann's message quotes the whole token it last read (a string or a number may be
        // megabytes): keep its explanation, quote a short excerpt of the text at the error instead.
        std::string why = parser.error_message();
        if (const auto cut = why.find("; last read:"); cut != std::string::npos) why.resize(cut);
        throw not_json(excerpt(why, 200),
                       std::min(parser.error_position() == 0 ? 0 : parser.error_position() - 1, text.size()));
    }
    return j;
}

}  // namespace detail

/// Parses event JSON text from outside within `limits`: text longer than `limits.max_bytes` is
/// rejected unread, and parsing stops at the first array or object nested deeper than
/// `limits.max_depth` (nlohmann's parser is iterative; the check runs as it reads), so no input
/// costs stack, and none costs memory beyond a small multiple of its size (see docs/reliability.md).
/// Throws decode_error (see decode_reason) naming the JSON pointer of the bad value and quoting
/// at most a short excerpt of the text.
inline event parse_event(std::string_view text, const json_limits& limits = {}) {
    nlohmann::json j = detail::parse_json(text, limits);
    return detail::read_event(j);
}

}  // namespace beacon
