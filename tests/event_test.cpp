// Events: fields, stamping, the Kinto wire shape, and precise errors for malformed JSON.
#include <beacon/event.hpp>
#include <beacon/trace.hpp>

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::Contains;
using nlohmann::json;

namespace {

beacon::event sample() {
    beacon::event e("bucket-service");
    e.action = beacon::action::delete_;
    e.resource_name = "collection";
    e.uri = "/buckets/b1/collections/c1";
    e.user_id = "basicauth:alice";
    e.timestamp = 1447240896769;
    e.set("bucket_id", "b1").set("collection_id", "c1");
    e.impacted_records.push_back({json{{"id", "c1"}, {"deleted", true}}, std::nullopt});
    e.impacted_records.push_back({json{{"id", "c2"}}, json{{"id", "c2"}, {"title", "new"}}});
    e.impacted_records.push_back({std::nullopt, json{{"id", "c3"}}});
    return e;
}

// Decoding `text` must fail with a decode_error at `path` whose message contains `words`.
void require_decode_error(const std::string& text, const std::string& path, const std::string& words) {
    INFO(text);
    try {
        (void)beacon::parse_event(text);
        FAIL("no error for " << text);
    } catch (const beacon::decode_error& e) {
        CHECK(e.path() == path);
        CHECK_THAT(e.what(), Contains(words));
        CHECK_THAT(e.what(), Contains("[beacon.decode_error] " + (path.empty() ? std::string("/") : path) + ": "));
    }
}

}  // namespace

TEST_CASE("actions have Kinto's wire names", "[event]") {
    CHECK(beacon::to_string(beacon::action::create) == "create");
    CHECK(beacon::to_string(beacon::action::update) == "update");
    CHECK(beacon::to_string(beacon::action::delete_) == "delete");
    CHECK(beacon::to_string(beacon::action::read) == "read");
    CHECK(beacon::parse_action("delete") == beacon::action::delete_);
    CHECK_FALSE(beacon::parse_action("Delete").has_value());
}

TEST_CASE("an event is written in Kinto's wire shape", "[event][json]") {
    const json expected = json::parse(R"({
        "sender": "bucket-service",
        "payload": {"timestamp": 1447240896769, "action": "delete", "uri": "/buckets/b1/collections/c1",
                    "user_id": "basicauth:alice", "resource_name": "collection",
                    "bucket_id": "b1", "collection_id": "c1"},
        "impacted_records": [{"old": {"id": "c1", "deleted": true}},
                             {"old": {"id": "c2"}, "new": {"id": "c2", "title": "new"}},
                             {"new": {"id": "c3"}}]})");
    CHECK(json(sample()) == expected);
}

TEST_CASE("events round-trip through JSON", "[event][json]") {
    const auto e = sample();
    CHECK(json(e).get<beacon::event>() == e);
    CHECK(beacon::parse_event(json(e).dump()) == e);

    beacon::event minimal("just-a-sender");
    CHECK(json(minimal).get<beacon::event>() == minimal);
    CHECK_FALSE(json(minimal)["payload"].contains("action"));

    // null in an impacted record is a value, not an absence.
    beacon::event with_null;
    with_null.impacted_records.push_back({json(nullptr), std::nullopt});
    CHECK(json(with_null).get<beacon::event>() == with_null);
}

TEST_CASE("a payload pushed by another producer in Kinto's shape is read", "[event][json]") {
    const auto e = beacon::parse_event(R"({"payload": {"action": "create", "resource_name": "bucket",
        "bucket_id": "b1", "uri": "/buckets/b1", "user_id": null, "timestamp": 1447240896769},
        "impacted_records": [{"new": {"id": "b1", "last_modified": 1447240896769}}]})");
    CHECK(e.sender.empty());
    CHECK(e.action == beacon::action::create);
    CHECK(e.resource_name == "bucket");
    CHECK(e.user_id.empty());
    CHECK(e.data == json{{"bucket_id", "b1"}});
    REQUIRE(e.impacted_records.size() == 1);
    CHECK_FALSE(e.impacted_records[0].old_value.has_value());
    CHECK((*e.impacted_records[0].new_value)["id"] == "b1");
}

