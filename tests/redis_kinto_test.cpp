// Kinto's queue, byte for byte (issue 12), against a real redis-server and programs nobody here
// wrote: Kinto's configuration, a Python worker as Kinto users write it (python3-redis BRPOP and
// json.loads), Python's json.dumps of the same payload, and Kinto's bytes pushed with redis-cli.
#include <beacon/redis.hpp>

#include "redis_test_support.hpp"

#include "test_events.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using test_events::record_event;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::notifier_host;
using beacon_test::quick;
using beacon_test::redis_server;
using beacon_test::shell;
using beacon_test::worker_side;

namespace {

// Debian's python3 (with python3-redis), not whichever python3 comes first on PATH.
const std::string python = "/usr/bin/python3";

// Kinto's settings for its Redis listener, in the flat form of its ini file (prefix stripped),
// with `use` = `module`.
nlohmann::json kinto_settings(const std::string& module, const std::string& url) {
    return {{"event_listeners", "redis"},
            {"event_listeners.redis.use", module},
            {"event_listeners.redis.url", url},
            {"event_listeners.redis.pool_size", "5"},
            {"event_listeners.redis.actions", "create update delete"},
            {"event_listeners.redis.resources", "bucket collection record"}};
}

}  // namespace

TEST_CASE("Kinto's configuration loads unchanged and a Python worker written for Kinto reads beacon's queue",
          "[redis][kinto][interop]") {
    notifier_host kinto;
    auto loaded = beacon::load_listeners(kinto.host, kinto_settings("kinto_redis.listeners", kinto.server.url()), kinto.types);
    auto group = record_event(beacon::action::create, "g", "");
    group.resource_name = "group";  // not among the configured resources
    {
        beacon::unit_of_work request(kinto.notifier);
        request.notify(record_event(beacon::action::create, "a1", "basicauth:alice"));
        request.notify(group);
        request.commit();
    }
    kinto.host.core().signal("resource_changed").send(record_event(beacon::action::delete_, "a0", ""));  // anonymous
    CHECK(kinto.failures.empty());
    CHECK(kinto.server.llen("kinto.core.events") == 2);
    CHECK(kinto.server.llen("beacon.events") == 0);

    // The worker: BRPOP the oldest payload, json.loads it, use its keys.
    const std::string worker = python + " -c '\n"
                               "import json, redis\n"
                               "r = redis.Redis(host=\"127.0.0.1\", port=" + std::to_string(kinto.server.port()) + ")\n"
                               "while True:\n"
                               "    item = r.brpop(\"kinto.core.events\", timeout=1)\n"
                               "    if item is None:\n"
                               "        break\n"
                               "    p = json.loads(item[1])\n"
                               "    print(p[\"action\"], p[\"resource_name\"], p[\"uri\"], p[\"user_id\"], p[\"bucket_id\"],"
                               " p[\"collection_id\"], p[\"record_id\"], p[\"timestamp\"], sorted(p))\n"
                               "' 2>&1";
    const std::string keys = "['action', 'bucket_id', 'collection_id', 'record_id', 'resource_name', 'timestamp', 'uri', 'user_id']";
    CHECK(shell(worker) ==
          "create record /buckets/blog/collections/articles/records/a1 basicauth:alice blog articles a1 1453896392123 " + keys +
              "\ndelete record /buckets/blog/collections/articles/records/a0 None blog articles a0 1453896392123 " + keys + "\n");
}

TEST_CASE("Cliquet's listener module pushes Kinto's bytes to cliquet.events", "[redis][kinto]") {
    notifier_host cliquet;
    auto loaded = beacon::load_listeners(cliquet.host, kinto_settings("cliquet.listeners.redis", cliquet.server.url()), cliquet.types);
    cliquet.notifier.notify(record_event(beacon::action::update, "a1", "basicauth:alice"));
    REQUIRE(cliquet.server.llen("cliquet.events") == 1);
    CHECK(std::string(cliquet.server.command({"LINDEX", "cliquet.events", "0"})->str) ==
          R"({"timestamp": 1453896392123, "action": "update", "uri": "/buckets/blog/collections/articles/records/a1",)"
          R"( "user_id": "basicauth:alice", "resource_name": "record", "bucket_id": "blog", "collection_id": "articles",)"
          R"( "record_id": "a1"})");
}

