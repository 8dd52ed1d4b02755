// The stream forwarder (<beacon/redis/stream_forwarder.hpp>), against a real redis-server that each
// test starts on a free loopback port: appending (MAXLEN, atomic batches) and the configured
// listener type "redis_stream".
#include <beacon/redis/stream_forwarder.hpp>

#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include "redis_server.hpp"
#include "redis_stream_test_support.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::redis_server;
using stream_test::stream_forwarder_for;
using stream_test::numbered;

TEST_CASE("a batch is appended in one transaction; an event that cannot be written holds no other back; MAXLEN ~ bounds the stream",
          "[redis][stream][batch]") {
    redis_server server;
    auto bounded = stream_forwarder_for(server.url(), 100);
    server.command({"CONFIG", "RESETSTAT"});
    for (int k = 0; k < 20; ++k) bounded.forward(numbered(k * 50, k * 50 + 50));
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str),
               Contains("cmdstat_multi:calls=20,") && Contains("cmdstat_exec:calls=20,") && Contains("cmdstat_xadd:calls=1000,"));
    const auto length = server.command({"XLEN", "beacon.stream"})->integer;
    CHECK(length >= 100);
    CHECK(length < 300);  // approximate trimming drops whole nodes of 100 entries

    auto batch = numbered(2000, 2003);
    batch[1].data["uri"] = "shadows the payload's uri";
    CHECK_THROWS_AS(bounded.forward(batch), beacon::encode_error);
    const auto last = server.command({"XREVRANGE", "beacon.stream", "+", "-", "COUNT", "2"});
    CHECK(beacon::parse_event(last->element[0]->element[1]->element[1]->str).data.at("n") == 2002);
    CHECK(beacon::parse_event(last->element[1]->element[1]->element[1]->str).data.at("n") == 2000);

    server.command({"SET", "not.a.stream", "x"});
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    options.stream = "not.a.stream";
    CHECK_THROWS_WITH(beacon::redis::stream_forwarder(options).forward(numbered(0, 2)),
                      Contains("[beacon.redis_error]") && Contains("XADD not.a.stream") && Contains("WRONGTYPE"));
}

namespace {

// The options of a forwarder to `server` that sends a batch without a transaction.
beacon::redis::stream_forwarder_options pipelined_to(const redis_server& server) {
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    options.transaction = false;
    return options;
}

}  // namespace

TEST_CASE("with transaction = false a batch is pipelined XADDs, in order, in one round trip; an error reply still throws",
          "[redis][stream][batch][pipelined]") {
    redis_server server;
    auto options = pipelined_to(server);
    const beacon::redis::stream_forwarder pipelined(options);
    server.command({"CONFIG", "RESETSTAT"});
    pipelined.forward(numbered(0, 50));
    const std::string stats = server.command({"INFO", "commandstats"})->str;
    CHECK_THAT(stats, Contains("cmdstat_xadd:calls=50,"));
    CHECK_THAT(stats, !Contains("cmdstat_multi") && !Contains("cmdstat_exec"));
    CHECK(pipelined.stats().published == 50);
    CHECK(pipelined.stats().round_trip.count == 1);
    const auto entries = server.command({"XRANGE", "beacon.stream", "-", "+"});
    REQUIRE(entries->elements == 50);
    for (std::size_t i = 0; i < 50; ++i) {
        CHECK(beacon::parse_event(entries->element[i]->element[1]->element[1]->str).data.at("n") == static_cast<int>(i));
    }

    server.command({"SET", "not.a.stream", "x"});
    options.stream = "not.a.stream";
    const beacon::redis::stream_forwarder wrong(options);
    CHECK_THROWS_WITH(wrong.forward(numbered(0, 3)), Contains("[beacon.redis_error]") && Contains("XADD not.a.stream") &&
                                                         Contains("WRONGTYPE") && Contains("(3 of 3 entries refused)"));
    CHECK(wrong.stats().failures == 3);
    CHECK(wrong.stats().published == 0);
    CHECK(std::string(server.command({"GET", "not.a.stream"})->str) == "x");
}

