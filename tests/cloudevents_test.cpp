// CloudEvents 1.0 JSON (<beacon/cloudevents.hpp>): the exact bytes of a known event, round trips,
// events other producers write, and every kind of bad input, without any transport.
#include <beacon/cloudevents.hpp>
#include <beacon/wire_format.hpp>

#include "test_events.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using Catch::Matchers::Contains;

namespace {

const char* const known_id = "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d";
const char* const known_cause = "0190b5e4-7f0b-7000-8000-000000000001";
const char* const known_trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// A stamped record creation with every field set.
beacon::event full_event() {
    auto e = test_events::record_event(beacon::action::create, "a1", "basicauth:alice");
    e.id = *beacon::event_id::parse(known_id);
    e.cause = *beacon::event_id::parse(known_cause);
    e.source = "/blog-api";
    e.type = "core.resource_changed";
    e.trace = beacon::trace_context::parse(known_trace, "congo=t61rcWkgMzE");
    e.timestamp = 1796283180123;  // 2026-12-03T07:33:00.123Z
    return e;
}

std::string encode(const beacon::event& e) {
    std::string out;
    beacon::encode_cloudevent(e, out);
    return out;
}

// The decode_error decode_cloudevent throws for `text`, as its message.
std::string refusal(const std::string& text, const beacon::json_limits& limits = {}) {
    try {
        beacon::decode_cloudevent(text, limits);
    } catch (const beacon::decode_error& e) {
        return e.what();
    }
    return "(decoded)";
}

// A minimal valid CloudEvent with `extra` members appended ("" for none).
std::string minimal(const std::string& extra = "") {
    return R"({"specversion":"1.0","id":")" + std::string(known_id) + R"(","source":"/s","type":"t")" + extra + "}";
}

}  // namespace

TEST_CASE("an event is written as a CloudEvent, byte for byte, and reads back equal", "[cloudevents]") {
    const auto e = full_event();
    const std::string expected =
        R"({"specversion":"1.0","id":"0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d","source":"/blog-api",)"
        R"("type":"core.resource_changed","time":"2026-12-03T07:33:00.123Z","datacontenttype":"application/json",)"
        R"("subject":"/buckets/blog/collections/articles/records/a1","sender":"kinto","action":"create",)"
        R"("resourcename":"record","userid":"basicauth:alice","cause":"0190b5e4-7f0b-7000-8000-000000000001",)"
        R"("traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"congo=t61rcWkgMzE",)"
        R"("data":{"data":{"bucket_id":"blog","collection_id":"articles","record_id":"a1"},)"
        R"("impacted_records":[{"new":{"id":"a1"}}]}})";
    CHECK(encode(e) == expected);
    CHECK(beacon::decode_cloudevent(expected) == e);
    CHECK(beacon::wire_format::cloudevents().name() == "cloudevents");
    CHECK(beacon::wire_format::cloudevents().decode(beacon::wire_format::cloudevents().encode(e)) == e);
}

TEST_CASE("optional fields are left out when unset and read back unset; non-ASCII and old values round-trip",
          "[cloudevents]") {
    beacon::event e("", {{"title", "café ☕ 😀"}, {"nested", {{"a", {1, 2.5, nullptr, true}}}}});
    e.stamp();
    e.source = "urn:beacon";
    e.type = "t";
    e.impacted_records.push_back({nlohmann::json{{"v", 1}}, nlohmann::json{{"v", 2}}});
    e.impacted_records.push_back({nlohmann::json{{"v", 3}}, std::nullopt});
    const auto text = encode(e);
    for (const char* absent : {"subject", "sender", "action", "resourcename", "userid", "cause", "traceparent", "tracestate"}) {
        CHECK_THAT(text, !Contains(std::string("\"") + absent + "\""));
    }
    CHECK_THAT(text, Contains("\"title\":\"café ☕ 😀\""));
    CHECK(beacon::decode_cloudevent(text) == e);
    // A timestamp of 0 is written as now, as the other formats write it.
    e.timestamp = 0;
    const auto now = beacon::event::now_ms();
    const auto back = beacon::decode_cloudevent(encode(e));
    CHECK(back.timestamp >= now);
    CHECK(back.timestamp < now + 60000);
}

