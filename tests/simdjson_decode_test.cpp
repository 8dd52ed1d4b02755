// beacon::simdjson's decoders (<beacon/simdjson/decode.hpp>) against the core's, text by text: the
// same event, every JSON value of the same type, or the same decode_error; and which texts the
// fast path takes itself rather than handing them to the core's decoder.
#include <beacon/simdjson/decode.hpp>

#include "same_decoding.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using beacon_test::decode_with;
using beacon_test::same_outcome;

// Checks both decoders of simdjson against the core's on `text`.
void check_same(std::string_view text, const beacon::json_limits& limits = {}) {
    INFO("text: " << text.substr(0, 300) << " (max_depth " << limits.max_depth << ", max_bytes " << limits.max_bytes << ")");
    CHECK(same_outcome(decode_with(beacon::simdjson::decode_any, text, limits),
                       decode_with(beacon::decode_any, text, limits)));
    CHECK(same_outcome(decode_with(beacon::simdjson::decode_kinto, text, limits),
                       decode_with(beacon::decode_kinto, text, limits)));
    CHECK(same_outcome(decode_with(beacon::simdjson::decode_cloudevent, text, limits),
                       decode_with(beacon::decode_cloudevent, text, limits)));
}

// True when the fast path reads `text` itself, false when it hands it over (as the decoders do on
// not_taken and on beacon::error): as decode_any's shapes, or as a CloudEvent.
enum class shape { any, cloudevent };
bool taken(std::string_view text, const beacon::json_limits& limits = {}, shape as = shape::any) {
    namespace fast = beacon::simdjson::detail;
    try {
        fast::decode(text, limits, [as](fast::reader& r, fast::dom::object top) {
            if (as == shape::cloudevent) return r.cloudevent(top);
            return fast::is_envelope(top) ? r.envelope(top) : r.flat(top);
        });
        return true;
    } catch (const fast::not_taken&) {
        return false;
    } catch (const beacon::error&) {  // a value the core's decoder must judge (a time, a traceparent)
        return false;
    }
}

beacon::event full_event() {
    beacon::event e("blog-api", {{"bucket_id", "blog"}, {"id", "a1"}, {"tags", {"x", 1, -2, 2.5, nullptr, true}}});
    e.action = beacon::action::update;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.user_id = "basicauth:alice";
    e.timestamp = 1453896392123;
    e.impacted_records.push_back({nlohmann::json{{"title", "H\u00e9llo \xf0\x9f\x98\x80"}}, nlohmann::json{{"title", "Hi\n"}}});
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"deep", {{"a", {{"b", {1, 2, {{"c", nullptr}}}}}}}}}});
    e.id = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    e.cause = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4e");
    e.source = "/blog-api";
    e.type = "core.resource_changed";
    e.trace = beacon::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE");
    return e;
}

// Texts every decoder reads, the fast path itself.
std::vector<std::string> good_texts() {
    const auto e = full_event();
    beacon::event anonymous("s");
    return {
        beacon::wire_format::envelope().encode(e),
        beacon::wire_format::kinto().encode(e),
        beacon::wire_format::envelope().encode(anonymous),
        beacon::wire_format::kinto().encode(anonymous),
        // nlohmann's number types: unsigned, signed, float; the edges of int64 and uint64
        R"({"payload":{"n":[0,1,-1,1.5,1e2,-2E-3,18446744073709551615,9223372036854775807,-9223372036854775808,0.0,1e-320]}})",
        // escapes, surrogate pairs, a NUL written as an escape
        R"({"payload":{"s":"\u00e9\ud83d\ude00\n\t\"\\\/\u0000\b\f\r"},"sender":"\u0041"})",
        " \t\r\n{ \"payload\" : { \"action\" : \"read\" } , \"sender\" : null } \n",
        // a key given twice inside the payload, a data object or a record: the last wins
        R"({"payload":{"uri":"/a","uri":"/b","action":"create","action":null,"k":{"x":1,"x":2}},"impacted_records":[{"new":1,"new":2}]})",
        R"({"action":"delete","user_id":null,"timestamp":0,"bucket_id":"b"})",
        R"({"action":null,"resource_name":"bucket"})",
        R"({"payload":{},"impacted_records":[]})",
    };
}