TEST_CASE("malformed event JSON names the path of the bad value", "[event][json][behaviour11]") {
    require_decode_error("[1, 2]", "", "expected an event object, got array");
    require_decode_error("{\"payload\": ", "", "not valid JSON");
    require_decode_error("{}", "", "missing required key \"payload\"");
    // Found by the fuzzer: a number too large for a double is an out_of_range in nlohmann/json.
    require_decode_error("[5555555e555555555555555555]", "", "number overflow");
    // Found by the fuzzer: nlohmann's lexer ends the input at a NUL byte, so what follows went unread.
    require_decode_error(std::string("{\"payload\": {}}\0{\"x\"", 20), "", "a NUL byte; near byte 15");
    require_decode_error(std::string("{\"payload\": {\"uri\": \"a\0b\"}}", 27), "", "a NUL byte");
    require_decode_error(R"({"payload": 3})", "/payload", "expected an object, got number");
    require_decode_error(R"({"payload": {"action": "destroy"}})", "/payload/action", "unknown action \"destroy\"");
    require_decode_error(R"({"payload": {"action": 1}})", "/payload/action", "expected an action name, got number");
    require_decode_error(R"({"payload": {"timestamp": -1}})", "/payload/timestamp", "non-negative integer");
    require_decode_error(R"({"payload": {"timestamp": 1.5}})", "/payload/timestamp", "got number");
    require_decode_error(R"({"payload": {"timestamp": "now"}})", "/payload/timestamp", "got string");
    require_decode_error(R"({"payload": {"timestamp": 18446744073709551615}})", "/payload/timestamp", "non-negative");
    require_decode_error(R"({"payload": {"uri": ["a"]}})", "/payload/uri", "expected a string, got array");
    require_decode_error(R"({"payload": {}, "sender": 7})", "/sender", "expected a string, got number");
    require_decode_error(R"({"payload": {}, "impacted_records": {}})", "/impacted_records", "expected an array");
    require_decode_error(R"({"payload": {}, "impacted_records": [{"new": 1}, "x"]})", "/impacted_records/1",
                         "expected an object with \"old\" and/or \"new\", got string");
    require_decode_error(R"({"payload": {}, "impacted_records": [{"older": 1}]})", "/impacted_records/0/older",
                         "unknown key in an impacted record");
    require_decode_error(R"({"payload": {}, "a/b~c": 1})", "/a~1b~0c", "unknown key");
}

TEST_CASE("a failed decode leaves the target event as it was", "[event][json][behaviour11]") {
    auto e = sample();
    const auto before = e;
    CHECK_THROWS_AS(json::parse(R"({"sender": "x", "payload": {"action": "nope"}})").get_to(e), beacon::decode_error);
    CHECK(e == before);
}

TEST_CASE("events that cannot be written say why", "[event][json][behaviour11]") {
    beacon::event e;
    e.set("uri", "shadowed");
    CHECK_THROWS_AS(json(e), beacon::encode_error);
    CHECK_THROWS_WITH(json(e), Contains("/data/uri") && Contains("payload field"));
    e.data = json::array();
    CHECK_THROWS_WITH(json(e), Contains("/data: must be a JSON object, got array"));
}

TEST_CASE("set chains and stamp fills only a missing timestamp", "[event]") {
    auto e = beacon::event("s").set("a", 1).set("b", "two").set("a", 3);
    CHECK(e.data == json{{"a", 3}, {"b", "two"}});
    CHECK(e.timestamp == 0);
    const auto before = beacon::event::now_ms();
    e.stamp();
    CHECK(e.timestamp >= before);
    e.timestamp = 42;
    e.stamp();
    CHECK(e.timestamp == 42);
}

namespace {

// `depth` arrays (or objects with key "a") nested in one another, built without recursion.
json nested(std::size_t depth, bool objects) {
    json j = objects ? json::object() : json::array();
    for (std::size_t i = 1; i < depth; ++i) {
        json outer = objects ? json::object() : json::array();
        if (objects) {
            outer["a"] = std::move(j);
        } else {
            outer.push_back(std::move(j));
        }
        j = std::move(outer);
    }
    return j;
}

// The text of `depth` nested arrays or objects ({"a": ...}).
std::string nested_text(std::size_t depth, bool objects) {
    std::string text;
    text.reserve(depth * 6);
    for (std::size_t i = 0; i < depth; ++i) text += objects ? "{\"a\":" : "[";
    if (objects) text += "{}";
    for (std::size_t i = 0; i < depth; ++i) text += objects ? "}" : "]";
    return text;
}

// The JSON pointer made of `n` times `token`.
std::string repeated_pointer(const std::string& token, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += "/" + token;
    return out;
}

beacon::decode_error decode_failure(const std::string& text, const beacon::json_limits& limits = {}) {
    try {
        (void)beacon::parse_event(text, limits);
    } catch (const beacon::decode_error& e) {
        return e;
    }
    FAIL("no decode_error");
    throw;
}

}  // namespace

