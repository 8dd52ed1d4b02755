#pragma once
// The fast path of beacon::simdjson's decoders: simdjson's DOM parser reads the text, and the
// readers below fill the event from its tape, mirroring beacon's own readers (event.hpp's
// read_event and read_payload, wire_format.hpp's read_flat, cloudevents.hpp's decode_cloudevent)
// for the texts they accept. Whatever they are not sure of (a syntax, depth, type or value error,
// a key given twice where beacon's parser would keep only the last, a number whose JSON type
// simdjson does not tell as nlohmann does) makes them throw `not_taken`, and the caller decodes
// the text again with beacon's decoder, which returns the event or throws its error: the fast path
// never decides an error, so every message, pointer and reason stays beacon's own.

#include <beacon/cloudevents.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/event_id.hpp>
#include <beacon/trace.hpp>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace beacon::simdjson::detail {

namespace dom = ::simdjson::dom;

// The fast path gives the text back to beacon's decoder (see the file's comment).
struct not_taken {};

// simdjson's depth limit is kept this many levels under json_limits::max_depth. simdjson counts
// the values inside the innermost container as a level too, so a text of C nested containers is
// taken when C + 2 <= max_depth (C + 1 when the innermost is empty): within beacon's limit for
// every shape (the envelope allows C <= max_depth; Kinto's flat payload, which counts one level
// more than the text nests, C + 1 <= max_depth). A text nested deeper is read by beacon's decoder,
// which decides.
inline constexpr std::size_t depth_margin = 1;

// The deepest text the fast path reads, whatever max_depth allows: its reader recurses once per
// level (a few hundred bytes of stack each), so a deeper text goes to beacon's decoder, whose
// parser does not recurse.
inline constexpr std::size_t max_fast_depth = 256;

// The largest message a thread keeps its parser's buffers for (simdjson's buffers and the padded
// copy take about 15 times the text: under 1 MiB at 64 KiB); a larger one is parsed by a parser
// of its own, freed when it is read.
inline constexpr std::size_t kept_parser_bytes = std::size_t{64} << 10;

// Parses `text` with a nesting limit of `max_depth`; the returned element lives as long as
// `parser`. Throws not_taken for any error simdjson reports.
inline dom::element parse(dom::parser& parser, std::string& padded, std::string_view text, std::size_t max_depth) {
    if (parser.max_depth() != max_depth || parser.capacity() < text.size()) {
        if (parser.allocate(std::max(text.size(), parser.capacity()), max_depth) != ::simdjson::SUCCESS) {
            throw not_taken{};
        }
    }
    // simdjson reads up to SIMDJSON_PADDING bytes past the text: parse a padded copy.
    padded.assign(text.data(), text.size());
    padded.resize(text.size() + ::simdjson::SIMDJSON_PADDING);
    dom::element root;
    if (parser.parse(padded.data(), text.size(), false).get(root) != ::simdjson::SUCCESS) throw not_taken{};
    return root;
}

// The two trace headers of an event, read together once its object is read (beacon's
// identity_reader).
struct trace_headers {
    std::optional<std::string_view> parent;
    std::optional<std::string_view> state;

    void finish(event& e) const {
        if (parent) {
            e.trace = trace_context::parse(*parent, state ? *state : std::string_view(), "/traceparent");
        } else if (state) {
            throw not_taken{};
        }
    }
};

// Reads the events of one text; its functions throw not_taken for what they leave to beacon's
// decoder.
class reader {
public:
    explicit reader(std::string_view text) : text_(text) {}

    // Kinto's flat payload (beacon's read_flat): "action" must be there.
    event flat(dom::object top) {
        bool action = false;
        for (const auto field : top) action = action || field.key == "action";
        if (!action) throw not_taken{};
        event e;
        payload(top, e);
        return e;
    }

