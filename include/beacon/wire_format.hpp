#pragma once
/// \file
/// Wire formats: how an event travels as bytes (through the Redis bridge, or anything else that
/// carries text). beacon's envelope keeps everything; `kinto` is byte for byte what Kinto's Redis
/// listener pushes (`json.dumps(event.payload)`); `cloudevents` is CloudEvents 1.0 JSON
/// (<beacon/cloudevents.hpp>); a host can define its own.

#include <beacon/cloudevents.hpp>
#include <beacon/detail/json_writer.hpp>
#include <beacon/detail/wire_writer.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace beacon {


/// Appends `e` in beacon's envelope to `out`: the bytes of `nlohmann::json(e).dump()`
/// (`{"cause","id","impacted_records":[{"new","old"}],"payload":{<fields and data keys, sorted>},
/// "sender","source","traceparent","tracestate","type"}`, the identity keys only when set),
/// written directly, with a timestamp of 0 written as now. Throws encode_error naming the event and
/// the field for invalid UTF-8, a `data` that is not an object or owns a payload field's name, or
/// nesting deeper than json_limits' default max_depth (found while writing, without recursing
/// past it); `out` is then left partly written.
inline void encode_envelope(const event& e, std::string& out) {
    detail::check_encodable(e);
    detail::json_writer w(out, detail::json_style::compact, json_limits{}.max_depth);
    out += '{';
    detail::write_id(out, "\"cause\":", e.cause);
    detail::write_id(out, "\"id\":", e.id);
    out += "\"impacted_records\":[";
    for (std::size_t i = 0; i < e.impacted_records.size(); ++i) {
        const auto& record = e.impacted_records[i];
        auto at = [i](const char* which) { return "/impacted_records/" + std::to_string(i) + which; };
        out += i ? ",{" : "{";
        if (record.new_value) {
            out += "\"new\":";
            detail::write_field(w, e, [&] { return at("/new"); }, *record.new_value, detail::record_value_level);
        }
        if (record.old_value) {
            out += record.new_value ? ",\"old\":" : "\"old\":";
            detail::write_field(w, e, [&] { return at("/old"); }, *record.old_value, detail::record_value_level);
        }
        out += '}';
    }
    out += "],\"payload\":{";
    // The payload's fields merged, in key order, with the data keys (already in key order).
    const std::int64_t timestamp = detail::wire_timestamp(e);
    auto field = [&](std::size_t k) {
        switch (k) {
            case 0:
                out += "\"action\":\"";
                out += to_string(*e.action);
                out += '"';
                return;
            case 1:
                out += "\"resource_name\":";
                return detail::write_string(w, e, [] { return std::string("/resource_name"); }, e.resource_name);
            case 2:
                out += "\"timestamp\":";
                return w.integer(timestamp);
            case 3:
                out += "\"uri\":";
                return detail::write_string(w, e, [] { return std::string("/uri"); }, e.uri);
            default:
                out += "\"user_id\":";
                return detail::write_string(w, e, [] { return std::string("/user_id"); }, e.user_id);
        }
    };
    constexpr std::array<std::string_view, 5> sorted_fields{"action", "resource_name", "timestamp", "uri", "user_id"};
    std::size_t next = e.action ? 0 : 1;
    bool first = true;
    for (auto it = e.data.cbegin(); it != e.data.cend(); ++it) {
        for (; next < sorted_fields.size() && sorted_fields[next] < it.key(); ++next, first = false) {
            if (!first) out += ',';
            field(next);
        }
        if (!first) out += ',';
        first = false;
        detail::write_string(w, e, [&] { return "/data/" + it.key(); }, it.key());
        out += ':';
        detail::write_field(w, e, [&] { return "/data/" + it.key(); }, it.value(), detail::data_level);
    }
    for (; next < sorted_fields.size(); ++next, first = false) {
        if (!first) out += ',';
        field(next);
    }
    out += "},\"sender\":";
    detail::write_string(w, e, [] { return std::string("/sender"); }, e.sender);
    if (!e.source.empty()) {
        out += ",\"source\":";
        detail::write_string(w, e, [] { return std::string("/source"); }, e.source);
    }
    if (e.trace.valid()) {
        out += ",\"traceparent\":\"" + e.trace.traceparent() + '"';
        if (!e.trace.state.empty()) {
            out += ",\"tracestate\":";
            detail::write_string(w, e, [] { return std::string("/tracestate"); }, e.trace.state);
        }
    }
    if (!e.type.empty()) {
        out += ",\"type\":";
        detail::write_string(w, e, [] { return std::string("/type"); }, e.type);
    }
    out += '}';
}