TEST_CASE("deep nesting is a decode_error naming where it starts, not a stack overflow",
          "[event][json][limits][behaviour11]") {
    // 100,000 levels crashed nlohmann's recursive copy inside from_json (objects from ~65,000).
    for (const bool objects : {false, true}) {
        INFO((objects ? "objects" : "arrays"));
        const std::string text = "{\"payload\": {\"deep\": " + nested_text(100000, objects) + "}}";
        const auto e = decode_failure(text);
        CHECK(e.reason() == beacon::decode_reason::too_deep);
        // The event object is level 1, the payload 2, "deep" 3: level 129 is 126 levels below it.
        CHECK(e.path() == "/payload/deep" + repeated_pointer(objects ? "a" : "0", 126));
        CHECK_THAT(e.what(), Contains("nests deeper than 128 levels"));
        CHECK(std::string(e.what()).size() < 600);

        // The json -> event conversion checks too, before it copies anything.
        json doc = json::object();
        doc["payload"]["deep"] = nested(100000, objects);
        CHECK_THROWS_WITH(doc.get<beacon::event>(), Contains("nests deeper than 128 levels"));
    }
}

TEST_CASE("the default depth accepts 128 levels and rejects 129; the limit is an option",
          "[event][json][limits]") {
    // {"payload": {"d": <126 levels>}}: 128 levels in all.
    const auto at_limit = "{\"payload\": {\"d\": " + nested_text(126, false) + "}}";
    const auto e = beacon::parse_event(at_limit);
    CHECK(e.data.at("d") == nested(126, false));
    CHECK(beacon::parse_event(json(e).dump()) == e);  // what is accepted also encodes

    const auto past = "{\"payload\": {\"d\": " + nested_text(127, false) + "}}";
    CHECK(decode_failure(past).reason() == beacon::decode_reason::too_deep);

    beacon::json_limits loose;
    loose.max_depth = 1000;
    CHECK(beacon::parse_event(past, loose).data.at("d") == nested(127, false));
    beacon::json_limits strict;
    strict.max_depth = 2;
    CHECK(decode_failure(R"({"payload": {"ids": [1]}})", strict).path() == "/payload/ids");
    CHECK(decode_failure(R"({"payload": {}, "impacted_records": [{}, {"new": {}}]})", strict).path() ==
          "/impacted_records/0");
}

TEST_CASE("text over max_bytes is rejected unparsed", "[event][json][limits][behaviour11]") {
    beacon::json_limits limits;
    limits.max_bytes = 32;
    const std::string ok = R"({"payload": {"a": 1}})";
    CHECK(beacon::parse_event(ok, limits).data.at("a") == 1);
    const auto e = decode_failure(ok + std::string(40, ' '), limits);
    CHECK(e.reason() == beacon::decode_reason::too_large);
    CHECK_THAT(e.what(), Contains("message of 61 bytes exceeds the limit of 32 bytes"));
    CHECK(beacon::json_limits{}.max_bytes == std::size_t{16} << 20);
}

TEST_CASE("errors about huge bad input quote a short excerpt of it", "[event][json][limits][behaviour11]") {
    const std::string big(1 << 16, 'x');
    // A string cut by invalid UTF-8: nlohmann quotes the whole token it read.
    const auto bad_utf8 = decode_failure("{\"payload\": {\"s\": \"" + big + "\xff\"}}");
    CHECK(bad_utf8.reason() == beacon::decode_reason::syntax);
    CHECK_THAT(bad_utf8.what(), Contains("ill-formed UTF-8") && Contains("near byte 65555") && Contains("\\xff"));
    CHECK(std::string(bad_utf8.what()).size() < 600);
    // A huge number: nlohmann's out_of_range quotes all of it.
    const auto overflow = decode_failure("{\"payload\": {\"n\": 1" + std::string(1 << 16, '0') + "}}");
    CHECK_THAT(overflow.what(), Contains("number overflow"));
    CHECK(std::string(overflow.what()).size() < 600);
    // An unknown action and an unknown key, each a megabyte long.
    const auto action = decode_failure("{\"payload\": {\"action\": \"" + big + "\"}}");
    CHECK(action.reason() == beacon::decode_reason::shape);
    CHECK_THAT(action.what(), Contains("unknown action \"xxxx") && Contains("(65536 bytes)"));
    CHECK(std::string(action.what()).size() < 600);
    const auto key = decode_failure("{\"payload\": {}, \"" + big + "\": 1}");
    CHECK(std::string(key.what()).size() < 600);
    CHECK(key.path().size() < 600);
    // A path of 130 levels of long keys with unprintable bytes is cut too.
    std::string deep_keys;
    for (int i = 0; i < 130; ++i) deep_keys += "{\"" + std::string(100, '\x7f') + "\":";
    const auto deep = decode_failure("{\"payload\": " + deep_keys + "1" + std::string(130, '}') + "}");
    CHECK(deep.reason() == beacon::decode_reason::too_deep);
    CHECK_THAT(deep.path(), Contains("/\\x7f\\x7f") && Contains("/...("));
    CHECK(std::string(deep.what()).size() < 1200);
}

