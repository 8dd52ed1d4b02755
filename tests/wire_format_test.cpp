// The wire formats of the core (<beacon/wire_format.hpp>): beacon's envelope, Kinto's flat payload
// and a host's own format, encoded and decoded without any transport (no hiredis needed).
#include <beacon/wire_format.hpp>

#include <beacon/signal.hpp>

#include "test_events.hpp"

#include <catch2/catch.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using test_events::record_event;
using Catch::Matchers::Contains;

TEST_CASE("the envelope format tells beacon's envelope from Kinto's flat payload by shape; Kinto's format alone refuses the envelope",
          "[wire_format]") {
    const auto envelope = beacon::wire_format::envelope();
    const auto kinto = beacon::wire_format::kinto();
    const auto e = record_event(beacon::action::create, "a1", "basicauth:alice");
    CHECK(envelope.decode(envelope.encode(e)) == e);
    auto flat = e;
    flat.sender.clear();
    flat.impacted_records.clear();
    CHECK(envelope.decode(kinto.encode(e)) == flat);
    CHECK(kinto.decode(kinto.encode(e)) == flat);
    // A data key named "payload" stays a data key: Kinto's payload is told by its own fields.
    auto odd = flat;
    odd.data["payload"] = {{"x", 1}};
    CHECK(envelope.decode(kinto.encode(odd)) == odd);
    CHECK_THROWS_WITH(kinto.decode(envelope.encode(e)), Contains("[beacon.decode_error] /: beacon's envelope, not Kinto's flat payload"));
    CHECK_THROWS_WITH(envelope.decode(R"({"foo": 1})"), Contains("missing required key \"action\" (Kinto's payload) or \"payload\""));
    CHECK_THROWS_WITH(envelope.decode(R"({"action": "explode", "uri": "/x"})"), Contains("/action: unknown action \"explode\""));
}

TEST_CASE("a host's format that throws something else reaches callers as an encode_error or decode_error naming it",
          "[wire_format]") {
    const beacon::wire_format broken(
        "broken", [](const beacon::event&, std::string&) { throw std::runtime_error("no encoder"); },
        [](std::string_view, const beacon::json_limits&) -> beacon::event { throw std::runtime_error("no decoder"); });
    CHECK(broken.name() == "broken");
    CHECK_THROWS_AS(broken.encode(record_event(beacon::action::create, "a1", "u")), beacon::encode_error);
    CHECK_THROWS_WITH(broken.encode(record_event(beacon::action::create, "a1", "u")),
                      Contains("wire format \"broken\" failed: no encoder") && Contains("records/a1"));
    CHECK_THROWS_AS(broken.decode("{}"), beacon::decode_error);
    CHECK_THROWS_WITH(broken.decode("{}"), Contains("[beacon.decode_error] /: wire format \"broken\" failed: no decoder"));
}

TEST_CASE("a Kinto payload is read within max_depth at the wire shape's levels, so that what decodes can be written back",
          "[wire_format]") {
    // Found by wire_decode_fuzz's contract, on a seed at the limit: the flat text nests a data
    // value one level less than the wire shape (level 2, not 3), so a payload at the limit
    // decoded but neither format could write it.
    const auto flat = [](std::size_t depth) {
        return R"({"timestamp": 1453896392123, "action": "create", "deep": )" + std::string(depth, '[') + std::string(depth, ']') + "}";
    };
    const auto fits = beacon::decode_any(flat(126));  // the deepest array at level 3 + 125 = 128
    CHECK(beacon::decode_any(beacon::wire_format::envelope().encode(fits)) == fits);
    CHECK(beacon::decode_kinto(beacon::wire_format::kinto().encode(fits)) == fits);
    for (const auto& decode : {beacon::decode_any, beacon::decode_kinto}) {
        CHECK_THROWS_WITH(decode(flat(127), beacon::json_limits{}),
                          Contains("nests deeper than 128 levels (json_limits::max_depth) in the wire shape"));
        try {
            decode(flat(127), beacon::json_limits{});
        } catch (const beacon::decode_error& e) {
            CHECK(e.reason() == beacon::decode_reason::too_deep);
        }
    }
    beacon::json_limits shallow;
    shallow.max_depth = 4;
    CHECK_NOTHROW(beacon::decode_kinto(flat(2), shallow));
    CHECK_THROWS_WITH(beacon::decode_kinto(flat(3), shallow), Contains("/deep/0/0: nests deeper than 4 levels"));
}