// CloudEvents every decoder reads, the fast path itself: beacon's shape.
std::vector<std::string> good_cloudevents() {
    const std::string head = R"({"specversion":"1.0","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/s","type":"t")";
    return {
        beacon::wire_format::cloudevents().encode(full_event()),
        head + "}",
        head + R"(,"subject":null,"data":null,"sender":null})",
        head + R"(,"time":"2026-12-06T10:00:00.1234+02:00","datacontenttype":"application/cloudevents+json; charset=utf-8"})",
        head + R"(,"data":{"impacted_records":[{"old":{"n":-1}}],"data":{"k":[1,2.5,"é"]}},"action":"delete"})",
    };
}

// CloudEvents the fast path leaves to the core's decoder, which reads them or refuses them.
std::vector<std::string> other_cloudevents() {
    const std::string head = R"({"specversion":"1.0","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/s","type":"t")";
    return {
        head + R"(,"myextension":"x","data":{"data":{}}})",         // an extension attribute: kept in data
        head + R"(,"data":{"title":"another producer's data"}})",   // foreign data
        head + R"(,"data":{"impacted_records":[]}})",
        head + R"(,"data":{"data":{},"data":{}}})",
        head + R"(,"data":{}})",
        head + R"(,"data_base64":"AAAA"})",
        head + R"(,"source":"/t"})",
        head + R"(,"data":{"data":{},"extra":1}})",
        head + R"(,"data":{"data":[]}})",
        head + R"(,"data":[]})",
        head + R"(,"time":"yesterday"})",
        head + R"(,"time":5})",
        head + R"(,"datacontenttype":"text/plain"})",
        head + R"(,"action":"explode"})",
        head + R"(,"tracestate":"a=b"})",
        head + R"(,"Upper":1})",
        head + R"(,"ext":{"a":1}})",
        head + R"(,"cause":"00000000-0000-0000-0000-000000000000"})",
        R"({"specversion":"0.3","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/s","type":"t"})",
        R"({"specversion":null,"id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/s","type":"t"})",
        R"({"specversion":"1.0","source":"/s","type":"t"})",
        R"({"specversion":"1.0","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"","type":"t"})",
        R"({"specversion":"1.0","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/s","type":5})",
        R"({"specversion":"1.0","id":7,"source":"/s","type":"t"})",
    };
}

// Texts the core's decoders refuse (or the fast path leaves to them).
std::vector<std::string> bad_texts() {
    return {
        "", " ", "{", "[]", "null", "1", "\"x\"", "{}", "{\"payload\":1}", "{\"payload\":{}} x", "{\"payload\":{}}}",
        "{\"payload\":{},}", "{'payload':{}}", "{\"payload\":{\"x\":01}}", "{\"payload\":{\"x\":1.}}",
        "{\"payload\":{\"x\":NaN}}", "{\"payload\":{\"x\":1e999}}", "{\"payload\":{\"x\":-0}}",
        "{\"payload\":{\"x\":123456789012345678901234567890}}",
        R"({"payload":{},"unknown":1})",
        R"({"payload":{},"id":"not-a-uuid"})",
        R"({"payload":{},"id":"00000000-0000-0000-0000-000000000000"})",
        R"({"payload":{},"cause":7})",
        R"({"payload":{"action":"explode"}})",
        R"({"payload":{"action":1}})",
        R"({"payload":{"timestamp":-1}})",
        R"({"payload":{"timestamp":1.5}})",
        R"({"payload":{"timestamp":"1"}})",
        R"({"payload":{"timestamp":9223372036854775808}})",
        R"({"payload":{"uri":5}})",
        R"({"payload":{},"sender":[]})",
        R"({"payload":{},"tracestate":"a=b"})",
        R"({"payload":{},"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"})",
        R"({"payload":{},"traceparent":7})",
        R"({"payload":{},"impacted_records":{}})",
        R"({"payload":{},"impacted_records":[1]})",
        R"({"payload":{},"impacted_records":[{"older":1}]})",
        R"({"payload":{"a":1},"payload":{"b":2}})",
        R"({"payload":{},"sender":"a","sender":"b"})",
        R"({"payload":{},"uri":"/x"})",
        R"({"timestamp":1,"uri":"/x"})",
        std::string("{\"payload\":{\"s\":\"a\0b\"}}", 23),
        std::string("{\"payload\":{}}\0", 15),
        "{\"payload\":{\"s\":\"\xff\"}}",
        "{\"payload\":{\"s\":\"\xc3\"}}",
        "{\"payload\":{\"s\":\"\xed\xa0\x80\"}}",
        R"({"payload":{"s":"\ud800"}})",
        R"({"payload":{"s":"\udc00\ud800"}})",
        R"({"payload":{"s":"\ud800\u0041"}})",
        R"({"payload":{"s":"\x"}})",
        "{\"payload\":{\"s\":\"tab\there\"}}",
        "{\"payload\":{\"s\":\"line\nbreak\"}}",
    };
}

}  // namespace

