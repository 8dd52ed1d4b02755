// The list/channel forwarder (<beacon/redis/forwarder.hpp>), against a real redis-server that each
// test starts on a free loopback port: Redis URLs and connections, batches, Redis down or hung,
// forwarding after commit, the configured listener types, and interoperability with redis-cli
// and Python.
#include <beacon/redis/forwarder.hpp>

#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::free_port;
using beacon_test::listener_for;
using beacon_test::notifier_host;
using beacon_test::numbered;
using beacon_test::quick;
using beacon_test::redis_server;
using beacon_test::shell;
using beacon_test::worker_side;

TEST_CASE("redis URLs are parsed, their credentials used and never shown, and a bad one names what is wrong",
          "[redis][url][behaviour11]") {
    const auto ep = beacon::redis::detail::parse_redis_url("redis://:s3cret@cache.local:6390/2");
    CHECK(ep.host == "cache.local");
    CHECK(ep.port == 6390);
    CHECK(ep.db == 2);
    CHECK(ep.password == "s3cret");
    CHECK(ep.user.empty());
    CHECK(ep.url == "redis://***@cache.local:6390/2");
    const auto acl = beacon::redis::detail::parse_redis_url("redis://worker:pw@[::1]");
    CHECK(acl.host == "::1");
    CHECK(acl.port == 6379);
    CHECK(acl.user == "worker");

    CHECK_THROWS_WITH(listener_for("http://localhost:6379"),
                      Contains("[beacon.config_error] /url") && Contains("http://localhost:6379") && Contains("scheme"));
    CHECK_THROWS_WITH(beacon::redis::detail::parse_redis_url("redis://localhost:99999"), Contains("bad port \"99999\""));
    // Found by the URL fuzzer: port 0 used to be accepted, to fail only at connect time.
    CHECK_THROWS_WITH(beacon::redis::detail::parse_redis_url("redis://11127:0"), Contains("bad port \"0\""));
    CHECK_THROWS_WITH(beacon::redis::detail::parse_redis_url("redis://localhost:6379/x"), Contains("bad database number \"x\""));
    CHECK_THROWS_WITH(beacon::redis::detail::parse_redis_url("redis://:pw@:6379"), Contains("missing host") && !Contains("pw"));
    // A wrong password is named as such, and not shown.
    redis_server server;
    CHECK_THROWS_WITH(listener_for("redis://:s3cret@127.0.0.1:" + std::to_string(server.port())).forward(numbered(1)),
                      Contains("[beacon.redis_error] redis://***@127.0.0.1:") && Contains("AUTH") && !Contains("s3cret"));
    // The right password, and a database other than 0.
    server.command({"CONFIG", "SET", "requirepass", "s3cret"});
    const std::string secured = "redis://:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/3";
    listener_for(secured).forward(numbered(1));
    beacon::redis::detail::redis_connection db3(beacon::redis::detail::parse_redis_url(secured), 2000ms);
    CHECK(db3.command({"LLEN", "beacon.events"})->integer == 1);
    CHECK(server.llen("beacon.events") == 0);  // database 0

    beacon::signal sink("core", "sink");
    beacon::redis::consumer_options bad;
    bad.url = "redis//localhost";
    CHECK_THROWS_AS(beacon::redis::consumer(sink, bad), beacon::config_error);
}

