// Events already written in a wire format (<beacon/encoded_events.hpp>): texts kept in order,
// byte for byte, with the format that reads them back.
#include <beacon/encoded_events.hpp>

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::Contains;

TEST_CASE("encoded events keep each text as given, in order, and decode each in their format", "[encoded_events]") {
    beacon::event created("store", {{"n", 1}});
    created.action = beacon::action::create;
    created.resource_name = "record";
    created.uri = "/records/1";
    created.stamp();

    beacon::encoded_events texts;
    CHECK(texts.empty());
    CHECK(texts.format().name() == "envelope");
    const std::string first = beacon::wire_format::envelope().encode(created) + "\n";
    texts.push_back(first);
    texts.push_back("");
    texts.push_back("not an event");
    REQUIRE(texts.size() == 3);
    CHECK(texts[0] == first);
    CHECK(texts[1].empty());
    CHECK(texts[2] == "not an event");
    CHECK(texts.decode(0) == created);
    CHECK_THROWS_WITH(texts.decode(2), Contains("[beacon.decode_error]") && Contains("not valid JSON"));

    texts.clear();  // a relay reuses one for each batch
    CHECK(texts.empty());
    texts.push_back("second batch");
    REQUIRE(texts.size() == 1);
    CHECK(texts[0] == "second batch");
    CHECK(texts.format().name() == "envelope");

    beacon::encoded_events kinto(beacon::wire_format::kinto());
    kinto.push_back(beacon::wire_format::kinto().encode(created));
    CHECK(kinto.format().name() == "kinto");
    CHECK(kinto.decode(0).uri == "/records/1");
    beacon::json_limits tight;
    tight.max_bytes = 10;
    CHECK_THROWS_WITH(kinto.decode(0, tight), Contains("json_limits::max_bytes"));
}