    // beacon's envelope (beacon's read_event). Each known key may come once: beacon's parser keeps
    // the last of a repeated key, which for "payload" or "impacted_records" this reader cannot
    // mirror.
    event envelope(dom::object top) {
        event e;
        trace_headers trace;
        unsigned seen = 0;
        for (const auto field : top) {
            const std::string_view key = field.key;
            first_time(seen, envelope_keys, key);
            if (key == "id" || key == "cause") {
                (key == "id" ? e.id : e.cause) = id_text(string_of(field.value));
            } else if (key == "source") {
                e.source = string_field(field.value);
            } else if (key == "type") {
                e.type = string_field(field.value);
            } else if (key == "sender") {
                e.sender = string_field(field.value);
            } else if (key == "traceparent") {
                trace.parent = string_of(field.value);
            } else if (key == "tracestate") {
                trace.state = string_of(field.value);
            } else if (key == "payload") {
                dom::object fields;
                if (field.value.get(fields) != ::simdjson::SUCCESS) throw not_taken{};
                payload(fields, e);
            } else {
                dom::array records;
                if (field.value.get(records) != ::simdjson::SUCCESS) throw not_taken{};
                for (const auto one : records) e.impacted_records.push_back(record(one));
            }
        }
        if (!(seen & key_bit(envelope_keys, "payload"))) throw not_taken{};
        trace.finish(e);
        return e;
    }

    // A CloudEvent in beacon's shape (beacon's decode_cloudevent): its attributes, each once, and
    // data {"data": {..}, "impacted_records": [..]}. Another producer's data or extension
    // attributes, data_base64, or an attribute given twice are left to beacon's decoder.
    event cloudevent(dom::object top) {
        event e;
        trace_headers trace;
        unsigned seen = 0;
        bool spec = false;
        for (const auto field : top) {
            const std::string_view key = field.key;
            first_time(seen, ce_attributes, key);  // not one of them: an extension, data_base64, a typo
            if (field.value.is_null()) continue;  // absent
            if (key == "data") {
                data(field.value, e);
                continue;
            }
            const std::string_view text = string_of(field.value);  // every other one is a string
            if (key == "specversion") {
                spec = text == "1.0";
            } else if (key == "id" || key == "cause") {
                (key == "id" ? e.id : e.cause) = id_text(text);
            } else if (key == "source") {
                e.source = std::string(text);
            } else if (key == "type") {
                e.type = std::string(text);
            } else if (key == "time") {
                e.timestamp = ::beacon::detail::read_rfc3339(text, "/time");
            } else if (key == "subject") {
                e.uri = std::string(text);
            } else if (key == "datacontenttype") {
                if (!::beacon::detail::json_media_type(text)) throw not_taken{};
            } else if (key == "sender") {
                e.sender = std::string(text);
            } else if (key == "action") {
                e.action = parse_action(text);
                if (!e.action) throw not_taken{};
            } else if (key == "resourcename") {
                e.resource_name = std::string(text);
            } else if (key == "userid") {
                e.user_id = std::string(text);
            } else if (key == "traceparent") {
                trace.parent = text;
            } else {
                trace.state = text;
            }
        }
        if (!spec || e.id.is_nil() || e.source.empty() || e.type.empty()) throw not_taken{};
        trace.finish(e);
        return e;
    }

private:
    // The top-level keys envelope() reads, and the CloudEvents attributes cloudevent() reads; a
    // key's index is its bit in their `seen`.
    static constexpr std::array<std::string_view, 9> envelope_keys{
        "id", "cause", "source", "type", "sender", "traceparent", "tracestate", "payload", "impacted_records"};
    static constexpr std::array<std::string_view, 15> ce_attributes{
        "specversion", "id",     "source",       "type",   "time", "subject",     "datacontenttype", "sender",
        "action",      "cause",  "resourcename", "userid", "data", "traceparent", "tracestate"};

    // `key`'s bit among `keys`; 0 when it is none of them.
    template <std::size_t N>
    static unsigned key_bit(const std::array<std::string_view, N>& keys, std::string_view key) {
        for (std::size_t i = 0; i < N; ++i) {
            if (keys[i] == key) return 1U << i;
        }
        return 0;
    }