TEST_CASE("an event nesting too deep to copy or write is an encode_error", "[event][json][limits][behaviour11]") {
    for (const bool objects : {false, true}) {
        beacon::event e("host");
        e.set("deep", nested(100000, objects));
        e.impacted_records.push_back({json::object(), nested(100000, objects)});
        const auto deep_data = "/data/deep" + repeated_pointer(objects ? "a" : "0", 126);
        CHECK_THROWS_WITH(json(e), Contains(deep_data + ": nests deeper than 128 levels"));
        e.data.erase("deep");
        CHECK_THROWS_WITH(beacon::check_depth(e), Contains("/impacted_records/0/new" +
                                                           repeated_pointer(objects ? "a" : "0", 125) +
                                                           ": nests deeper than 128 levels"));
    }
    beacon::event shallow("host");
    shallow.set("d", nested(126, false));
    CHECK_NOTHROW(beacon::check_depth(shallow));
    shallow.set("d", nested(127, false));
    CHECK_THROWS_AS(beacon::check_depth(shallow), beacon::encode_error);
    CHECK_NOTHROW(beacon::check_depth(shallow, 129));
}

TEST_CASE("beacon's envelope carries an event's identity and trace context", "[event][identity]") {
    beacon::event e = sample();
    e.id = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    e.cause = *beacon::event_id::parse("0190b5e4-7f0b-7000-8000-000000000001");
    e.source = "urn:shop:orders";
    e.type = "core.resource_changed";
    e.trace = beacon::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v");
    const json j = e;
    CHECK(j["id"] == "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    CHECK(j["cause"] == "0190b5e4-7f0b-7000-8000-000000000001");
    CHECK(j["source"] == "urn:shop:orders");
    CHECK(j["type"] == "core.resource_changed");
    CHECK(j["traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    CHECK(j["tracestate"] == "k=v");
    CHECK(beacon::parse_event(j.dump()) == e);
    CHECK(j.get<beacon::event>() == e);
    // Unset, they are left out.
    const json plain = sample();
    for (const char* key : {"id", "cause", "source", "type", "traceparent", "tracestate"}) CHECK_FALSE(plain.contains(key));
}

TEST_CASE("stamping gives a new event an id and its time, once", "[event][identity]") {
    beacon::event e("s");
    e.stamp();
    CHECK(e.id.version() == 7);
    CHECK(e.timestamp == e.id.unix_ms());
    const auto id = e.id;
    e.timestamp = 0;
    e.stamp();  // an id already: only the timestamp
    CHECK(e.id == id);
    CHECK(e.timestamp != 0);
}

TEST_CASE("a bad id, cause or trace header in the envelope is a decode_error naming it", "[event][identity][limits]") {
    require_decode_error(R"({"payload": {}, "id": "r1"})", "/id", "expected a UUID");
    require_decode_error(R"({"payload": {}, "id": 7})", "/id", "got number");
    require_decode_error(R"({"payload": {}, "id": "00000000-0000-0000-0000-000000000000"})", "/id", "other than nil");
    require_decode_error(R"({"payload": {}, "cause": "0190b5e4-7f0c-7a31-8c2e"})", "/cause", "expected a UUID");
    require_decode_error(R"({"payload": {}, "source": 1})", "/source", "expected a string");
    require_decode_error(R"({"payload": {}, "traceparent": "00-abc"})", "/traceparent", "too short");
    require_decode_error(R"({"payload": {}, "tracestate": "k=v"})", "/tracestate", "without a traceparent");
    require_decode_error(R"({"payload": {}, "traceparent": 5})", "/traceparent", "expected a string");
}