TEST_CASE("the envelope writes an event's identity as nlohmann would, and Kinto's bytes leave it out",
          "[wire_format][identity]") {
    auto e = record_event(beacon::action::update, "a1", "basicauth:alice");
    beacon::signal("core", "resource_changed").stamp(e);
    e.cause = beacon::event_id::make();
    e.trace = beacon::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v");
    const auto envelope = beacon::wire_format::envelope();
    const auto bytes = envelope.encode(e);
    CHECK(bytes == nlohmann::json(e).dump());
    CHECK_THAT(bytes, Contains("\"id\":\"" + e.id.to_string() + "\""));
    CHECK(envelope.decode(bytes) == e);
    const auto kinto = beacon::wire_format::kinto().encode(e);
    for (const char* key : {"\"id\"", "\"source\"", "\"type\"", "\"cause\"", "traceparent", "tracestate"}) {
        CHECK_THAT(kinto, !Contains(key));
    }
}

TEST_CASE("a string whose escapes outgrow it is written whole, however many there are and wherever they fall",
          "[wire_format][strings]") {
    // The writer grows its output once for the string as it stands and again whenever escapes
    // take the room: a control is 6 bytes in both formats, an emoji 12 in Python's (2 surrogates).
    const auto envelope = beacon::wire_format::envelope();
    const auto kinto = beacon::wire_format::kinto();
    auto e = record_event(beacon::action::update, "a1", "basicauth:alice");
    for (const int count : {1, 2, 15, 16, 17, 100, 1000, 5000}) {
        for (const std::string plain : {"", "a", "0123456789abcdefghi"}) {
            std::string text, as_python;
            for (int k = 0; k < count; ++k) {
                text += (k % 2 ? "\x01" : "\xf0\x9f\x98\x80") + plain;
                as_python += (k % 2 ? "\\u0001" : "\\ud83d\\ude00") + plain;
            }
            e.data["text"] = text;
            REQUIRE(envelope.encode(e) == nlohmann::json(e).dump());
            REQUIRE_THAT(kinto.encode(e), Contains("\"text\": \"" + as_python + "\""));
            std::string appended = "prefix";  // written after what the string holds already
            envelope.encode(e, appended);
            REQUIRE(appended == "prefix" + nlohmann::json(e).dump());
        }
    }
    e.data["text"] = std::string(100, 'a') + "\xff" + std::string(100, 'a');
    std::string partly = "prefix";
    REQUIRE_THROWS_AS(envelope.encode(e, partly), beacon::encode_error);
    CHECK(partly.rfind("prefix{", 0) == 0);  // what was written before the bad byte, and nothing more
    CHECK(partly.size() > 100);
    CHECK(partly.find('\0') == std::string::npos);
    CHECK(partly.substr(partly.size() - 10) == std::string(10, 'a'));
}

TEST_CASE("strings are written byte for byte as nlohmann would, whatever lies at whichever offset of a 16- or 8-byte block",
          "[wire_format][strings]") {
    // The writer copies 16 bytes at a time (tested by SSE2 where it is there, else as two words),
    // then a word of the last 15 or fewer, then byte by byte: each special byte at each offset of strings of 0 to
    // 72 bytes (four 16-byte blocks, a word and a tail), against nlohmann's dump (the envelope)
    // and Python's json.dumps (Kinto's format, ensure_ascii).
    const std::vector<std::pair<std::string, std::string>> specials{  // and how Python's json.dumps writes it
        {"\"", "\\\""},       {"\\", "\\\\"},      {"\n", "\\n"},          {"\x1f", "\\u001f"},
        {"\x7f", "\\u007f"},   {" ", " "},           {"~", "~"},           {"\xc3\xa9", "\\u00e9"},
        {"\xf0\x9f\x98\x80", "\\ud83d\\ude00"}};
    const auto envelope = beacon::wire_format::envelope();
    const auto kinto = beacon::wire_format::kinto();
    auto e = record_event(beacon::action::update, "a1", "basicauth:alice");
    for (std::size_t size = 0; size <= 72; ++size) {
        for (std::size_t at = 0; at <= size; ++at) {
            for (const auto& [special, python] : specials) {
                std::string text(size, 'a');
                text.insert(at, special);
                e.data["text"] = text;
                REQUIRE(envelope.encode(e) == nlohmann::json(e).dump());
                const std::string as_python = std::string(at, 'a') + python + std::string(size - at, 'a');
                REQUIRE_THAT(kinto.encode(e), Contains("\"text\": \"" + as_python + "\""));
            }
            std::string bad(size, 'a');
            bad.insert(at, "\xff");
            e.data["text"] = bad;
            REQUIRE_THROWS_WITH(envelope.encode(e), Contains("invalid UTF-8 (byte 0xff at offset " + std::to_string(at) + " "));
        }
    }
}