TEST_CASE("beacon's kinto bytes equal Python's json.dumps of the same payload, byte for byte", "[redis][kinto][interop]") {
    redis_server server;
    beacon::redis::forwarder_options options;
    options.url = server.url();
    options.list = "kinto.core.events";
    options.format = beacon::wire_format::kinto();
    beacon::redis::forwarder listener(options);

    // Non-ASCII (2, 3 and 4 bytes), controls, quotes, nested values, floats and ints, a null user.
    beacon::event e("ignored: Kinto's payload has no sender",
                    {{"bucket_id", "caf\xc3\xa9"},
                     {"collection_id", "\xe2\x98\x95 \"quoted\" back\\slash\ttab\x01\x7f"},
                     {"record_id", "\xf0\x9f\x98\x80"},
                     {"meta", {{"a", {1, -2, 2.5, 0.1, 1e16, 1e15, 1e-05, 0.0001, -0.0, 123456789012345678, true, nullptr}},
                               {"empty", nlohmann::json::object()},
                               {"list", nlohmann::json::array()},
                               {"z", {{"deep", {{"er", "na\xc3\xafve"}}}}}}}});
    e.action = beacon::action::update;
    e.resource_name = "record";
    e.uri = "/buckets/caf\xc3\xa9/collections/x/records/\xf0\x9f\x98\x80";
    e.timestamp = 1453896392123;
    e.impacted_records.push_back({nlohmann::json{{"id", 1}}, nlohmann::json{{"id", 2}}});  // not in Kinto's payload
    listener.forward(e);

    // The payload as kinto/core/events.py builds it: the five fields, then the route's ids.
    const std::string dumps =
        shell(python + " -c '\n"
                       "import json, sys\n"
                       "payload = {\"timestamp\": 1453896392123, \"action\": \"update\",\n"
                       "           \"uri\": \"/buckets/caf\\u00e9/collections/x/records/\\U0001F600\",\n"
                       "           \"user_id\": None, \"resource_name\": \"record\"}\n"
                       "payload.update(bucket_id=\"caf\\u00e9\", collection_id=\"\\u2615 \\\"quoted\\\" back\\\\slash\\ttab\\x01\\x7f\",\n"
                       "               meta={\"a\": [1, -2, 2.5, 0.1, 1e16, 1e15, 1e-05, 0.0001, -0.0, 123456789012345678, True, None],\n"
                       "                     \"empty\": {}, \"list\": [], \"z\": {\"deep\": {\"er\": \"na\\u00efve\"}}},\n"
                       "               record_id=\"\\U0001F600\")\n"
                       "sys.stdout.write(json.dumps(payload))\n"
                       "'");
    const auto pushed = server.command({"LINDEX", "kinto.core.events", "0"});
    const std::string bytes(pushed->str, pushed->len);
    CHECK(bytes == dumps);
    CHECK_THAT(bytes, Contains(R"("record_id": "\ud83d\ude00")") && Contains(R"("a": [1, -2, 2.5, 0.1, 1e+16, 1000000000000000.0, 1e-05, 0.0001, -0.0,)"));
}

TEST_CASE("Kinto's bytes pushed with redis-cli are consumed by beacon with every field in place", "[redis][kinto][interop]") {
    redis_server server;
    // What Kinto's listener pushes: json.dumps(payload), made here by Python, pushed by redis-cli.
    const std::string push = python + " -c '\n"
                             "import json, sys\n"
                             "sys.stdout.write(json.dumps({\"timestamp\": 1453896392123, \"action\": \"delete\",\n"
                             "    \"uri\": \"/buckets/blog/collections/caf\\u00e9\", \"user_id\": None,\n"
                             "    \"resource_name\": \"collection\", \"bucket_id\": \"blog\", \"collection_id\": \"caf\\u00e9\"}))\n"
                             "' | redis-cli -p " + std::to_string(server.port()) + " -x LPUSH kinto.core.events";
    for (const auto& format : {beacon::wire_format::envelope(), beacon::wire_format::kinto()}) {
        CHECK(shell(push) == "1\n");
        worker_side got;
        auto options = quick(server.url());
        options.list = "kinto.core.events";
        options.format = format;
        got.start(options);
        REQUIRE(eventually([&] { return got.event_count() == 1; }));
        got.stop();
        const auto& e = got.events.front();
        CHECK(e.action == beacon::action::delete_);
        CHECK(e.resource_name == "collection");
        CHECK(e.uri == "/buckets/blog/collections/caf\xc3\xa9");
        CHECK(e.user_id.empty());  // null: anonymous
        CHECK(e.timestamp == 1453896392123);
        CHECK(e.data == nlohmann::json{{"bucket_id", "blog"}, {"collection_id", "caf\xc3\xa9"}});
        CHECK(e.sender.empty());
        CHECK(e.impacted_records.empty());
        CHECK(got.errors.empty());
    }
}

