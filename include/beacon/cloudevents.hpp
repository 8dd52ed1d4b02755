#pragma once
/// \file
/// CloudEvents 1.0 in its JSON event format, structured mode (`application/cloudevents+json`):
/// an event's identity as the required context attributes, beacon's other fields as extension
/// attributes, its data and impacted records as the CloudEvent's `data`. The wire format
/// `wire_format::cloudevents()` (<beacon/wire_format.hpp>) uses this codec.

#include <beacon/detail/json_writer.hpp>
#include <beacon/detail/wire_writer.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/trace.hpp>

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace beacon {

namespace detail {

// The levels at which a CloudEvent nests an event's values: the CloudEvent 1, its `data` 2, the
// event's data object and the impacted records' array 3, a data value and a record 4, a record's
// "old" or "new" value 5: one level deeper than beacon's envelope.
inline constexpr std::size_t ce_data_level = 4;
inline constexpr std::size_t ce_record_value_level = 5;

// The latest time RFC 3339 can write: 9999-12-31T23:59:59.999Z, in Unix milliseconds.
inline constexpr std::int64_t ce_max_time_ms = 253402300799999;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// Writes `ms` (0 to ce_max_time_ms) as RFC 3339 UTC with milliseconds: "2026-12-03T07:33:00.123Z".
inline void write_rfc3339(std::string& out, std::int64_t ms) {
    const std::int64_t days = ms / 86400000;
    auto rest = static_cast<unsigned>(ms % 86400000);
    // civil_from_days (Howard Hinnant's), for days >= 0.
    const std::int64_t z = days + 719468;
    const std::int64_t era = z / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const auto y = static_cast<unsigned>(static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2));
    auto put = [&out](unsigned v, int digits) {
        char buf[4];
        for (int i = digits - 1; i >= 0; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
        out.append(buf, static_cast<std::size_t>(digits));
    };
    put(y, 4), out += '-', put(m, 2), out += '-', put(d, 2), out += 'T';
    put(rest / 3600000, 2), out += ':', put(rest / 60000 % 60, 2), out += ':', put(rest / 1000 % 60, 2);
    out += '.', put(rest % 1000, 3), out += 'Z';
}

// Reads an RFC 3339 date-time (any offset, "T" or "t", "Z" or "z", a fraction of any length, cut
// to milliseconds; a leap second reads as the next minute's first) as Unix milliseconds; throws
// decode_error naming `where` for anything else, or a time before 1970 or after 9999.
inline std::int64_t read_rfc3339(std::string_view s, const std::string& where) {
    auto bad = [&](const char* why) {
        throw decode_error(where, std::string(why) + " in time \"" + excerpt(s, 48) +
                                      "\" (expected RFC 3339: 2026-12-03T07:33:00.123Z or with an offset, +01:00)");
    };
    std::size_t at = 0;
    auto digits = [&](std::size_t n) {
        unsigned v = 0;
        for (std::size_t i = 0; i < n; ++i, ++at) {
            if (at >= s.size() || s[at] < '0' || s[at] > '9') bad("a digit missing");
            v = v * 10 + static_cast<unsigned>(s[at] - '0');
        }
        return v;
    };
    auto expect = [&](char a, char b = '\0') {
        if (at >= s.size() || (s[at] != a && (b == '\0' || s[at] != b))) bad("a separator missing");
        ++at;
    };
    const unsigned year = digits(4);
    expect('-');
    const unsigned month = digits(2);
    expect('-');
    const unsigned day = digits(2);
    expect('T', 't');
    const unsigned hour = digits(2);
    expect(':');
    const unsigned minute = digits(2);
    expect(':');
    const unsigned second = digits(2);
    unsigned ms = 0;
    if (at < s.size() && s[at] == '.') {
        ++at;
        const std::size_t from = at;
        while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
            if (at - from < 3) ms = ms * 10 + static_cast<unsigned>(s[at] - '0');
            ++at;
        }
        if (at == from) bad("no digit after '.'");
        for (std::size_t n = at - from; n < 3; ++n) ms *= 10;
    }
    std::int64_t offset_minutes = 0;
    if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
        ++at;
    } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
        const bool minus = s[at++] == '-';
        const unsigned oh = digits(2);
        expect(':');
        const unsigned om = digits(2);
        if (oh > 23 || om > 59) bad("an offset out of range");
        offset_minutes = (minus ? -1 : 1) * static_cast<std::int64_t>(oh * 60 + om);
    } else {
        bad("no offset (Z or +hh:mm)");
    }
    if (at != s.size()) bad("trailing characters");
    constexpr unsigned days_in[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (month < 1 || month > 12 || day < 1 || day > days_in[month - 1] || (month == 2 && day == 29 && !leap)) {
        bad("no such date");
    }
    if (hour > 23 || minute > 59 || second > 60) bad("no such time of day");
    const std::int64_t t = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute - offset_minutes) * 60000 +
                           static_cast<std::int64_t>(second) * 1000 + ms;
    if (t < 0) bad("a time before 1970-01-01T00:00:00Z");
    if (t > ce_max_time_ms) bad("a time after 9999-12-31T23:59:59.999Z");
    return t;
}