/// Appends `e` in Kinto's format to `out`: the bytes Kinto's Redis listener pushes for the same
/// event, `json.dumps(event.payload)` with Python's defaults: `{"timestamp": .., "action": ..,
/// "uri": .., "user_id": .., "resource_name": .., <data keys in data's order>}`, separators ", "
/// and ": " at every level, non-ASCII escaped (`\u00e9`, surrogate pairs past U+FFFF), floats as
/// Python's repr, `user_id` null when empty (anonymous), `action` null when absent, a timestamp of
/// 0 written as now. The sender and the impacted records are not written (Kinto's payload has
/// neither). Throws encode_error as encode_envelope does, and for a number that is not finite
/// (Python would write NaN or Infinity, which is not JSON).
inline void encode_kinto(const event& e, std::string& out) {
    detail::check_encodable(e);
    detail::json_writer w(out, detail::json_style::python, json_limits{}.max_depth);
    out += "{\"timestamp\": ";
    w.integer(detail::wire_timestamp(e));
    out += ", \"action\": ";
    if (e.action) {
        out += '"';
        out += to_string(*e.action);
        out += '"';
    } else {
        out += "null";
    }
    out += ", \"uri\": ";
    detail::write_string(w, e, [] { return std::string("/uri"); }, e.uri);
    out += ", \"user_id\": ";
    if (e.user_id.empty()) {
        out += "null";
    } else {
        detail::write_string(w, e, [] { return std::string("/user_id"); }, e.user_id);
    }
    out += ", \"resource_name\": ";
    detail::write_string(w, e, [] { return std::string("/resource_name"); }, e.resource_name);
    for (auto it = e.data.cbegin(); it != e.data.cend(); ++it) {
        out += ", ";
        detail::write_string(w, e, [&] { return "/data/" + it.key(); }, it.key());
        out += ": ";
        detail::write_field(w, e, [&] { return "/data/" + it.key(); }, it.value(), detail::data_level);
    }
    out += '}';
}

namespace detail {

// Reads Kinto's flat payload out of `j`, moving its values: the five fields to the event's, every
// other key into `data`. Kinto always writes "action", which tells its payload from other JSON.
// Its values are counted at the levels of the wire shape, as the encoders count them (the payload
// at level 2, a data value at level 3): the text nests them one level less, so a payload that
// parsed within `max_depth` may still be too deep for any format to write back.
inline event read_flat(nlohmann::json& j, std::size_t max_depth) {
    if (j.is_object() && !j.contains("action")) {
        throw decode_error("", j.contains("payload") ? "beacon's envelope, not Kinto's flat payload (decode it with the envelope format)"
                                                     : "missing required key \"action\" (Kinto's payload) or \"payload\" (beacon's envelope)");
    }
    if (const auto at = too_deep(j, max_depth, 1)) {
        throw decode_error(pointer(*at), "nests deeper than " + std::to_string(max_depth) +
                                             " levels (json_limits::max_depth) in the wire shape, where Kinto's "
                                             "payload sits one level below the event",
                           decode_reason::too_deep);
    }
    event e;
    read_payload(j, json_path(), e);
    return e;
}

}  // namespace detail

/// Reads Kinto's flat payload (`{"timestamp", "action", "uri", "user_id", "resource_name",
/// <route ids>...}`) within `limits`: the five fields go to the event's fields (a null `user_id`
/// or `action` to none), every other key (the route ids: `bucket_id`, `collection_id`,
/// `record_id`...) into `data`; the sender is empty and there are no impacted records. Throws
/// decode_error naming the JSON pointer of the bad value (also for beacon's envelope); nesting is
/// counted at the wire shape's levels, a data value at level 3 as the encoders count it, so that
/// an event this reads can be written back (decode_reason::too_deep one level sooner than the text).
inline event decode_kinto(std::string_view text, const json_limits& limits = {}) {
    nlohmann::json j = detail::parse_json(text, limits);
    return detail::read_flat(j, limits.max_depth);
}

