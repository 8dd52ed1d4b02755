// What a producer may send (issue 21 item 2): the forwarders refuse, as an encode_error at send
// time naming the limit, what the consumers' default limits would refuse, and send what they accept.
#include <beacon/redis.hpp>

#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using Catch::Matchers::Contains;
using beacon_test::redis_server;

namespace {

beacon::event sized(std::size_t bytes) {
    beacon::event e("producer", {{"blob", std::string(bytes, 'x')}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    return e;
}

}  // namespace

TEST_CASE("a stream forwarder refuses an event the default stream consumer would dead-letter", "[redis][stream][limits]") {
    redis_server server;
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    const beacon::redis::stream_forwarder forwarder(options);
    CHECK(options.max_entry_bytes == beacon::redis::stream_consumer_options().max_entry_bytes);

    CHECK_THROWS_AS(forwarder.forward(sized(1536 * 1024)), beacon::encode_error);
    CHECK_THROWS_WITH(forwarder.forward(sized(1536 * 1024)), Contains("max_entry_bytes (1048576)"));
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 0);
    // In a batch, the others are appended.
    CHECK_THROWS_WITH(forwarder.forward(std::vector<beacon::event>{sized(10), sized(1536 * 1024), sized(10)}),
                      Contains("max_entry_bytes"));
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 2);
    // Just under the limit is sent, and read back by a default consumer.
    forwarder.forward(sized(1000 * 1000));
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 3);
}

TEST_CASE("a list forwarder refuses an event the default list consumer would dead-letter", "[redis][limits]") {
    redis_server server;
    beacon::redis::forwarder_options options;
    options.url = server.url();
    CHECK(options.limits.max_bytes == beacon::redis::consumer_options().limits.max_bytes);
    const beacon::redis::forwarder forwarder(options);
    CHECK_THROWS_AS(forwarder.forward(sized(17 << 20)), beacon::encode_error);
    CHECK_THROWS_WITH(forwarder.forward(sized(17 << 20)), Contains("limits.max_bytes (16777216)"));
    CHECK(server.llen("beacon.events") == 0);

    // A smaller shared limit, on both sides.
    options.limits.max_bytes = 1000;
    const beacon::redis::forwarder small(options);
    CHECK_THROWS_WITH(small.forward(sized(2000)), Contains("limits.max_bytes (1000)"));
    small.forward(sized(100));
    CHECK(server.llen("beacon.events") == 1);
}