// Writes `"key":"<string>"` after a comma (every attribute but the first).
template <class Path>
void write_attribute(json_writer& w, std::string& out, const event& e, std::string_view key, const Path& path,
                     std::string_view value) {
    out += ",\"";
    out += key;
    out += "\":";
    write_string(w, e, path, value);
}

// Whether `name` is a CloudEvents attribute name: lower-case ASCII letters and digits.
inline bool ce_attribute_name(std::string_view name) noexcept {
    if (name.empty()) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

// Whether a datacontenttype is JSON: application/json or any +json type, parameters ignored.
inline bool json_media_type(std::string_view type) noexcept {
    type = type.substr(0, type.find(';'));
    while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
    std::string lower(type);
    for (char& c : lower) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return lower == "application/json" ||
           (lower.size() > 5 && lower.compare(lower.size() - 5, 5, "+json") == 0 && lower.find('/') != std::string::npos);
}

// Reads the CloudEvent's `data` into `e`: beacon's shape ({"data": {..}, "impacted_records": [..]},
// no other key, "data" an object) or, from another producer, any object as the event's data.
// Returns whether it was the latter (its nesting is then checked at the wire shape's levels).
inline bool read_ce_data(nlohmann::json& j, const json_path& at, event& e) {
    if (!j.is_object()) wrong_type(at, "an object (beacon reads JSON object data only)", j);
    const auto data = j.find("data");
    bool ours = data != j.end() && data->is_object();
    for (auto it = j.begin(); ours && it != j.end(); ++it) ours = it.key() == "data" || it.key() == "impacted_records";
    if (!ours) {
        e.data = std::move(j);
        return true;
    }
    e.data = std::move(*data);
    if (const auto records = j.find("impacted_records"); records != j.end()) {
        if (!records->is_array()) wrong_type(at / "impacted_records", "an array", *records);
        for (std::size_t i = 0; i < records->size(); ++i) {
            e.impacted_records.push_back(read_record((*records)[i], at / "impacted_records" / i));
            (*records)[i] = nullptr;
        }
    }
    return false;
}

}  // namespace detail

/// The `data` key under which decode_cloudevent keeps the attributes beacon does not map (other
/// producers' extensions, `dataschema`): an object of their names and values.
inline constexpr std::string_view cloudevents_extensions_key = "cloudevents_extensions";