TEST_CASE("with transaction = false, when Redis refuses part of a batch, the entries it added stay and are counted published, the others failed; an I/O error fails it all",
          "[redis][stream][batch][pipelined]") {
    redis_server server;
    const beacon::redis::stream_forwarder pipelined(pipelined_to(server));
    // Entries of 100 kB against room for about 10 of them: Redis refuses writes once its memory is
    // past maxmemory (policy noeviction), so the first XADDs of the batch add entries, the rest fail.
    pipelined.forward(numbered(0, 1));  // connected, and the stream made, before memory is measured
    const std::string info = server.command({"INFO", "memory"})->str;
    const std::string field = "used_memory:";
    const auto at = info.find(field);
    REQUIRE(at != std::string::npos);
    const long long used = std::stoll(info.substr(at + field.size()));
    server.command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
    server.command({"CONFIG", "SET", "maxmemory", std::to_string(used + 1000000)});
    auto batch = numbered(1, 21);
    for (auto& e : batch) e.data["pad"] = std::string(100000, 'x');
    CHECK_THROWS_WITH(pipelined.forward(batch), Contains("[beacon.redis_error]") && Contains("XADD beacon.stream") &&
                                                    Contains("OOM") && Contains("entries refused)"));
    server.command({"CONFIG", "SET", "maxmemory", "0"});
    const auto entries = server.command({"XRANGE", "beacon.stream", "-", "+"});
    const auto added = static_cast<std::uint64_t>(entries->elements) - 1;
    CHECK(added > 0);
    CHECK(added < 20);
    CHECK(pipelined.stats().published == 1 + added);
    CHECK(pipelined.stats().failures == 20 - added);
    // Memory only grows: the entries added are the batch's first, in order.
    for (std::size_t i = 0; i < entries->elements; ++i) {
        CHECK(beacon::parse_event(entries->element[i]->element[1]->element[1]->str).data.at("n") == static_cast<int>(i));
    }
    // An I/O error fails the whole batch: any of its entries may have been added.
    server.stop(SIGKILL);
    CHECK_THROWS_AS(pipelined.forward(numbered(30, 33)), beacon::redis::redis_error);
    CHECK(pipelined.stats().failures == 20 - added + 3);
    CHECK(pipelined.stats().published == 1 + added);
}

TEST_CASE("stored texts are appended as they are, in one transaction", "[redis][stream][batch][texts]") {
    redis_server server;
    auto forwarder = stream_forwarder_for(server.url(), 0);
    beacon::encoded_events stored;  // an outbox's rows, as its relay hands them over
    for (const auto& e : numbered(0, 3)) stored.push_back(nlohmann::json(e).dump() + "\n");
    server.command({"CONFIG", "RESETSTAT"});
    forwarder(stored);
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str),
               Contains("cmdstat_exec:calls=1,") && Contains("cmdstat_xadd:calls=3,"));
    const auto entries = server.command({"XRANGE", "beacon.stream", "-", "+"});
    REQUIRE(entries->elements == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(entries->element[i]->element[1]->element[1]->str == stored[i]);
}