    // Marks `key` seen; not taken when it is none of `keys`, or was seen already.
    template <std::size_t N>
    static void first_time(unsigned& seen, const std::array<std::string_view, N>& keys, std::string_view key) {
        const unsigned bit = key_bit(keys, key);
        if (bit == 0 || (seen & bit) != 0) throw not_taken{};
        seen |= bit;
    }

    // A CloudEvent's data in beacon's shape: an object of "data" (an object) and, optionally,
    // "impacted_records", each once.
    void data(dom::element value, event& e) {
        dom::object fields;
        if (value.get(fields) != ::simdjson::SUCCESS) throw not_taken{};
        bool has_data = false;
        bool has_records = false;
        for (const auto field : fields) {
            if (field.key == "data" && !has_data) {
                if (field.value.type() != dom::element_type::OBJECT) throw not_taken{};
                e.data = to_json(field.value);
                has_data = true;
            } else if (field.key == "impacted_records" && !has_records) {
                dom::array records;
                if (field.value.get(records) != ::simdjson::SUCCESS) throw not_taken{};
                for (const auto one : records) e.impacted_records.push_back(record(one));
                has_records = true;
            } else {
                throw not_taken{};  // another producer's data, or a key given twice
            }
        }
        if (!has_data) throw not_taken{};
    }

    // `element` as nlohmann::json, typed as nlohmann's parser types it: a non-negative integer is
    // unsigned, a negative one signed, a number with a fraction or an exponent a float. Recursion
    // is bounded by the parser's depth limit.
    nlohmann::json to_json(dom::element element) {
        switch (element.type()) {
            case dom::element_type::OBJECT: {
                nlohmann::json object(nlohmann::json::value_t::object);
                auto& members = object.get_ref<nlohmann::json::object_t&>();
                for (const auto field : dom::object(element)) {
                    members[std::string(field.key)] = to_json(field.value);  // a key given twice: the last wins
                }
                return object;
            }
            case dom::element_type::ARRAY: {
                nlohmann::json array(nlohmann::json::value_t::array);
                auto& items = array.get_ref<nlohmann::json::array_t&>();
                for (const auto item : dom::array(element)) items.push_back(to_json(item));
                return array;
            }
            case dom::element_type::STRING:
                return std::string(element.get_string().value_unsafe());
            case dom::element_type::INT64: {
                const std::int64_t n = element.get_int64().value_unsafe();
                if (n < 0) return n;
                // "-0" is a signed 0 to nlohmann, "0" an unsigned one: the tape has 0 for both.
                if (n == 0 && may_hold_minus_zero()) throw not_taken{};
                return static_cast<std::uint64_t>(n);
            }
            case dom::element_type::UINT64:
                return element.get_uint64().value_unsafe();
            case dom::element_type::DOUBLE:
                return element.get_double().value_unsafe();  // "-0.0" too: -0.0 to both parsers
            case dom::element_type::BOOL:
                return element.get_bool().value_unsafe();
            case dom::element_type::NULL_VALUE:
                return nullptr;
        }
        throw not_taken{};
    }

    // True when the text holds "-0" not followed by a digit, a point or an exponent: a number -0,
    // or those bytes inside a string (looked for once per text, and only when a 0 was read).
    bool may_hold_minus_zero() {
        if (minus_zero_ < 0) {
            minus_zero_ = 0;
            for (auto at = text_.find("-0"); at != std::string_view::npos; at = text_.find("-0", at + 1)) {
                const char next = at + 2 < text_.size() ? text_[at + 2] : ' ';
                if (!(next >= '0' && next <= '9') && next != '.' && next != 'e' && next != 'E') {
                    minus_zero_ = 1;
                    break;
                }
            }
        }
        return minus_zero_ == 1;
    }

    // A string's text; any other type is not taken.
    static std::string_view string_of(dom::element value) {
        std::string_view text;
        if (value.get(text) != ::simdjson::SUCCESS) throw not_taken{};
        return text;
    }

    // A string field: null reads as empty; any other type is not taken.
    static std::string string_field(dom::element value) {
        return value.is_null() ? std::string() : std::string(string_of(value));
    }