TEST_CASE("a batch goes in one atomic LPUSH, and one event that cannot be written holds none of the others back",
          "[redis][list][batch]") {
    redis_server server;
    auto listener = listener_for(server.url(), "queue");
    const std::vector<beacon::event> batch{numbered(1), numbered(2)};
    server.command({"CONFIG", "RESETSTAT"});
    listener.forward(batch);
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str), Contains("cmdstat_lpush:calls=1,"));
    CHECK(server.llen("queue") == 2);
    CHECK(server.command({"LINDEX", "queue", "-1"})->str == nlohmann::json(batch[0]).dump());  // oldest at the tail
    CHECK(server.command({"LINDEX", "queue", "0"})->str == nlohmann::json(batch[1]).dump());

    beacon::event bad = numbered(3);
    bad.data["uri"] = "shadows the payload field";
    CHECK_THROWS_WITH(listener.forward(std::vector<beacon::event>{numbered(4), bad, numbered(5)}),
                      Contains("[beacon.encode_error] /data/uri") && Contains("records/r3"));
    CHECK(server.llen("queue") == 4);
    try {
        listener.forward(std::vector<beacon::event>{bad, numbered(6), bad});
        FAIL("no encode_error");
    } catch (const beacon::encode_error& left) {
        CHECK(left.left_out() == std::vector<std::size_t>{0, 2});  // what a relay sets aside, not sent again
    }
    CHECK(server.llen("queue") == 5);
    server.command({"LPOP", "queue"});
    CHECK(beacon::parse_event(server.command({"LINDEX", "queue", "0"})->str).data.at("n") == 5);
    listener.forward(std::vector<beacon::event>{});
    CHECK(server.llen("queue") == 4);
}

TEST_CASE("stored texts go as they are in the forwarder's format, else decoded and written in it; a bad one holds none back",
          "[redis][list][batch][texts]") {
    redis_server server;
    beacon::encoded_events stored;  // an outbox's rows: beacon's envelope
    stored.push_back(" " + nlohmann::json(numbered(1)).dump() + " ");  // spaces: kept, so never rewritten
    stored.push_back(nlohmann::json(numbered(2)).dump());
    auto as_is = listener_for(server.url(), "as_is");
    server.command({"CONFIG", "RESETSTAT"});
    as_is(stored);  // as a relay's publisher calls it
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str), Contains("cmdstat_lpush:calls=1,"));
    CHECK(server.command({"LINDEX", "as_is", "-1"})->str == stored[0]);
    CHECK(server.command({"LINDEX", "as_is", "0"})->str == stored[1]);

    beacon::redis::forwarder_options kinto;
    kinto.url = server.url();
    kinto.list = "kinto";
    kinto.format = beacon::wire_format::kinto();
    beacon::redis::forwarder rewritten(kinto);
    beacon::encoded_events with_bad = stored;
    with_bad.push_back("{\"payload\": 3}");
    CHECK_THROWS_WITH(rewritten.forward(with_bad),
                      Contains("[beacon.encode_error]") &&
                          Contains("text 2 of the batch does not decode in the wire format \"envelope\"") &&
                          Contains("/payload"));
    REQUIRE(server.llen("kinto") == 2);
    CHECK(server.command({"LINDEX", "kinto", "-1"})->str == beacon::wire_format::kinto().encode(stored.decode(0)));

    auto small = listener_for(server.url(), "small");
    beacon::redis::forwarder_options bounded = small.options();
    bounded.limits.max_bytes = stored[1].size();
    beacon::redis::forwarder strict(bounded);
    CHECK_THROWS_WITH(strict.forward(stored), Contains("text 0 of the batch is") && Contains("limits.max_bytes"));
    try {
        strict.forward(stored);
        FAIL("no encode_error");
    } catch (const beacon::encode_error& left) {
        CHECK(left.left_out() == std::vector<std::size_t>{0});
    }
    server.command({"LPOP", "small"});
    CHECK(server.llen("small") == 1);
}

TEST_CASE("with Redis down the sender gets a redis_error and nothing crashes", "[redis][failure]") {
    const std::string url = redis_server::url_for(free_port());
    beacon::signal changed("core", "resource_changed");
    int local_calls = 0;
    changed.connect([&](const beacon::event&) { ++local_calls; });
    changed.connect(listener_for(url, "beacon.events", "", 500ms));

    CHECK_THROWS_WITH(changed.send(numbered(1)),
                      Contains("[beacon.redis_error]") && Contains(url) && Contains("connect"));
    const auto errors = changed.send_robust(numbered(2));
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0].message(), Contains("[beacon.redis_error]"));
    CHECK(local_calls == 2);
}