TEST_CASE("a host's own wire format, with encode and decode, from options and from configuration", "[redis][format]") {
    // Flask-Notifications' Event as a dict: event_type, timestamp, sender, body.
    const beacon::wire_format flask(
        "flask",
        [](const beacon::event& e, std::string& out) {
            out += nlohmann::json{{"event_type", e.resource_name}, {"timestamp", e.timestamp}, {"sender", e.sender}, {"body", e.data}}.dump();
        },
        [](std::string_view text, const beacon::json_limits&) {
            const auto j = nlohmann::json::parse(text);
            beacon::event e(j.at("sender").get<std::string>(), j.at("body"));
            e.resource_name = j.at("event_type").get<std::string>();
            e.timestamp = j.at("timestamp").get<std::int64_t>();
            return e;
        });
    notifier_host host;
    beacon::listener_types types;
    beacon::redis::add_listener_types(types, nullptr, {flask});
    auto loaded = beacon::load_listeners(
        host.host, {{"event_listeners", {{"push", {{"use", "redis"}, {"url", host.server.url()}, {"format", "flask"}}}}}}, types);
    beacon::event e("alice", {{"title", "This is a test"}});
    e.action = beacon::action::create;
    e.resource_name = "test";
    e.timestamp = 1;
    host.host.core().signal("resource_changed").send(e);
    CHECK(std::string(host.server.command({"LINDEX", "beacon.events", "0"})->str) ==
          R"({"body":{"title":"This is a test"},"event_type":"test","sender":"alice","timestamp":1})");

    worker_side got;
    auto options = quick(host.server.url());
    options.format = flask;
    got.start(options);
    host.server.command({"LPUSH", "beacon.events", "{not json"});
    REQUIRE(eventually([&] { return got.event_count() == 1 && got.error_count() == 1; }));
    got.stop();
    CHECK(got.events.front().data == nlohmann::json{{"title", "This is a test"}});
    CHECK(got.events.front().sender == "alice");
    CHECK_THAT(got.errors.front(), Contains("[beacon.decode_error] /: wire format \"flask\" failed: "));

    CHECK_THROWS_WITH(beacon::load_listeners(host.host, {{"event_listeners", {{"q", {{"use", "redis"}, {"format", "xml"}}}}}}, types),
                      Contains("/event_listeners/q/format") && Contains("unknown wire format \"xml\" (known: envelope, kinto, cloudevents, flask)"));
    CHECK_THROWS_WITH(beacon::load_listeners(host.host, {{"event_listeners", {{"q", {{"use", "redis"}, {"pool_size", "0"}}}}}}, types),
                      Contains("/event_listeners/q/pool_size") && Contains("expected a positive number of connections, got \"0\""));
}

TEST_CASE("a configured redis listener may be delivered asynchronously (the loader's async setting is not its option)",
          "[redis][listener]") {
    redis_server server;
    beacon::registry host;
    beacon::listener_types types;
    beacon::redis::add_listener_types(types);
    auto settings = kinto_settings("kinto_redis.listeners", server.url());
    settings["event_listeners.redis.async"] = true;
    auto loaded = beacon::load_listeners(host, settings, types);
    host.core().signal("resource_changed").send(record_event(beacon::action::create, "a1", ""));
    REQUIRE(loaded.drain(std::chrono::steady_clock::now() + 10s));
    CHECK(server.llen("kinto.core.events") == 1);
}