TEST_CASE("simdjson's decoders read every event the core's read, into the same events, and take them themselves",
          "[simdjson]") {
    for (const auto& text : good_texts()) {
        INFO(text);
        check_same(text);
        CHECK(taken(text));
        CHECK(std::holds_alternative<beacon::event>(decode_with(beacon::simdjson::decode_any, text, {})));
    }
    CHECK(beacon::simdjson::decode_any(good_texts().front()) == full_event());
}

TEST_CASE("simdjson's CloudEvents decoder reads beacon's shape itself, into the same events; other producers' events and bad ones go to the core's",
          "[simdjson]") {
    for (const auto& text : good_cloudevents()) {
        INFO(text);
        check_same(text);
        CHECK(taken(text, {}, shape::cloudevent));
        CHECK(std::holds_alternative<beacon::event>(decode_with(beacon::simdjson::decode_cloudevent, text, {})));
    }
    CHECK(beacon::simdjson::decode_cloudevent(good_cloudevents().front()) == full_event());
    for (const auto& text : other_cloudevents()) {
        INFO(text);
        check_same(text);
        CHECK_FALSE(taken(text, {}, shape::cloudevent));
    }
    // The core reads some of them: another producer's extension is kept in data.
    CHECK(beacon::simdjson::decode_cloudevent(other_cloudevents().front()).data.contains(beacon::cloudevents_extensions_key));
}

TEST_CASE("every text the core's decoders refuse, simdjson's refuse with the same error, path and reason",
          "[simdjson]") {
    for (const auto& text : bad_texts()) check_same(text);
    // A limit's error: the size is checked before anything is read.
    const std::string text = good_texts().front();
    beacon::json_limits small;
    small.max_bytes = text.size() - 1;
    check_same(text, small);
    CHECK_THROWS_WITH(beacon::simdjson::decode_any(text, small), Catch::Matchers::Contains("json_limits::max_bytes"));
    small.max_bytes = text.size();
    check_same(text, small);
}

TEST_CASE("what the fast path is not sure of, it hands to the core's decoder: -0, a byte-order mark, a top-level key given twice, a text near the depth limit",
          "[simdjson]") {
    // -0 is a signed integer to nlohmann, 0 an unsigned one, -0.0 a float; simdjson's tape has 0 for
    // both integers: a 0 is taken only where the text has no "-0" that could be a number. -0.0 is
    // -0.0 to both parsers.
    CHECK(taken(R"({"payload":{"x":-0.0,"y":-0e3}})"));
    CHECK(std::signbit(beacon::simdjson::decode_any(R"({"payload":{"x":-0.0}})").data["x"].get<double>()));
    CHECK_FALSE(taken(R"({"payload":{"x":-0}})"));
    CHECK_FALSE(taken(R"({"payload":{"x":0,"s":"a-0"}})"));
    CHECK(taken(R"({"payload":{"x":0,"s":"2024-01-02","y":-0.5}})"));
    CHECK(taken(R"({"payload":{"x":1,"s":"a-0"}})"));
    // A byte-order mark: nlohmann skips it, simdjson does not.
    CHECK_FALSE(taken("\xef\xbb\xbf{\"payload\":{}}"));
    check_same("\xef\xbb\xbf{\"payload\":{}}");
    CHECK_FALSE(taken(R"({"payload":{"a":1},"payload":{"b":2}})"));
    CHECK_FALSE(taken(R"({"payload":{},"impacted_records":[],"impacted_records":[]})"));
    check_same(R"({"payload":{"x":-0.0}})");
    check_same(R"({"payload":{"x":[-0.0,-0,0]}})");
    check_same(R"({"payload":{},"impacted_records":[{"new":1}],"impacted_records":[{"old":2}]})");
    // Data nested `levels` deep in each shape, under every small max_depth: the same outcome, and
    // the fast path takes only what is at least two levels within the limit.
    for (std::size_t max_depth = 1; max_depth <= 9; ++max_depth) {
        beacon::json_limits limits;
        limits.max_depth = max_depth;
        for (std::size_t levels = 0; levels <= 11; ++levels) {
            const std::string nested = std::string(levels, '[') + "1" + std::string(levels, ']');
            const std::string envelope = R"({"payload":{"x":)" + nested + "}}";
            const std::string flat = R"({"action":"read","x":)" + nested + "}";
            check_same(envelope, limits);
            check_same(flat, limits);
            // The envelope's text nests levels + 2 containers, Kinto's levels + 1: taken when they
            // are two levels within the limit.
            CHECK(taken(envelope, limits) == (levels + 2 + 2 <= max_depth));
            CHECK(taken(flat, limits) == (levels + 1 + 2 <= max_depth));
        }
    }
}