TEST_CASE("a server that hangs gives the sender a redis_error after the timeout; then it recovers", "[redis][failure]") {
    redis_server server;
    auto listener = listener_for(server.url(), "beacon.events", "", 300ms);
    listener.forward(numbered(1));
    server.signal(SIGSTOP);
    CHECK_THROWS_WITH(listener.forward(numbered(2)), Contains("[beacon.redis_error]") && Contains("LPUSH beacon.events"));
    server.signal(SIGCONT);
    listener.forward(numbered(3));
    CHECK(server.llen("beacon.events") >= 2);  // event 2 may or may not have reached Redis
}

TEST_CASE("a write to a closed peer fails with EPIPE instead of killing the process", "[redis][failure]") {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    // As a connection does: a failed write throws while the guard is in scope.
    const auto failed_write = [&] {
        const beacon::redis::detail::sigpipe_guard guard;
        CHECK(::write(fds[1], "x", 1) == -1);
        CHECK(errno == EPIPE);
        throw beacon::redis::redis_error("write: EPIPE");
    };
    CHECK_THROWS_AS(failed_write(), beacon::redis::redis_error);
    sigset_t pending;
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);

    // A thread that blocks SIGPIPE itself keeps the one it had pending.
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &pipe_only, &old) == 0);
    REQUIRE(pthread_kill(pthread_self(), SIGPIPE) == 0);
    CHECK_THROWS_AS(failed_write(), beacon::redis::redis_error);
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 1);
    const timespec zero{0, 0};
    CHECK(sigtimedwait(&pipe_only, nullptr, &zero) == SIGPIPE);
    CHECK(sigtimedwait(&pipe_only, nullptr, &zero) == -1);  // one pending signal, not two
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(fds[1]);
}