TEST_CASE("the listener type \"redis_stream\" appends each commit's events in one round trip, in Kinto's bytes if asked",
          "[redis][stream][listener]") {
    redis_server server;
    beacon::registry host;
    std::vector<std::string> failures;
    beacon::resource_notifier notifier(host, [&](const beacon::failure& f) { failures.push_back(f.message()); });
    beacon::listener_types types;
    beacon::redis::add_stream_listener_type(types, &notifier);
    auto loaded = beacon::load_listeners(
        host,
        {{"event_listeners",
          {{"feed", {{"use", "redis_stream"}, {"url", server.url()}, {"stream", "feed"}, {"max_length", "500"},
                     {"pool_size", 4}, {"format", "kinto"}, {"resources", "record"}}}}}},
        types);
    // Event `n` in a collection of its own: a unit of work does not merge it with the others.
    const auto unmerged = [](int n) {
        auto e = numbered(n);
        e.uri = "/buckets/b/collections/c" + std::to_string(n) + "/records/r";
        return e;
    };
    server.command({"CONFIG", "RESETSTAT"});
    {
        beacon::unit_of_work request(notifier);
        for (int n = 0; n < 3; ++n) request.notify(unmerged(n));
        auto bucket = numbered(9);
        bucket.resource_name = "bucket";
        request.notify(bucket);  // filtered out
        request.commit();
    }
    {
        beacon::unit_of_work request(notifier);
        request.notify(numbered(10));
    }  // rolled back
    CHECK(failures.empty());
    CHECK(server.command({"XLEN", "feed"})->integer == 3);
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str), Contains("cmdstat_exec:calls=1,"));
    const auto first = server.command({"XRANGE", "feed", "-", "+", "COUNT", "1"});
    CHECK_THAT(std::string(first->element[0]->element[1]->element[1]->str),
               Contains("{\"timestamp\": ") && Contains("\"action\": \"create\""));  // Kinto's bytes

    beacon::listener_types bad;
    beacon::redis::add_stream_listener_type(bad);
    CHECK_THROWS_WITH(beacon::load_listeners(host, {{"event_listeners", {{"s", {{"use", "redis_stream"}, {"pool_size", 0}}}}}}, bad),
                      Contains("[beacon.config_error]") && Contains("pool_size") && Contains("positive number"));
    CHECK_THROWS_WITH(beacon::load_listeners(host, {{"event_listeners", {{"s", {{"use", "redis_stream"}, {"listname", "x"}}}}}}, bad),
                      Contains("[beacon.config_error]") && Contains("unknown option of a redis_stream listener"));
    CHECK_THROWS_WITH(beacon::load_listeners(host, {{"event_listeners", {{"s", {{"use", "redis_stream"}, {"transaction", "no"}}}}}}, bad),
                      Contains("[beacon.config_error]") && Contains("transaction") && Contains("expected true or false"));

    // "transaction": "false" (an ini file's flag): each commit's events pipelined, without MULTI.
    auto pipelined = beacon::load_listeners(
        host, {{"event_listeners", {{"piped", {{"use", "redis_stream"}, {"url", server.url()}, {"stream", "piped"}, {"transaction", "false"}}}}}},
        types);
    server.command({"CONFIG", "RESETSTAT"});
    {
        beacon::unit_of_work request(notifier);
        for (int n = 20; n < 22; ++n) request.notify(unmerged(n));
        request.commit();
    }
    CHECK(failures.empty());
    CHECK(server.command({"XLEN", "piped"})->integer == 2);
    CHECK(server.command({"XLEN", "feed"})->integer == 5);
    // "feed" (still loaded) appended the same two in one transaction, "piped" without one.
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str),
               Contains("cmdstat_multi:calls=1,") && Contains("cmdstat_exec:calls=1,") && Contains("cmdstat_xadd:calls=4,"));
}

TEST_CASE("a stream forwarder's stats count the entries appended and failed, and each round trip", "[redis][stream][stats]") {
    redis_server server;
    auto forwarder = stream_forwarder_for(server.url(), 0, 500ms);
    const auto copy = forwarder;  // copies count into the same stats
    forwarder.forward(numbered(0));
    copy.forward(numbered(1));
    forwarder.forward(numbered(2, 7));  // MULTI, 5 XADDs, EXEC: one round trip
    auto stats = forwarder.stats();
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 7);
    CHECK(stats.published == 7);
    CHECK(stats.failures == 0);
    CHECK(stats.round_trip.count == 3);

    auto batch = numbered(7, 10);
    batch[1].data["uri"] = "shadows the payload's uri";
    CHECK_THROWS_AS(forwarder.forward(batch), beacon::encode_error);
    stats = copy.stats();
    CHECK(stats.published == 9);
    CHECK(stats.failures == 1);
    CHECK(stats.round_trip.count == 4);

    // Refused inside the transaction (WRONGTYPE, in EXEC's reply): the whole batch failed.
    server.command({"SET", "not.a.stream", "x"});
    beacon::redis::stream_forwarder_options options = forwarder.options();
    options.stream = "not.a.stream";
    beacon::redis::stream_forwarder wrong(options);
    CHECK_THROWS_AS(wrong.forward(numbered(0, 4)), beacon::redis::redis_error);
    CHECK(wrong.stats().published == 0);
    CHECK(wrong.stats().failures == 4);
    CHECK(wrong.stats().round_trip.count == 1);

    server.stop(SIGKILL);
    CHECK_THROWS_AS(forwarder.forward(numbered(10)), beacon::redis::redis_error);
    CHECK_THROWS_AS(forwarder.forward(numbered(11, 13)), beacon::redis::redis_error);
    stats = forwarder.stats();
    CHECK(stats.published == 9);
    CHECK(stats.failures == 1 + 1 + 2);
    CHECK(stats.round_trip.count == 4);
}