    // An event id: a UUID other than nil.
    static event_id id_text(std::string_view text) {
        const auto id = event_id::parse(text);
        if (!id || id->is_nil()) throw not_taken{};
        return *id;
    }

    // Kinto's payload, or the envelope's "payload" object, into `e` (beacon's read_payload).
    void payload(dom::object fields, event& e) {
        for (const auto field : fields) {
            const std::string_view key = field.key;
            if (key == "timestamp") {
                // INT64 only: a larger integer (UINT64) does not fit, a float is not an integer.
                if (field.value.type() != dom::element_type::INT64) throw not_taken{};
                const std::int64_t timestamp = field.value.get_int64().value_unsafe();
                if (timestamp < 0) throw not_taken{};
                e.timestamp = timestamp;
            } else if (key == "action") {
                if (field.value.is_null()) {
                    e.action.reset();  // a key given twice: the last wins, as in beacon's reader
                    continue;
                }
                e.action = parse_action(string_of(field.value));
                if (!e.action) throw not_taken{};
            } else if (key == "uri") {
                e.uri = string_field(field.value);
            } else if (key == "user_id") {
                e.user_id = string_field(field.value);
            } else if (key == "resource_name") {
                e.resource_name = string_field(field.value);
            } else {
                e.data[std::string(key)] = to_json(field.value);
            }
        }
    }

    impacted_record record(dom::element value) {
        dom::object fields;
        if (value.get(fields) != ::simdjson::SUCCESS) throw not_taken{};
        impacted_record out;
        for (const auto field : fields) {
            if (field.key == "new") {
                out.new_value = to_json(field.value);
            } else if (field.key == "old") {
                out.old_value = to_json(field.value);
            } else {
                throw not_taken{};
            }
        }
        return out;
    }

    std::string_view text_;
    int minus_zero_ = -1;  // may_hold_minus_zero's answer: -1 until asked
};

// Which shape `top` has, as beacon::decode_any tells them apart: the envelope has a "payload" and
// none of the payload's own fields beside it.
inline bool is_envelope(dom::object top) {
    bool payload = false;
    for (const auto field : top) {
        if (field.key == "payload") payload = true;
        for (const auto name : ::beacon::detail::payload_fields) {
            if (field.key == name) return false;
        }
    }
    return payload;
}

// The calling thread's parser and its padded copy of the text, shared by every decoder.
struct thread_parser {
    dom::parser parser;
    std::string padded;
};

inline thread_parser& this_thread_parser() {
    thread_local thread_parser kept;
    return kept;
}

// Parses `text` within `limits` and reads it with `read(reader&, top object)`, on the calling
// thread's parser (or, past kept_parser_bytes, on one of its own). Throws not_taken for a text the
// fast path leaves to beacon's decoder, and any exception of `read`.
template <class Read>
event decode(std::string_view text, const json_limits& limits, Read read) {
    if (text.size() > limits.max_bytes || limits.max_depth <= depth_margin) throw not_taken{};
    // beacon refuses a NUL byte anywhere (nlohmann's lexer would stop at one).
    if (text.find('\0') != std::string_view::npos) throw not_taken{};
    const std::size_t depth = std::min(limits.max_depth - depth_margin, max_fast_depth);
    auto read_top = [&](thread_parser& p) {
        dom::object top;
        if (parse(p.parser, p.padded, text, depth).get(top) != ::simdjson::SUCCESS) throw not_taken{};
        reader r(text);
        return read(r, top);
    };
    if (text.size() > kept_parser_bytes) {
        thread_parser own;
        return read_top(own);
    }
    return read_top(this_thread_parser());
}

// `read`'s event (see decode), or, for a text the fast path does not take or whose value a shared
// parser refused (a time, a traceparent: a beacon::error), `core(text, limits)`: the core's decoder,
// which returns the event or throws its decode_error.
template <class Read>
event decode_or(std::string_view text, const json_limits& limits, event (*core)(std::string_view, const json_limits&),
                Read read) {
    try {
        return decode(text, limits, read);
    } catch (const not_taken&) {
    } catch (const ::beacon::error&) {
    }
    return core(text, limits);
}

}  // namespace beacon::simdjson::detail