TEST_CASE("interop: redis-cli and Python read beacon's envelope; beacon reads an envelope pushed by redis-cli",
          "[redis][interop]") {
    redis_server server;
    beacon::event e("kinto", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", "a1"}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "a1"}, {"title", "hello"}}});
    listener_for(server.url(), "queue").forward(e);

    const std::string read_with_python =
        "redis-cli -p " + std::to_string(server.port()) + " --raw RPOP queue | python3 -c '"
        "import json, sys\n"
        "e = json.loads(sys.stdin.read())\n"
        "p = e[\"payload\"]\n"
        "print(e[\"sender\"], p[\"action\"], p[\"resource_name\"], p[\"bucket_id\"], p[\"uri\"], p[\"user_id\"],"
        " e[\"impacted_records\"][0][\"new\"][\"title\"], \"old\" in e[\"impacted_records\"][0], p[\"timestamp\"] > 0)'";
    CHECK(shell(read_with_python) ==
          "kinto create record blog /buckets/blog/collections/articles/records/a1 basicauth:alice hello False True\n");

    // An envelope without a sender, written by hand (Kinto's own bytes: redis_kinto_test).
    const std::string kinto_event =
        R"({"payload": {"timestamp": 1453896392123, "action": "update", "uri": "/buckets/blog",)"
        R"( "user_id": "basicauth:bob", "resource_name": "bucket", "id": "blog", "bucket_id": "blog"},)"
        R"( "impacted_records": [{"old": {"id": "blog"}, "new": {"id": "blog", "last_modified": 1453896392123}}]})";
    CHECK(shell("redis-cli -p " + std::to_string(server.port()) + " LPUSH queue '" + kinto_event + "'") == "1\n");

    worker_side got;
    auto options = quick(server.url());
    options.list = "queue";
    got.start(options);
    REQUIRE(eventually([&] { return got.event_count() == 1; }));
    got.stop();
    const auto& kinto = got.events.front();
    CHECK(kinto.sender.empty());
    CHECK(kinto.action == beacon::action::update);
    CHECK(kinto.resource_name == "bucket");
    CHECK(kinto.user_id == "basicauth:bob");
    CHECK(kinto.timestamp == 1453896392123);
    CHECK(kinto.data == nlohmann::json{{"id", "blog"}, {"bucket_id", "blog"}});
    REQUIRE(kinto.impacted_records.size() == 1);
    CHECK(kinto.impacted_records[0].old_value == nlohmann::json{{"id", "blog"}});
    CHECK(got.errors.empty());
}

TEST_CASE("in a unit of work, events are published after commit in one round trip; a rollback publishes nothing",
          "[redis][unit_of_work]") {
    redis_server server;
    beacon::registry host;
    std::vector<std::string> failures;
    beacon::resource_notifier notifier(host, [&](const beacon::failure& f) { failures.push_back(f.message()); });
    notifier.on_after_commit(listener_for(server.url()));
    std::vector<long long> queued_before_commit;
    auto probe = host.core().signal("resource_changed").connect([&](const beacon::event&) {
        queued_before_commit.push_back(server.llen("beacon.events"));
    });
    auto record = [](const std::string& collection, int n, beacon::action a) {
        beacon::event e = numbered(n);
        e.action = a;
        e.uri = "/buckets/b/collections/" + collection + "/records/r" + std::to_string(n);
        e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", n}}});
        return e;
    };

    server.command({"CONFIG", "RESETSTAT"});
    {
        beacon::unit_of_work request(notifier);
        request.notify(record("c1", 1, beacon::action::create));
        request.notify(record("c1", 2, beacon::action::create));  // merged with 1
        request.notify(record("c2", 3, beacon::action::create));
        request.notify(record("c1", 4, beacon::action::update));
        request.commit();
    }
    CHECK(queued_before_commit == std::vector<long long>{0, 0, 0});
    CHECK(server.llen("beacon.events") == 3);
    const std::string stats = server.command({"INFO", "commandstats"})->str;
    CHECK_THAT(stats, Contains("cmdstat_lpush:calls=1,"));
    const auto oldest = beacon::parse_event(server.command({"LINDEX", "beacon.events", "-1"})->str);
    CHECK(oldest.data.at("n") == 1);
    CHECK(oldest.impacted_records.size() == 2);

    {
        beacon::unit_of_work request(notifier);
        request.notify(record("c1", 5, beacon::action::delete_));
    }  // rolled back
    {
        beacon::unit_of_work request(notifier);
        request.notify(record("c1", 6, beacon::action::delete_));
        CHECK_THROWS_AS(request.commit([] { throw std::runtime_error("storage commit failed"); }), std::runtime_error);
    }
    CHECK(server.llen("beacon.events") == 3);
    CHECK(failures.empty());

    probe.disconnect();
    server.stop(SIGTERM);
    {
        beacon::unit_of_work request(notifier);
        request.notify(record("c1", 7, beacon::action::update));
        CHECK_NOTHROW(request.commit());
    }
    REQUIRE(failures.size() == 1);
    CHECK_THAT(failures[0], Contains("[beacon.redis_error]") && Contains(server.url()));
}

TEST_CASE("the listener type \"redis\" from configuration forwards what its filter passes", "[redis][listener]") {
    redis_server server;
    beacon::registry host;
    beacon::listener_types types;
    beacon::redis::add_listener_types(types);
    auto loaded = beacon::load_listeners(host, {{"event_listeners", {{"queue", {{"use", "redis"}, {"url", server.url()},
                                                                                {"listname", "records"}, {"resources", "record"}}}}}},
                                         types);
    auto bucket = numbered(1);
    bucket.resource_name = "bucket";
    host.core().signal("resource_changed").send(bucket);
    host.core().signal("resource_changed").send(numbered(2));
    CHECK(server.llen("records") == 1);
    CHECK(beacon::parse_event(server.command({"LINDEX", "records", "0"})->str).data.at("n") == 2);

    loaded.unload("queue");
    host.core().signal("resource_changed").send(numbered(3));
    CHECK(server.llen("records") == 1);

    // Kinto's flat form, on a channel.
    auto flat = beacon::load_listeners(host, {{"event_listeners", "live"}, {"event_listeners.live.use", "redis"},
                                              {"event_listeners.live.url", server.url()},
                                              {"event_listeners.live.channel", "beacon.live"}},
                                       types);
    server.command({"CONFIG", "RESETSTAT"});
    host.core().signal("resource_changed").send(numbered(4));
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str), Contains("cmdstat_publish:calls=1,"));
    CHECK(server.llen("beacon.events") == 0);
}

