// The exceptions (<beacon/error.hpp>): five groups a host can catch, each leaf in exactly one, and
// messages that start with the leaf's kind.
#include <beacon/error.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <type_traits>
#include <vector>

TEST_CASE("every leaf belongs to its group, and every group is a beacon::error", "[error]") {
    STATIC_REQUIRE(std::is_base_of_v<beacon::misuse_error, beacon::name_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::misuse_error, beacon::unknown_signal_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::misuse_error, beacon::unit_of_work_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::misuse_error, beacon::plugin_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::transport_error, beacon::async_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::error, beacon::decode_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::error, beacon::encode_error>);
    STATIC_REQUIRE(std::is_base_of_v<beacon::error, beacon::config_error>);
    STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, beacon::error>);
    // Kinds are classes, not strings: nobody outside beacon makes a bare beacon::error.
    STATIC_REQUIRE_FALSE(std::is_constructible_v<beacon::error, std::string, std::string>);
    STATIC_REQUIRE_FALSE(std::is_constructible_v<beacon::error, const char*, const char*>);
}

TEST_CASE("a message starts with the leaf's kind, then where, then what", "[error]") {
    CHECK(std::string(beacon::plugin_error("plugin \"audit\" is not loaded").what()) ==
          "[beacon.plugin_error] plugin \"audit\" is not loaded");
    CHECK(std::string(beacon::transport_error("log_consumer: cannot open \"x\"").what()) ==
          "[beacon.transport_error] log_consumer: cannot open \"x\"");
    CHECK(std::string(beacon::misuse_error("hub \"h\": null consumer").what()) ==
          "[beacon.misuse_error] hub \"h\": null consumer");
    CHECK(std::string(beacon::async_error("async receiver \"m\": the queue is full").what()) ==
          "[beacon.async_error] async receiver \"m\": the queue is full");
}

TEST_CASE("decode and config errors carry where: the JSON pointer, the alias", "[error]") {
    const beacon::decode_error bad("/payload/action", "unknown action \"crate\"", beacon::decode_reason::shape);
    CHECK(bad.path() == "/payload/action");
    CHECK(bad.reason() == beacon::decode_reason::shape);
    CHECK(std::string(bad.what()) == "[beacon.decode_error] /payload/action: unknown action \"crate\"");
    CHECK(std::string(beacon::decode_error("", "not JSON", beacon::decode_reason::syntax).what()) ==
          "[beacon.decode_error] /: not JSON");

    const beacon::config_error conf("tracker", "/event_listeners/tracker/use", "unknown listener type");
    CHECK(conf.alias() == "tracker");
    CHECK(conf.key() == "/event_listeners/tracker/use");
    CHECK(std::string(conf.what()) ==
          "[beacon.config_error] /event_listeners/tracker/use (alias \"tracker\"): unknown listener type");
    CHECK(std::string(beacon::config_error("", "", "expected an object").what()) ==
          "[beacon.config_error] /: expected an object");
    CHECK(std::string(beacon::encode_error("/data/uri", "shadows a payload field").what()) ==
          "[beacon.encode_error] /data/uri: shadows a payload field");
}

TEST_CASE("an encode_error after a batch lists what was left out; copies share the list", "[error]") {
    const beacon::encode_error one("/data/uri", "shadows a payload field");
    CHECK(one.left_out().empty());  // nothing of the call was sent
    const beacon::encode_error batch(one, {1, 4});
    CHECK(std::string(batch.what()) == one.what());
    CHECK(batch.left_out() == std::vector<std::size_t>{1, 4});
    const beacon::encode_error copy = batch;  // as a catch by value or a rethrow copies it
    CHECK(copy.left_out() == std::vector<std::size_t>{1, 4});
    STATIC_REQUIRE(std::is_nothrow_copy_constructible_v<beacon::encode_error>);
}

TEST_CASE("a receiver_error's message is its exception's what(), or says it is unknown", "[error]") {
    beacon::receiver_error known{};
    known.exception = std::make_exception_ptr(std::logic_error("boom"));
    CHECK(known.message() == "boom");
    beacon::receiver_error unknown{};
    unknown.exception = std::make_exception_ptr(7);
    CHECK(unknown.message() == "unknown exception");
}
