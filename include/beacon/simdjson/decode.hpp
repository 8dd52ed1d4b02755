#pragma once
/// \file
/// beacon's decoders on simdjson's parser: beacon::simdjson::decode_any, decode_kinto and
/// decode_cloudevent read what the core's decoders of those names read, into the same events,
/// about five times faster; envelope(), kinto() and cloudevents() carry them to a consumer. A text
/// the fast path does not take (a bad one, or one near a limit) is decoded again by beacon's own
/// decoder, so every decode_error, its pointer, message and reason, is the one beacon's decoder
/// throws.

#include <beacon/event.hpp>
#include <beacon/simdjson/detail/reader.hpp>
#include <beacon/wire_format.hpp>

#include <string_view>

/// beacon's wire formats decoded by simdjson's parser (optional part, CMake target beacon::simdjson).
namespace beacon::simdjson {

/// Reads beacon's envelope or Kinto's flat payload as beacon::decode_any does, and returns the
/// same event; throws the decode_error beacon::decode_any throws for the same text and limits.
inline event decode_any(std::string_view text, const json_limits& limits = {}) {
    return detail::decode_or(text, limits, ::beacon::decode_any, [](detail::reader& r, detail::dom::object top) {
        return detail::is_envelope(top) ? r.envelope(top) : r.flat(top);
    });
}

/// Reads Kinto's flat payload as beacon::decode_kinto does, and returns the same event; throws
/// the decode_error beacon::decode_kinto throws for the same text and limits.
inline event decode_kinto(std::string_view text, const json_limits& limits = {}) {
    return detail::decode_or(text, limits, ::beacon::decode_kinto,
                             [](detail::reader& r, detail::dom::object top) { return r.flat(top); });
}

/// Reads a CloudEvents 1.0 JSON event as beacon::decode_cloudevent does, and returns the same
/// event; throws the decode_error beacon::decode_cloudevent throws for the same text and limits.
/// The fast path reads beacon's own shape; another producer's data or extension attributes are
/// read by beacon::decode_cloudevent.
inline event decode_cloudevent(std::string_view text, const json_limits& limits = {}) {
    return detail::decode_or(text, limits, ::beacon::decode_cloudevent,
                             [](detail::reader& r, detail::dom::object top) { return r.cloudevent(top); });
}

/// wire_format::envelope() decoding with simdjson::decode_any: named "envelope", it writes the
/// same bytes and reads the same events; a consumer takes it as its `format`.
inline const wire_format& envelope() {
    static const wire_format format("envelope", encode_envelope, decode_any);
    return format;
}

/// wire_format::kinto() decoding with simdjson::decode_kinto.
inline const wire_format& kinto() {
    static const wire_format format("kinto", encode_kinto, decode_kinto);
    return format;
}

/// wire_format::cloudevents() decoding with simdjson::decode_cloudevent.
inline const wire_format& cloudevents() {
    static const wire_format format("cloudevents", encode_cloudevent, decode_cloudevent);
    return format;
}

}  // namespace beacon::simdjson