// (Not thousands of levels: comparing the events, nlohmann's operator== recurses per level.)
TEST_CASE("past 256 levels the fast path hands every text over, however deep max_depth allows", "[simdjson]") {
    beacon::json_limits limits;
    limits.max_depth = 100000;
    for (const std::size_t levels : {std::size_t{250}, std::size_t{253}, std::size_t{254}, std::size_t{255}, std::size_t{300}}) {
        const std::string text = R"({"payload":{"x":)" + std::string(levels, '[') + std::string(levels, ']') + "}}";
        check_same(text, limits);
        // The text nests levels + 2 containers, the innermost empty: no value deeper than it.
        CHECK(taken(text, limits) == (levels + 2 <= beacon::simdjson::detail::max_fast_depth));
    }
}

TEST_CASE("a message over 64 KiB is read by a parser of its own, into the same event; the thread's parser still reads after it",
          "[simdjson]") {
    beacon::event e("big");
    e.timestamp = 1;
    e.data["text"] = std::string(200 * 1024, 'x');
    for (int i = 0; i < 2000; ++i) e.data["k" + std::to_string(i)] = i;
    const std::string big = beacon::wire_format::envelope().encode(e);
    REQUIRE(big.size() > beacon::simdjson::detail::kept_parser_bytes);
    check_same(big);
    CHECK(taken(big));
    CHECK(beacon::simdjson::decode_any(big) == e);
    for (const auto& text : good_texts()) check_same(text);
}

TEST_CASE("simdjson::envelope() and kinto() are the core's formats, by name and bytes, with the faster decoder",
          "[simdjson]") {
    const auto e = full_event();
    CHECK(beacon::simdjson::envelope().name() == "envelope");
    CHECK(beacon::simdjson::kinto().name() == "kinto");
    CHECK(beacon::simdjson::cloudevents().name() == "cloudevents");
    CHECK(beacon::simdjson::cloudevents().encode(e) == beacon::wire_format::cloudevents().encode(e));
    CHECK(beacon::simdjson::cloudevents().decode(beacon::wire_format::cloudevents().encode(e)) == e);
    CHECK(beacon::simdjson::envelope().encode(e) == beacon::wire_format::envelope().encode(e));
    CHECK(beacon::simdjson::kinto().encode(e) == beacon::wire_format::kinto().encode(e));
    CHECK(beacon::simdjson::envelope().decode(beacon::wire_format::envelope().encode(e)) == e);
    // Kinto's format alone refuses the envelope, with the core's message.
    const std::string envelope = beacon::wire_format::envelope().encode(e);
    CHECK(same_outcome(decode_with([](std::string_view t, const beacon::json_limits& l) { return beacon::simdjson::kinto().decode(t, l); }, envelope, {}),
                       decode_with([](std::string_view t, const beacon::json_limits& l) { return beacon::wire_format::kinto().decode(t, l); }, envelope, {})));
}

TEST_CASE("threads decode side by side, each on its own parser, small and large messages mixed", "[simdjson]") {
    std::vector<std::string> texts = good_texts();
    for (const auto& text : bad_texts()) texts.push_back(text);
    for (const auto& text : good_cloudevents()) texts.push_back(text);
    beacon::event big("big");
    big.data["text"] = std::string(100 * 1024, 'y');
    texts.push_back(beacon::wire_format::envelope().encode(big));
    std::vector<beacon_test::outcome> expected;
    for (const auto& text : texts) expected.push_back(decode_with(beacon::decode_any, text, {}));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < mismatches.size(); ++t) {
        threads.emplace_back([&, t] {
            for (int round = 0; round < 20; ++round) {
                for (std::size_t i = 0; i < texts.size(); ++i) {
                    const std::size_t k = (i + t * 7 + static_cast<std::size_t>(round)) % texts.size();
                    if (!same_outcome(decode_with(beacon::simdjson::decode_any, texts[k], {}), expected[k])) ++mismatches[t];
                }
            }
        });
    }
    for (auto& thread : threads) thread.join();
    CHECK(mismatches == std::vector<int>(4, 0));
}