TEST_CASE("an event without an id, source or type, or with a time RFC 3339 cannot write, is an encode_error",
          "[cloudevents]") {
    auto e = full_event();
    e.id = {};
    CHECK_THROWS_WITH(encode(e), Contains("[beacon.encode_error] /id: a CloudEvent requires an id"));
    e = full_event();
    e.source.clear();
    CHECK_THROWS_WITH(encode(e), Contains("/source: a CloudEvent requires a source"));
    e = full_event();
    e.type.clear();
    CHECK_THROWS_WITH(encode(e), Contains("/type: a CloudEvent requires a type"));
    e = full_event();
    e.timestamp = -1;
    CHECK_THROWS_WITH(encode(e), Contains("/timestamp:"));
    e.timestamp = 253402300800000;  // 10000-01-01
    CHECK_THROWS_WITH(encode(e), Contains("/timestamp:"));
    e.timestamp = 253402300799999;
    CHECK_THAT(encode(e), Contains("\"time\":\"9999-12-31T23:59:59.999Z\""));
    e = full_event();
    e.data = nlohmann::json::array();
    CHECK_THROWS_WITH(encode(e), Contains("/data: must be a JSON object"));
    e = full_event();
    e.data["bad"] = "\xff";
    CHECK_THROWS_WITH(encode(e), Contains("/data/bad: invalid UTF-8"));
    e = full_event();
    e.data["nan"] = std::nan("");
    CHECK_THAT(encode(e), Contains(R"("nan":null)"));  // as the envelope writes it
    e = full_event();
    nlohmann::json deep = 1;
    for (int i = 0; i < 125; ++i) deep = nlohmann::json::array({deep});  // 125 levels from level 4: 128
    e.data["deep"] = deep;
    CHECK(beacon::decode_cloudevent(encode(e)) == e);
    e.data["deep"] = nlohmann::json::array({deep});
    CHECK_THROWS_WITH(encode(e), Contains("/data/deep") && Contains("nests deeper than 128"));
}

TEST_CASE("times are read in any RFC 3339 offset, cut to milliseconds", "[cloudevents]") {
    const auto at = [](const std::string& time) {
        return beacon::decode_cloudevent(minimal(R"(,"time":")" + time + "\"")).timestamp;
    };
    CHECK(at("2026-12-03T07:33:00.123Z") == 1796283180123);
    CHECK(at("2026-12-03T07:33:00Z") == 1796283180000);
    CHECK(at("2026-12-03t08:33:00.1234567+01:00") == 1796283180123);
    CHECK(at("2026-12-03T07:03:00.5-00:30") == 1796283180500);
    CHECK(at("2024-02-29T00:00:00z") == 1709164800000);
    CHECK(at("1970-01-01T00:00:00.001Z") == 1);
    CHECK(beacon::decode_cloudevent(minimal()).timestamp == 0);  // no time: unstamped
    for (const char* bad : {"2026-12-03", "2026-12-03T07:33:00", "2026-12-03 07:33:00Z", "2026-13-03T07:33:00Z",
                            "2025-02-29T00:00:00Z", "2026-12-03T24:00:00Z", "2026-12-03T07:33:00.Z",
                            "2026-12-03T07:33:00+0100", "2026-12-03T07:33:00Zjunk", "1969-12-31T23:59:59Z",
                            "1970-01-01T00:30:00+01:00", "+2026-12-03T07:33:00Z", ""}) {
        CAPTURE(bad);
        CHECK_THAT(refusal(minimal(R"(,"time":")" + std::string(bad) + "\"")),
                   Contains("[beacon.decode_error] /time: ") && Contains("expected RFC 3339"));
    }
    CHECK_THAT(refusal(minimal(R"(,"time":1796283180123)")), Contains("/time: expected an RFC 3339 time string, got number"));
}

TEST_CASE("an event another producer writes is read: any object as its data, other attributes kept", "[cloudevents]") {
    const auto e = beacon::decode_cloudevent(
        R"({"specversion":"1.0","id":"A234F678-1234-4234-8234-123456789ABC","source":"https://example.com/orders",)"
        R"("type":"com.example.order.created","datacontenttype":"application/vnd.order+json; charset=utf-8",)"
        R"("dataschema":"https://example.com/order.json","partitionkey":"p1","sequence":7,"flag":true,"comexampleextension":null,)"
        R"("data":{"order":42,"data":"not an object"}})");
    CHECK(e.id.to_string() == "a234f678-1234-4234-8234-123456789abc");
    CHECK(e.source == "https://example.com/orders");
    CHECK(e.type == "com.example.order.created");
    CHECK(e.data == nlohmann::json{{"order", 42}, {"data", "not an object"},
                                   {"cloudevents_extensions",
                                    {{"dataschema", "https://example.com/order.json"}, {"partitionkey", "p1"}, {"sequence", 7}, {"flag", true}}}});
    CHECK(e.impacted_records.empty());
    CHECK(e.timestamp == 0);
    CHECK(!e.action);
    // What beacon reads, it writes back and reads equal (the kept attributes then travel in data).
    auto stamped = e;
    stamped.timestamp = 5;
    CHECK(beacon::decode_cloudevent(encode(stamped)) == stamped);
    // No data at all: an empty object.
    CHECK(beacon::decode_cloudevent(minimal()).data == nlohmann::json::object());
    CHECK(beacon::decode_cloudevent(minimal(R"(,"data":{"data":{"x":1}})")).data == nlohmann::json{{"x", 1}});
    CHECK_THAT(refusal(minimal(R"(,"x1":1,"data":{"cloudevents_extensions":{}})")),
               Contains("/data/cloudevents_extensions: the data has this key of its own"));
}

