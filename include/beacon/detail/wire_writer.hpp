#pragma once
// Internals of the wire formats: what their writers share (naming the event and the field in an
// encode_error, the levels at which they nest an event's values, the checks every format makes).

#include <beacon/detail/json_writer.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace beacon {

namespace detail {

// "create record /buckets/b/collections/c/records/r1" (short, printable), to name an event in a message.
inline std::string describe_event(const event& e) {
    std::string out = e.action ? std::string(to_string(*e.action)) : std::string("(no action)");
    out += ' ' + excerpt(e.resource_name, 32) + ' ' + excerpt(e.uri, 96);
    if (!e.sender.empty()) out += " from \"" + excerpt(e.sender, 32) + "\"";
    return out;
}

[[noreturn]] inline void unwritable(const event& e, const std::string& path, const std::string& what) {
    throw encode_error(path, what + " in event " + describe_event(e));
}

// Writes `v` (an array or object of which is at nesting `level`) or throws encode_error naming
// the event and the field: `path()` is the field's JSON pointer, built only then.
template <class Path>
void write_field(json_writer& w, const event& e, const Path& path, const nlohmann::json& v, std::size_t level) {
    try {
        w.value(v, level);
    } catch (const unwritable_value& bad) {
        unwritable(e, excerpt(path() + bad.path, 200), bad.what);
    }
}

template <class Path>
void write_string(json_writer& w, const event& e, const Path& path, std::string_view s) {
    try {
        w.string(s);
    } catch (const unwritable_value& bad) {
        unwritable(e, excerpt(path(), 200), bad.what);
    }
}

// The levels at which the envelope nests an event's values (json_limits::max_depth counts them,
// as check_depth does): the envelope 1, the payload 2, a data value 3; impacted_records 2, a
// record 3, its "old" or "new" value 4. Kinto's format checks the same levels.
inline constexpr std::size_t data_level = 3;
inline constexpr std::size_t record_value_level = 4;

// The checks every format shares: `data` is an object and owns none of the payload's field names.
inline void check_encodable(const event& e) {
    if (!e.data.is_object()) {
        throw encode_error("/data", std::string("must be a JSON object, got ") + e.data.type_name() + " in event " +
                                        describe_event(e));
    }
    for (auto field : payload_fields) {
        if (e.data.contains(field)) {
            unwritable(e, "/data/" + std::string(field), "this key is a payload field of its own (rename the data key)");
        }
    }
}

// Writes `"key":"<id>",` when `id` is set (the envelope's keys before "impacted_records").
inline void write_id(std::string& out, std::string_view key, const event_id& id) {
    if (id.is_nil()) return;
    out += key;
    out += '"';
    const std::size_t at = out.size();
    out.resize(at + 36);
    id.write(out.data() + at);
    out += "\",";
}

inline std::int64_t wire_timestamp(const event& e) noexcept { return e.timestamp != 0 ? e.timestamp : event::now_ms(); }

}  // namespace detail

}  // namespace beacon