TEST_CASE("bad options of a redis listener are config errors naming the alias and the key",
          "[redis][listener][behaviour11]") {
    beacon::registry host;
    beacon::listener_types types;
    beacon::redis::add_listener_types(types);
    auto load = [&](nlohmann::json options) {
        options["use"] = "redis";
        beacon::load_listeners(host, {{"event_listeners", {{"queue", options}}}}, types);
    };
    CHECK_THROWS_WITH(load({{"listnmae", "q"}}), Contains("[beacon.config_error] /event_listeners/queue/listnmae (alias \"queue\")") &&
                                                     Contains("unknown option"));
    CHECK_THROWS_WITH(load({{"url", "http://x"}}), Contains("/event_listeners/queue/url") && Contains("redis://"));
    CHECK_THROWS_WITH(load({{"url", 6379}}), Contains("/event_listeners/queue/url") && Contains("got number"));
    CHECK_THROWS_WITH(load({{"listname", ""}}), Contains("/event_listeners/queue/listname") && Contains("non-empty"));
    CHECK_THROWS_WITH(load({{"listname", "q"}, {"channel", "c"}}), Contains("/event_listeners/queue/channel") && Contains("not both"));
    CHECK_THROWS_AS(beacon::load_listeners(host, {{"event_listeners", "q"}, {"event_listeners.q.use", "redis"},
                                                  {"event_listeners.q.timeout", "1"}},
                                           types),
                    beacon::config_error);
    CHECK(host.core().signal("resource_changed").receiver_count() == 0);
}

TEST_CASE_METHOD(notifier_host, "a configured redis listener with a notifier publishes once per commit, only committed work",
                 "[redis][listener][unit_of_work]") {
    auto loaded = beacon::load_listeners(
        host, {{"event_listeners", {{"queue", {{"use", "redis"}, {"url", server.url()}, {"actions", {"create", "delete"}}}}}}},
        types);
    auto change = [](int n, beacon::action a, const std::string& resource) {
        beacon::event e = numbered(n);
        e.action = a;
        e.resource_name = resource;
        e.uri = "/buckets/b" + std::to_string(n);
        return e;
    };

    server.command({"CONFIG", "RESETSTAT"});
    {
        beacon::unit_of_work request(notifier);
        request.notify(change(1, beacon::action::create, "bucket"));
        request.notify(change(2, beacon::action::update, "bucket"));  // not an action it wants
        request.notify(change(3, beacon::action::delete_, "group"));
        request.before_commit();
        CHECK(server.llen("beacon.events") == 0);
        request.after_commit();
    }
    CHECK(server.llen("beacon.events") == 2);
    CHECK_THAT(std::string(server.command({"INFO", "commandstats"})->str), Contains("cmdstat_lpush:calls=1,"));
    {
        beacon::unit_of_work request(notifier);
        request.notify(change(4, beacon::action::create, "bucket"));
        request.rollback();
    }
    {
        beacon::unit_of_work request(notifier);
        request.notify(change(4, beacon::action::delete_, "group"));
        CHECK_THROWS_AS(request.commit([] { throw std::runtime_error("storage commit failed"); }), std::runtime_error);
    }
    notifier.notify(change(5, beacon::action::create, "bucket"));  // a unit of work of its own
    host.core().signal("resource_changed").send(change(6, beacon::action::create, "bucket"));  // no unit of work
    CHECK(server.llen("beacon.events") == 4);
    std::vector<int> published;
    for (int i = 3; i >= 0; --i) {
        published.push_back(beacon::parse_event(server.command({"LINDEX", "beacon.events", std::to_string(i)})->str).data.at("n"));
    }
    CHECK(published == std::vector<int>{1, 3, 5, 6});

    loaded.unload("queue");
    notifier.notify(change(7, beacon::action::create, "bucket"));
    CHECK(server.llen("beacon.events") == 4);
    CHECK(failures.empty());
}