TEST_CASE("a CloudEvent with a missing or bad attribute is a decode_error naming it", "[cloudevents]") {
    const std::string id = known_id;
    const std::string rest = R"("source":"/s","type":"t")";
    CHECK_THAT(refusal(R"({"id":")" + id + "\"," + rest + "}"), Contains("[beacon.decode_error] /specversion: missing required attribute"));
    CHECK_THAT(refusal(R"({"specversion":"0.3","id":")" + id + "\"," + rest + "}"),
               Contains("/specversion: expected \"1.0\" (CloudEvents 1.0), got \"0.3\""));
    CHECK_THAT(refusal(R"({"specversion":1.0,"id":")" + id + "\"," + rest + "}"), Contains("/specversion: expected \"1.0\"") && Contains("got number"));
    CHECK_THAT(refusal(R"({"specversion":"1.0",)" + rest + "}"), Contains("/id: missing required attribute"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":"order-42",)" + rest + "}"),
               Contains("/id: expected a UUID other than nil") && Contains("\"order-42\""));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":"00000000-0000-0000-0000-000000000000",)" + rest + "}"),
               Contains("/id: expected a UUID other than nil"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":42,)" + rest + "}"), Contains("/id: expected an event id (a UUID string), got number"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":")" + id + R"(","type":"t"})"), Contains("/source: missing or empty required attribute"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":")" + id + R"(","source":"","type":"t"})"), Contains("/source: missing or empty"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":")" + id + R"(","source":"/s"})"), Contains("/type: missing or empty required attribute"));
    CHECK_THAT(refusal(R"({"specversion":"1.0","id":")" + id + R"(","source":"/s","type":["t"]})"), Contains("/type: expected a string, got array"));
    CHECK_THAT(refusal(minimal(R"(,"traceparent":"00-xyz")")), Contains("/traceparent: too short"));
    CHECK_THAT(refusal(minimal(R"(,"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01")")),
               Contains("/traceparent: an all-zero trace id"));
    CHECK_THAT(refusal(minimal(R"(,"tracestate":"a=b")")), Contains("/tracestate: a tracestate without a traceparent"));
    CHECK_THAT(refusal(minimal(R"(,"cause":"nope")")), Contains("/cause: expected a UUID"));
    CHECK_THAT(refusal(minimal(R"(,"action":"explode")")), Contains("/action: unknown action \"explode\""));
    CHECK_THAT(refusal(minimal(R"(,"userid":7)")), Contains("/userid: expected a string, got number"));
    CHECK_THAT(refusal(minimal(R"(,"datacontenttype":"text/plain")")), Contains("/datacontenttype: expected application/json or a +json"));
    CHECK_THAT(refusal(minimal(R"(,"data_base64":"aGk=")")), Contains("/data_base64: binary data is not supported"));
    CHECK_THAT(refusal(minimal(R"(,"data":"hello")")), Contains("/data: expected an object") && Contains("got string"));
    CHECK_THAT(refusal(minimal(R"(,"data":{"data":{},"impacted_records":{}})")), Contains("/data/impacted_records: expected an array"));
    CHECK_THAT(refusal(minimal(R"(,"data":{"data":{},"impacted_records":[{"older":1}]})")),
               Contains("/data/impacted_records/0/older: unknown key in an impacted record"));
    CHECK_THAT(refusal(minimal(R"(,"Partition_Key":"p")")), Contains("/Partition_Key: not a CloudEvents attribute name"));
    CHECK_THAT(refusal(minimal(R"(,"ext":{"a":1})")), Contains("/ext: expected a string, number or boolean"));
    CHECK_THAT(refusal("[1]"), Contains("[beacon.decode_error] /: expected a CloudEvent (a JSON object), got array"));
    CHECK_THAT(refusal("{not json"), Contains("/: not valid JSON"));
    // Beacon's envelope is not a CloudEvent.
    CHECK_THAT(refusal(beacon::wire_format::envelope().encode(full_event())), Contains("/specversion: missing required attribute"));
}

TEST_CASE("a CloudEvent is read within json_limits, its data's nesting counted where beacon writes it", "[cloudevents]") {
    beacon::json_limits small;
    small.max_bytes = 100;
    try {
        beacon::decode_cloudevent(encode(full_event()), small);
        FAIL("decoded");
    } catch (const beacon::decode_error& e) {
        CHECK(e.reason() == beacon::decode_reason::too_large);
    }
    beacon::json_limits shallow;
    shallow.max_depth = 4;
    CHECK_NOTHROW(beacon::decode_cloudevent(minimal(R"(,"data":{"data":{"a":[]}})"), shallow));
    CHECK_THAT(refusal(minimal(R"(,"data":{"data":{"a":[[]]}})"), shallow), Contains("/data/data/a/0: nests deeper than 4 levels"));
    // Another producer's data object is the event's data, one level deeper once written back.
    CHECK_NOTHROW(beacon::decode_cloudevent(minimal(R"(,"data":{"a":[]})"), shallow));
    CHECK_THAT(refusal(minimal(R"(,"data":{"a":[[]]})"), shallow), Contains("/data/a/0: nests deeper than 4 levels") && Contains("in the wire shape"));
    try {
        beacon::decode_cloudevent(minimal(R"(,"data":{"a":[[]]})"), shallow);
    } catch (const beacon::decode_error& e) {
        CHECK(e.reason() == beacon::decode_reason::too_deep);
    }
}