/// Reads either shape, told apart by its keys: beacon's envelope (an object with a "payload" and
/// none of the payload's own fields beside it) or Kinto's flat payload (which has them: "action",
/// "timestamp"...). Kinto's payload always has "action", and beacon's envelope never has a payload
/// field at its top level, so the two cannot be confused. Throws decode_error naming the JSON
/// pointer of the bad value; Kinto's payload's nesting is counted as decode_kinto counts it.
inline event decode_any(std::string_view text, const json_limits& limits = {}) {
    nlohmann::json j = detail::parse_json(text, limits);
    bool flat = !j.is_object() || !j.contains("payload");
    for (auto field : detail::payload_fields) flat = flat || j.contains(field);
    return flat ? detail::read_flat(j, limits.max_depth) : detail::read_event(j);
}

/// A wire format: a name, how to encode an event into bytes and how to decode bytes into an event.
/// `wire_format::envelope()` (beacon's, the default), `wire_format::kinto()` and
/// `wire_format::cloudevents()` are built in; a host
/// makes its own with the constructor. Copies are cheap (they share the functions).
class wire_format {
public:
    /// Appends the encoding of an event to a string; throws encode_error for an event it cannot write.
    using encoder = std::function<void(const event&, std::string&)>;
    /// Decodes one message within the limits; throws decode_error for a message that is not an event.
    using decoder = std::function<event(std::string_view, const json_limits&)>;

    /// A host's own format named `name` (for configuration: `format = <name>`). Exceptions other
    /// than beacon::error that `encode` or `decode` throw reach callers as encode_error or
    /// decode_error naming the format.
    wire_format(std::string name, encoder encode, decoder decode)
        : impl_(std::make_shared<const impl>(impl{std::move(name), std::move(encode), std::move(decode)})) {}

    /// beacon's envelope: encodes with encode_envelope (everything: sender, payload, impacted
    /// records); decodes either the envelope or Kinto's flat payload (decode_any).
    static wire_format envelope() {
        static const wire_format format("envelope", encode_envelope, decode_any);
        return format;
    }

    /// Kinto's format: encodes with encode_kinto (Kinto's bytes: the flat payload alone); decodes
    /// Kinto's flat payload only (decode_kinto).
    static wire_format kinto() {
        static const wire_format format("kinto", encode_kinto, decode_kinto);
        return format;
    }

    /// CloudEvents 1.0 JSON (structured mode): encodes with encode_cloudevent, decodes with
    /// decode_cloudevent (<beacon/cloudevents.hpp>).
    static wire_format cloudevents() {
        static const wire_format format("cloudevents", encode_cloudevent, decode_cloudevent);
        return format;
    }

    /// The format's name ("envelope", "kinto", "cloudevents", or the host's).
    const std::string& name() const noexcept { return impl_->name; }

    /// Appends the encoding of `e` to `out`; throws encode_error.
    void encode(const event& e, std::string& out) const {
        try {
            impl_->encode(e, out);
        } catch (const error&) {
            throw;
        } catch (const std::exception& bad) {
            throw encode_error("", "wire format \"" + impl_->name + "\" failed: " + detail::excerpt(bad.what(), 200) +
                                       " in event " + detail::describe_event(e));
        }
    }

    /// The encoding of `e`; throws encode_error.
    std::string encode(const event& e) const {
        std::string out;
        out.reserve(512);
        encode(e, out);
        return out;
    }

    /// Decodes `text` within `limits`; throws decode_error.
    event decode(std::string_view text, const json_limits& limits = {}) const {
        try {
            return impl_->decode(text, limits);
        } catch (const error&) {
            throw;
        } catch (const std::exception& bad) {
            throw decode_error("", "wire format \"" + impl_->name + "\" failed: " + detail::excerpt(bad.what(), 200));
        }
    }

private:
    struct impl {
        std::string name;
        encoder encode;
        decoder decode;
    };
    std::shared_ptr<const impl> impl_;
};

}  // namespace beacon