TEST_CASE_METHOD(notifier_host,
                 "a configured redis listener with a notifier publishes a unit of work committed by an after-commit receiver",
                 "[redis][listener][unit_of_work]") {
    auto loaded = beacon::load_listeners(host, {{"event_listeners", {{"queue", {{"use", "redis"}, {"url", server.url()}}}}}}, types);
    // Kinto's history: after a record is created, a history entry is noted (a unit of work of its own).
    auto history = host.core().signal("after_resource_changed").connect([&](const beacon::event& e) {
        if (e.resource_name != "record") return;
        beacon::event entry("history", {{"n", e.data.at("n")}});
        entry.action = beacon::action::create;
        entry.resource_name = "history";
        entry.uri = "/buckets/b/history/h" + e.data.at("n").dump();
        notifier.notify(entry);
    });
    auto published = [&] {
        std::vector<std::string> out;  // oldest first
        for (long long i = server.llen("beacon.events") - 1; i >= 0; --i) {
            const auto e = beacon::parse_event(server.command({"LINDEX", "beacon.events", std::to_string(i)})->str);
            out.push_back(e.resource_name + " " + e.data.at("n").dump());
        }
        return out;
    };

    {
        beacon::unit_of_work request(notifier);
        request.notify(numbered(1));
        request.commit();
    }
    // The history's commit publishes first, from inside the record's after-commit phase.
    CHECK(published() == std::vector<std::string>{"history 1", "record 1"});
    {
        beacon::unit_of_work request(notifier);
        request.notify(numbered(2));
        request.rollback();
    }
    CHECK(published().size() == 2);
    {
        beacon::unit_of_work request(notifier);
        request.notify(numbered(3));
        request.commit();
    }
    CHECK(published() == std::vector<std::string>{"history 1", "record 1", "history 3", "record 3"});

    loaded.unload("queue");
    notifier.notify(numbered(4));
    CHECK(server.llen("beacon.events") == 4);
    CHECK(failures.empty());
}

TEST_CASE("a connection whose SELECT fails is dropped, never used on another database", "[redis][url][failure]") {
    redis_server server;
    auto listener = listener_for("redis://127.0.0.1:" + std::to_string(server.port()) + "/99");
    CHECK_THROWS_WITH(listener.forward(numbered(1)), Contains("SELECT 99") && Contains("DB index is out of range"));
    CHECK_THROWS_WITH(listener.forward(numbered(2)), Contains("SELECT 99") && Contains("DB index is out of range"));
    CHECK(server.llen("beacon.events") == 0);
}

TEST_CASE("a connection's read timeout survives a silent reconnection", "[redis][failure]") {
    redis_server server;
    beacon::redis::detail::redis_connection connection(beacon::redis::detail::parse_redis_url(server.url()), 300ms);
    connection.set_read_timeout(5000ms);
    CHECK(connection.command({"PING"})->type == REDIS_REPLY_STATUS);
    CHECK(server.command({"CLIENT", "KILL", "TYPE", "normal"})->integer == 1);  // all but the server's own client
    // Reconnected before BLPOP, which waits 1 s for nothing: longer than the I/O timeout.
    CHECK(connection.command({"BLPOP", "nothing", "1"})->type == REDIS_REPLY_NIL);
}