/// Appends `e` to `out` as a CloudEvents 1.0 JSON event (structured mode): `specversion` "1.0",
/// `id`, `source`, `type`, `time` (RFC 3339 UTC with milliseconds; a timestamp of 0 written as now),
/// `datacontenttype` "application/json", `subject` (the uri), the extension attributes `sender`,
/// `action`, `resourcename`, `userid`, `cause`, `traceparent`, `tracestate` (each only when set),
/// and `data` {"data": <the event's data>, "impacted_records": [{"new", "old"}]}. Throws
/// encode_error for an event without an id, source or type (signals stamp them), a timestamp
/// before 1970 or after 9999, and as encode_envelope does (invalid UTF-8, data that is not an
/// object, nesting past json_limits' default max_depth counted at this shape's levels, one deeper
/// than the envelope's); `out` is then left partly written.
inline void encode_cloudevent(const event& e, std::string& out) {
    const std::int64_t time = detail::wire_timestamp(e);
    if (e.id.is_nil()) detail::unwritable(e, "/id", "a CloudEvent requires an id (an unstamped event)");
    if (e.source.empty()) detail::unwritable(e, "/source", "a CloudEvent requires a source (an unstamped event)");
    if (e.type.empty()) detail::unwritable(e, "/type", "a CloudEvent requires a type (an unstamped event)");
    if (time < 0 || time > detail::ce_max_time_ms) {
        detail::unwritable(e, "/timestamp", "a time RFC 3339 cannot write (before 1970 or after 9999)");
    }
    if (!e.data.is_object()) {
        throw encode_error("/data", std::string("must be a JSON object, got ") + e.data.type_name() + " in event " +
                                        detail::describe_event(e));
    }
    detail::json_writer w(out, detail::json_style::compact, json_limits{}.max_depth);
    const auto named = [](const char* path) { return [path] { return std::string(path); }; };
    out += "{\"specversion\":\"1.0\",\"id\":\"";
    const std::size_t at = out.size();
    out.resize(at + 36);
    e.id.write(out.data() + at);
    out += '"';
    detail::write_attribute(w, out, e, "source", named("/source"), e.source);
    detail::write_attribute(w, out, e, "type", named("/type"), e.type);
    out += ",\"time\":\"";
    detail::write_rfc3339(out, time);
    out += "\",\"datacontenttype\":\"application/json\"";
    if (!e.uri.empty()) detail::write_attribute(w, out, e, "subject", named("/uri"), e.uri);
    if (!e.sender.empty()) detail::write_attribute(w, out, e, "sender", named("/sender"), e.sender);
    if (e.action) {
        out += ",\"action\":\"";
        out += to_string(*e.action);
        out += '"';
    }
    if (!e.resource_name.empty()) {
        detail::write_attribute(w, out, e, "resourcename", named("/resource_name"), e.resource_name);
    }
    if (!e.user_id.empty()) detail::write_attribute(w, out, e, "userid", named("/user_id"), e.user_id);
    if (!e.cause.is_nil()) {
        out += ",\"cause\":\"";
        const std::size_t c = out.size();
        out.resize(c + 36);
        e.cause.write(out.data() + c);
        out += '"';
    }
    if (e.trace.valid()) {
        out += ",\"traceparent\":\"" + e.trace.traceparent() + '"';
        if (!e.trace.state.empty()) detail::write_attribute(w, out, e, "tracestate", named("/tracestate"), e.trace.state);
    }
    out += ",\"data\":{\"data\":{";
    bool first = true;
    for (auto it = e.data.cbegin(); it != e.data.cend(); ++it, first = false) {
        if (!first) out += ',';
        detail::write_string(w, e, [&] { return "/data/" + it.key(); }, it.key());
        out += ':';
        detail::write_field(w, e, [&] { return "/data/" + it.key(); }, it.value(), detail::ce_data_level);
    }
    out += "},\"impacted_records\":[";
    for (std::size_t i = 0; i < e.impacted_records.size(); ++i) {
        const auto& record = e.impacted_records[i];
        auto path = [i](const char* which) { return "/impacted_records/" + std::to_string(i) + which; };
        out += i ? ",{" : "{";
        if (record.new_value) {
            out += "\"new\":";
            detail::write_field(w, e, [&] { return path("/new"); }, *record.new_value, detail::ce_record_value_level);
        }
        if (record.old_value) {
            out += record.new_value ? ",\"old\":" : "\"old\":";
            detail::write_field(w, e, [&] { return path("/old"); }, *record.old_value, detail::ce_record_value_level);
        }
        out += '}';
    }
    out += "]}}";
}