TEST_CASE("a command reaches Redis byte for byte: empty, binary and long arguments, many of them", "[redis][resp]") {
    redis_server server;
    beacon::redis::detail::redis_connection connection(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    constexpr char bytes[] = "a\0b\r\n$3\r\n*1\r\n\xff";  // a NUL, RESP's own marks, a byte that is not UTF-8
    const std::string binary(bytes, sizeof bytes - 1);
    const std::string long_value(70'000, 'v');
    connection.command({"SET", "binary", binary});
    connection.command({"SET", "empty", ""});
    connection.command({"SET", "long", long_value});
    const auto got = server.command({"GET", "binary"});
    CHECK(std::string(got->str, got->len) == binary);
    CHECK(shell("redis-cli -p " + std::to_string(server.port()) + " --no-raw GET binary") == "\"a\\x00b\\r\\n$3\\r\\n*1\\r\\n\\xff\"\n");
    CHECK(server.command({"STRLEN", "empty"})->integer == 0);
    CHECK(server.command({"EXISTS", "empty"})->integer == 1);
    CHECK(std::string(server.command({"GET", "long"})->str) == long_value);

    std::vector<std::string> items;
    beacon::redis::detail::redis_command push{"RPUSH", "many"};
    for (int i = 0; i < 1200; ++i) items.push_back("item-" + std::to_string(i));  // "*1202": a four-digit count
    for (const auto& item : items) push.emplace_back(item);
    CHECK(connection.command(push)->integer == 1200);
    const auto last = server.command({"LINDEX", "many", "-1"});
    CHECK(std::string(last->str) == "item-1199");
}

TEST_CASE("a posted command is written at once and its reply read later, in order", "[redis][post]") {
    redis_server server;
    beacon::redis::detail::redis_connection connection(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    connection.post({"SET", "k", "1"});
    // Written, not waiting for the next command: another client sees it.
    CHECK(eventually([&] { return server.command({"EXISTS", "k"})->integer == 1; }));
    connection.post({"INCR", "k"});
    connection.post({"INCR", "k"});
    const auto reply = connection.command({"GET", "k"});  // the posted replies read first
    CHECK(std::string(reply->str, reply->len) == "3");

    // More than max_posted left unread: the oldest are read on the way, none is lost.
    const auto many = beacon::redis::detail::redis_connection::max_posted * 2 + 5;
    for (std::size_t i = 0; i < many; ++i) connection.post({"INCR", "n"});
    connection.settle();
    CHECK(server.command({"GET", "n"})->str == std::to_string(many));
    connection.settle();  // nothing owed: nothing read
    CHECK(connection.command({"PING"})->type == REDIS_REPLY_STATUS);
}

TEST_CASE("a posted command's error reply throws when it is read, naming the command; the others ran",
          "[redis][post][failure]") {
    redis_server server;
    beacon::redis::detail::redis_connection connection(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    connection.post({"SET", "text", "abc"});
    connection.post({"INCR", "text"});
    connection.post({"INCR", "counter"});
    CHECK_THROWS_WITH(connection.settle(), Contains("[beacon.redis_error]") && Contains(server.url()) &&
                                               Contains("INCR text") && Contains("not an integer"));
    CHECK(server.command({"GET", "counter"})->str == std::string("1"));
    // Every reply was read: the connection goes on in step.
    CHECK(std::string(connection.command({"ECHO", "next"})->str) == "next");

    // Not settled explicitly: the next command, sent in the same round trip, runs, and throws
    // it; its reply unread, the connection is dropped, and the one after reconnects.
    connection.post({"INCR", "text"});
    CHECK_THROWS_WITH(connection.command({"INCR", "counter"}), Contains("INCR text"));
    CHECK(server.command({"GET", "counter"})->str == std::string("2"));
    CHECK(connection.command({"INCR", "counter"})->integer == 3);
}

TEST_CASE("a posted command to a server that died throws a redis_error, and the connection recovers",
          "[redis][post][failure]") {
    redis_server server;
    beacon::redis::detail::redis_connection connection(beacon::redis::detail::parse_redis_url(server.url()), 500ms);
    connection.post({"SET", "k", "1"});
    server.stop(SIGKILL);
    // The first write after the server died may still succeed; reading its reply may not.
    CHECK_THROWS_AS(
        [&] {
            for (int i = 0; i < 100; ++i) connection.post({"INCR", "k"});
            connection.settle();
        }(),
        beacon::redis::redis_error);
    server.start();
    CHECK(connection.command({"PING"})->type == REDIS_REPLY_STATUS);
}

TEST_CASE("a forwarder's stats count the events published and failed, and each round trip, for all its copies",
          "[redis][stats][failure]") {
    redis_server server;
    auto listener = listener_for(server.url(), "queue", "", 500ms);
    CHECK(listener.stats().published == 0);
    CHECK(listener.stats().round_trip.count == 0);
    beacon::signal changed("core", "resource_changed");
    changed.connect(listener);  // a copy, counting into the same stats

    listener.forward(numbered(1));
    changed.send(numbered(2));
    listener.forward(std::vector<beacon::event>{numbered(3), numbered(4), numbered(5)});  // one LPUSH
    beacon::encoded_events stored;
    stored.push_back(nlohmann::json(numbered(6)).dump());
    stored.push_back(nlohmann::json(numbered(7)).dump());
    listener(stored);  // one LPUSH
    auto stats = listener.stats();
    CHECK(server.llen("queue") == 7);
    CHECK(stats.published == 7);
    CHECK(stats.failures == 0);
    CHECK(stats.round_trip.count == 4);
    CHECK(stats.round_trip.buckets.back() <= 4);
    CHECK(stats.round_trip.sum > 0);

    // An event that cannot be written fails alone: the others of its batch are published.
    beacon::event bad = numbered(8);
    bad.data["uri"] = "shadows the payload field";
    CHECK_THROWS_AS(listener.forward(std::vector<beacon::event>{numbered(9), bad, numbered(10)}), beacon::encode_error);
    CHECK_THROWS_AS(listener.forward(bad), beacon::encode_error);
    stats = listener.stats();
    CHECK(stats.published == 9);
    CHECK(stats.failures == 2);
    CHECK(stats.round_trip.count == 5);  // the single bad event sent nothing

    // Redis gone: every event of a forward that fails counts, and no round trip does.
    server.stop(SIGKILL);
    CHECK_THROWS_AS(listener.forward(numbered(11)), beacon::redis::redis_error);
    CHECK_THROWS_AS(listener.forward(std::vector<beacon::event>{numbered(12), numbered(13), numbered(14)}),
                    beacon::redis::redis_error);
    CHECK(changed.send_robust(numbered(15)).size() == 1);
    stats = listener.stats();
    CHECK(stats.published == 9);
    CHECK(stats.failures == 2 + 1 + 3 + 1);
    CHECK(stats.round_trip.count == 5);

    server.start();
    listener.forward(numbered(16));
    CHECK(listener.stats().published == 10);
    CHECK(listener.stats().round_trip.count == 6);

    // A channel: a batch is pipelined PUBLISHes, one round trip; a refused one fails the batch.
    auto live = listener_for(server.url(), "unused", "live");
    live.forward(std::vector<beacon::event>{numbered(1), numbered(2), numbered(3)});
    CHECK(live.stats().published == 3);
    CHECK(live.stats().round_trip.count == 1);
    server.command({"ACL", "SETUSER", "default", "-publish"});
    CHECK_THROWS_WITH(live.forward(std::vector<beacon::event>{numbered(4), numbered(5)}), Contains("PUBLISH live"));
    server.command({"ACL", "SETUSER", "default", "+publish"});
    CHECK(live.stats().published == 3);
    CHECK(live.stats().failures == 2);
    CHECK(live.stats().round_trip.count == 2);  // Redis answered (refusing)
}