/// Reads a CloudEvents 1.0 JSON event (structured mode) within `limits`. Required: `specversion`
/// "1.0", `id` (a UUID other than nil: beacon's ids are UUIDs), `source` and `type` (non-empty
/// strings). Optional: `time` (RFC 3339, any offset, cut to milliseconds), `subject` (the uri),
/// `datacontenttype` (application/json or a +json type), beacon's extension attributes (see
/// encode_cloudevent), W3C's `traceparent` and `tracestate`, `data`: beacon's shape, or any other
/// JSON object as the event's data. Any other attribute (another producer's extension, `dataschema`)
/// is kept in `data[cloudevents_extensions_key]`. A null attribute is absent. Throws decode_error
/// naming the JSON pointer of the bad attribute: a missing or bad required one, a malformed time or
/// traceparent, a wrong type, `data_base64` (binary data), data that is not an object, a name that
/// is not a CloudEvents attribute name, too large or too deep (counted at the wire shape's levels).
inline event decode_cloudevent(std::string_view text, const json_limits& limits = {}) {
    nlohmann::json j = detail::parse_json(text, limits);
    const detail::json_path root;
    if (!j.is_object()) detail::wrong_type(root, "a CloudEvent (a JSON object)", j);
    const auto spec = j.find("specversion");
    if (spec == j.end() || spec->is_null()) throw decode_error("/specversion", "missing required attribute");
    if (!spec->is_string() || spec->get_ref<const std::string&>() != "1.0") {
        throw decode_error("/specversion", "expected \"1.0\" (CloudEvents 1.0), got " +
                                               (spec->is_string() ? "\"" + detail::excerpt(spec->get_ref<const std::string&>()) + "\""
                                                                  : std::string(spec->type_name())));
    }
    event e;
    detail::identity_reader identity;
    nlohmann::json extensions = nlohmann::json::object();
    bool foreign_data = false;
    for (auto& [key, value] : j.items()) {
        const detail::json_path at = root / key;
        if (value.is_null() || key == "specversion") continue;
        if (key == "id" || key == "source" || key == "type") {
            if (!value.is_string()) detail::wrong_type(at, key == "id" ? "an event id (a UUID string)" : "a string", value);
        }
        if (identity.read(key, value, at, e)) continue;
        if (key == "time") {
            if (!value.is_string()) detail::wrong_type(at, "an RFC 3339 time string", value);
            e.timestamp = detail::read_rfc3339(value.get_ref<const std::string&>(), "/time");
        } else if (key == "subject") {
            e.uri = detail::read_string(value, at);
        } else if (key == "datacontenttype") {
            if (!value.is_string()) detail::wrong_type(at, "a media type string", value);
            if (!detail::json_media_type(value.get_ref<const std::string&>())) {
                throw decode_error(detail::pointer(at), "expected application/json or a +json media type, got \"" +
                                                            detail::excerpt(value.get_ref<const std::string&>()) + "\"");
            }
        } else if (key == "sender") {
            e.sender = detail::read_string(value, at);
        } else if (key == "action") {
            e.action = detail::read_action(value, at);
        } else if (key == "resourcename") {
            e.resource_name = detail::read_string(value, at);
        } else if (key == "userid") {
            e.user_id = detail::read_string(value, at);
        } else if (key == "data") {
            foreign_data = detail::read_ce_data(value, at, e);
        } else if (key == "data_base64") {
            throw decode_error(detail::pointer(at), "binary data is not supported (beacon reads JSON object data only)");
        } else if (!detail::ce_attribute_name(key)) {
            throw decode_error(detail::pointer(at), "not a CloudEvents attribute name (lower-case letters and digits only)");
        } else if (value.is_structured()) {
            detail::wrong_type(at, "a string, number or boolean (an extension attribute's value)", value);
        } else {
            extensions[key] = std::move(value);
        }
    }
    if (e.id.is_nil()) throw decode_error("/id", "missing required attribute");
    if (e.source.empty()) throw decode_error("/source", "missing or empty required attribute (a non-empty string)");
    if (e.type.empty()) throw decode_error("/type", "missing or empty required attribute (a non-empty string)");
    identity.finish(root, e);
    if (!extensions.empty()) {
        const std::string key(cloudevents_extensions_key);
        if (e.data.contains(key)) {
            throw decode_error("/data/" + key, "the data has this key of its own, where beacon keeps the event's "
                                               "other attributes (" + detail::excerpt(extensions.begin().key(), 32) + "...)");
        }
        e.data[key] = std::move(extensions);
        foreign_data = true;
    }
    if (foreign_data) {
        if (const auto deep = detail::too_deep(e.data, limits.max_depth, detail::ce_data_level - 2)) {
            throw decode_error("/data" + detail::pointer(*deep),
                               "nests deeper than " + std::to_string(limits.max_depth) +
                                   " levels (json_limits::max_depth) in the wire shape, where the event's data sits "
                                   "one level below the CloudEvent's data",
                           decode_reason::too_deep);
        }
    }
    return e;
}

}  // namespace beacon
