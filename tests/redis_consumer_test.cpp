// The list/channel consumer (<beacon/redis/consumer.hpp>), against a real redis-server that each
// test starts on a free loopback port: consuming a list or a channel, bad messages, a server
// killed and restarted during a stream, a consumer killed and restarted, and running once.
#include <beacon/redis/consumer.hpp>

#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include "child_process.hpp"
#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
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

TEST_CASE("events forwarded to a list come out of a consumer in order, unchanged", "[redis][list]") {
    redis_server server;
    beacon::registry host;
    auto listener = listener_for(server.url());
    host.core().signal("resource_changed").connect(listener);

    beacon::event first = numbered(1);
    first.user_id = "basicauth:alice";
    first.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "r1"}, {"title", "hello"}}});
    host.core().signal("resource_changed").stamp(first);  // its id known before the send
    host.core().signal("resource_changed").send(first);
    host.core().signal("resource_changed").send(numbered(2));
    listener.forward(std::vector<beacon::event>{numbered(3), numbered(4), numbered(5)});
    CHECK(server.llen("beacon.events") == 5);

    worker_side got;
    got.start(quick(server.url()));
    REQUIRE(eventually([&] { return got.event_count() == 5; }));
    got.stop();

    CHECK(got.numbers() == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(got.events.front() == first);  // the same event: id, type, source and all
    CHECK(got.events.front().type == "core.resource_changed");
    CHECK(got.errors.empty());
    CHECK(server.llen("beacon.events") == 0);
    CHECK(server.llen("beacon.events.processing") == 0);
}

TEST_CASE("events published on a channel reach a subscribed consumer", "[redis][channel]") {
    redis_server server;
    worker_side got;
    auto options = quick(server.url());
    options.channel = "beacon.live";
    options.dead_letter = "beacon.dead";
    got.start(options);
    REQUIRE(eventually([&] {
        const auto reply = server.command({"PUBSUB", "NUMSUB", "beacon.live"});
        return reply->element[1]->integer == 1;
    }));

    auto listener = listener_for(server.url(), "unused", "beacon.live");
    listener.forward(numbered(1));
    listener.forward(std::vector<beacon::event>{numbered(2), numbered(3)});
    server.command({"PUBLISH", "beacon.live", "not json"});
    listener.forward(numbered(4));
    REQUIRE(eventually([&] { return got.event_count() == 4; }));
    got.stop();
    CHECK(got.numbers() == std::vector<int>{1, 2, 3, 4});
    CHECK(server.llen("unused") == 0);
    CHECK(server.llen("beacon.dead") == 1);
    REQUIRE(got.error_count() == 1);
    CHECK_THAT(got.errors[0], Contains("[beacon.decode_error]") && Contains("not valid JSON"));
    CHECK_THAT(got.wheres[0], Contains("redis::consumer of channel beacon.live, message \"not json\""));
}

TEST_CASE("a consumer started before its server retries with backoff until the server is up", "[redis][failure][restart]") {
    const int port = free_port();
    worker_side got;
    got.start(quick(redis_server::url_for(port)));
    REQUIRE(eventually([&] { return got.error_count() >= 3; }));
    CHECK_THAT(got.first_error(), Contains("[beacon.redis_error]") && Contains(std::to_string(port)) && Contains("connect"));

    redis_server server(false, port);
    listener_for(server.url()).forward(numbered(1));
    REQUIRE(eventually([&] { return got.event_count() == 1; }));
    got.stop();
}

TEST_CASE("a message that is not an event goes to the error handler and the dead-letter list",
          "[redis][failure][behaviour11]") {
    redis_server server;
    auto listener = listener_for(server.url());
    listener.forward(numbered(1));
    server.command({"LPUSH", "beacon.events", "{not json"});
    server.command({"LPUSH", "beacon.events", R"({"payload": {"action": "explode"}})"});
    listener.forward(numbered(2));

    worker_side got;
    got.local.connect([](const beacon::event& e) {
        if (e.data.at("n") == 2) throw std::runtime_error("disk full");
    });
    auto options = quick(server.url());
    options.dead_letter = "beacon.dead";
    got.start(options);
    REQUIRE(eventually([&] { return got.event_count() == 2 && got.error_count() == 3; }));
    got.stop();

    CHECK(got.numbers() == std::vector<int>{1, 2});
    CHECK_THAT(got.errors[0], Contains("[beacon.decode_error] /: not valid JSON"));
    CHECK_THAT(got.errors[1], Contains("[beacon.decode_error] /payload/action: unknown action \"explode\""));
    CHECK_THAT(got.errors[2], Contains("receiver #") && Contains("failed on the event") && Contains("disk full"));
    CHECK_THAT(got.wheres[0], Contains("message \"{not json\""));
    CHECK(server.llen("beacon.dead") == 2);
    CHECK(std::string(server.command({"LINDEX", "beacon.dead", "-1"})->str) == "{not json");
    CHECK(server.llen("beacon.events") == 0);
    CHECK(server.llen("beacon.events.processing") == 0);
}

TEST_CASE("a consumer stops promptly when idle, and when stopped from a receiver", "[redis][stop]") {
    redis_server server;
    beacon::signal local("core", "resource_changed");
    {
        beacon::redis::consumer idle(local, quick(server.url()));
        idle.start();
        REQUIRE(eventually([&] {
            const auto clients = server.command({"CLIENT", "LIST"});
            return std::string(clients->str).find("cmd=blmove") != std::string::npos;
        }));
    }  // the destructor stops and joins

    listener_for(server.url()).forward(std::vector<beacon::event>{numbered(1), numbered(2), numbered(3)});
    beacon::redis::consumer consumer(local, quick(server.url()));
    int seen = 0;
    local.connect([&](const beacon::event&) {
        if (++seen == 2) consumer.stop();
    });
    consumer.run();
    CHECK(seen == 2);
    CHECK(server.llen("beacon.events") == 1);
    CHECK(server.llen("beacon.events.processing") == 0);
}

TEST_CASE("a consumer stopped reads the reply to the LREM it wrote last before its thread ends", "[redis][stop][failure]") {
    redis_server server;
    // A user whose LREMs the server refuses from the moment event 2 is handled: the last LREM's
    // reply, an error, is read only once the consumer stops.
    const auto url = server.user_url("worker");
    beacon::redis::detail::redis_connection admin(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    listener_for(server.url()).forward(std::vector<beacon::event>{numbered(1), numbered(2), numbered(3)});
    worker_side got;
    got.local.connect([&](const beacon::event& e) {  // in the consumer's thread: admin is used there only
        if (e.data.at("n") != 2) return;
        admin.command({"ACL", "SETUSER", "worker", "-lrem"});
        got.consumer->stop();
    });
    got.start(quick(url));
    got.consumer->join();
    CHECK(got.numbers() == std::vector<int>{1, 2});
    REQUIRE(got.error_count() == 1);
    CHECK_THAT(got.first_error(), Contains("LREM beacon.events.processing") && Contains("NOPERM") && !Contains("secret"));
    CHECK(server.llen("beacon.events") == 1);             // 3, not taken
    CHECK(server.llen("beacon.events.processing") == 1);  // 2, not removed: delivered again by the next consumer

    server.command({"ACL", "SETUSER", "worker", "+lrem"});
    worker_side next;
    next.start(quick(url));
    REQUIRE(eventually([&] { return next.event_count() == 2; }));
    next.stop();
    CHECK(next.numbers() == std::vector<int>{2, 3});
    CHECK(server.llen("beacon.events.processing") == 0);
}

TEST_CASE("a server killed and restarted during a stream loses no acknowledged event",
          "[redis][failure][restart]") {
    redis_server server(/*durable=*/true);
    worker_side got;
    got.start(quick(server.url()));

    // Refused while the server is down: at once (loopback). The timeout is long enough that a write
    // fsynced on a loaded disk is not refused too, so that exactly those 20 are.
    auto listener = listener_for(server.url(), "beacon.events", "", 5s);
    std::vector<int> acknowledged, refused;
    for (int n = 0; n < 300; ++n) {
        if (n == 150) server.stop(SIGKILL);
        if (n == 170) server.start();
        try {
            listener.forward(numbered(n));
            acknowledged.push_back(n);
        } catch (const beacon::redis::redis_error& e) {
            CHECK_THAT(e.what(), Contains("127.0.0.1:" + std::to_string(server.port())));
            refused.push_back(n);
        }
    }
    CHECK(refused.size() == 20);
    CHECK(refused.front() == 150);
    CHECK(acknowledged.size() == 280);

    REQUIRE(eventually([&] {
        const auto numbers = got.numbers();
        const std::set<int> received(numbers.begin(), numbers.end());
        return std::includes(received.begin(), received.end(), acknowledged.begin(), acknowledged.end());
    }));
    got.stop();
    CHECK(got.error_count() >= 1);  // the consumer saw the server go, and came back
    CHECK_THAT(got.errors.front(), Contains("[beacon.redis_error]"));
}

TEST_CASE("a consumer killed while handling an event gets it again on restart: at-least-once",
          "[redis][failure][restart]") {
    redis_server server;
    constexpr int total = 50, crash_at = 20;
    {
        auto listener = listener_for(server.url());
        for (int n = 0; n < total; ++n) listener.forward(numbered(n));
    }
    char log_path[] = "/tmp/beacon-consumer-log-XXXXXX";
    const int log_fd = ::mkstemp(log_path);
    REQUIRE(log_fd >= 0);

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        // The doomed worker: logs each event it gets, and hangs inside the receiver of event
        // `crash_at` until it is killed.
        try {
            beacon::signal local("core", "resource_changed");
            local.connect([&](const beacon::event& e) {
                const std::string line = std::to_string(e.data.at("n").get<int>()) + "\n";
                if (::write(log_fd, line.data(), line.size()) < 0) ::_exit(3);
                if (e.data.at("n") == crash_at) ::pause();
            });
            beacon::redis::consumer(local, quick(server.url())).run();
        } catch (...) {
        }
        ::_exit(2);
    }
    std::vector<int> first_run;
    REQUIRE(eventually([&] {
        std::ifstream in(log_path);
        first_run.clear();
        for (int n; in >> n;) first_run.push_back(n);
        return first_run.size() == crash_at + 1;
    }));
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    ::close(log_fd);
    std::remove(log_path);
    CHECK(server.llen("beacon.events.processing") == 1);  // event 20, taken but not finished

    worker_side got;
    got.start(quick(server.url()));
    REQUIRE(eventually([&] { return got.event_count() == total - crash_at; }));
    got.stop();

    std::map<int, int> deliveries;
    for (int n : first_run) ++deliveries[n];
    for (int n : got.numbers()) ++deliveries[n];
    REQUIRE(deliveries.size() == total);
    for (const auto& [n, times] : deliveries) CHECK(times == (n == crash_at ? 2 : 1));
    CHECK(got.numbers().front() == crash_at);  // the unfinished event is re-queued first
    CHECK(server.llen("beacon.events.processing") == 0);
}

TEST_CASE("a bad message goes to the dead-letter list, not whatever else is in the processing list",
          "[redis][failure][behaviour11]") {
    redis_server server;
    server.command({"LPUSH", "beacon.events", "{not json"});
    beacon::signal local("core", "resource_changed");
    beacon::redis::detail::redis_connection other(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    auto options = quick(server.url());
    options.processing_list = "shared.processing";
    options.dead_letter = "beacon.dead";
    beacon::redis::consumer consumer(local, options, [&](const beacon::failure& f) {
        // Meanwhile, something else pushes onto the processing list (a consumer wrongly sharing it).
        if (f.where.find("message") != std::string::npos) other.command({"LPUSH", "shared.processing", "in flight elsewhere"});
    });
    consumer.start();
    REQUIRE(eventually([&] { return server.llen("beacon.dead") == 1; }));
    consumer.stop();
    consumer.join();
    CHECK(std::string(server.command({"LINDEX", "beacon.dead", "0"})->str) == "{not json");
    REQUIRE(server.llen("shared.processing") == 1);
    CHECK(std::string(server.command({"LINDEX", "shared.processing", "0"})->str) == "in flight elsewhere");
}

TEST_CASE("a consumer runs once: a second start, a start after stop and a join from its own thread are misuse_errors",
          "[redis][stop]") {
    redis_server server;
    beacon::signal local("core", "resource_changed");
    {
        beacon::redis::consumer twice(local, quick(server.url()));
        twice.start();
        CHECK_THROWS_WITH(twice.start(), Contains("[beacon.misuse_error] redis::consumer::start()") && Contains("already running"));
        CHECK_THROWS_WITH(twice.run(), Contains("redis::consumer::run()") && Contains("already running"));
    }
    {
        beacon::redis::consumer stopped(local, quick(server.url()));
        stopped.stop();
        CHECK_THROWS_WITH(stopped.start(), Contains("redis::consumer::start()") && Contains("was stopped") && Contains("make a new one"));
        CHECK_THROWS_WITH(stopped.run(), Contains("redis::consumer::run()") && Contains("was stopped"));
    }

    listener_for(server.url()).forward(numbered(1));
    std::mutex mutex;
    std::vector<std::string> errors;
    beacon::redis::consumer consumer(local, quick(server.url()), [&](const beacon::failure& f) {
        std::lock_guard lock(mutex);
        errors.push_back(f.describe());
    });
    auto joiner = local.connect([&](const beacon::event&) {
        consumer.stop();
        consumer.join();
    });
    consumer.start();
    REQUIRE(eventually([&] {
        std::lock_guard lock(mutex);
        return !errors.empty();
    }));
    consumer.join();
    CHECK_THAT(errors.front(), Contains("receiver #") &&
                                   Contains("[beacon.misuse_error] redis::consumer::join(): called from the consumer's own thread"));
    CHECK(server.llen("beacon.events") == 0);
}

TEST_CASE("destroying a consumer from its own receiver terminates with a misuse_error saying why", "[redis][stop]") {
    redis_server server;
    listener_for(server.url()).forward(numbered(1));
    const auto end = beacon_test::run_in_child([&] {
        beacon::signal local("core", "resource_changed");
        auto* consumer = new beacon::redis::consumer(local, quick(server.url()));
        local.connect([&](const beacon::event&) { delete consumer; });
        consumer->start();
        ::pause();
    });
    CHECK(end.aborted());
    CHECK_THAT(end.said, Contains("[beacon.misuse_error] redis::consumer::~consumer(): called from the consumer's own thread"));
}

TEST_CASE("an event a worker's receiver sends carries the trace of the event it handles, and names it",
          "[redis][list][trace][behaviour14]") {
    redis_server server;
    beacon::registry host;
    auto listener = listener_for(server.url());
    host.core().signal("resource_changed").connect(listener);
    beacon::event sent = numbered(1);
    sent.id = {};  // a new event, stamped at the send with the request's trace (an id kept what it carries)
    {
        beacon::trace_scope request(
            beacon::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"));
        host.core().signal("resource_changed").send(sent);
    }

    // The worker's receiver sends an event of its own on another signal.
    worker_side got;
    beacon::signal followed{"core", "indexed"};
    std::mutex m;
    std::vector<beacon::event> follow_ups;
    auto c1 = followed.connect([&](const beacon::event& e) {
        std::lock_guard lock(m);
        follow_ups.push_back(e);
    });
    auto c2 = got.local.connect([&](const beacon::event&) { followed.send(beacon::event("indexer")); });
    got.start(quick(server.url()));
    REQUIRE(eventually([&] { return got.event_count() == 1; }));
    got.stop();

    std::lock_guard lock(m);
    REQUIRE(follow_ups.size() == 1);
    const beacon::event& handled = got.events.front();
    CHECK_FALSE(handled.id.is_nil());
    CHECK(handled.trace.traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    CHECK(follow_ups[0].trace == handled.trace);
    CHECK(follow_ups[0].cause == handled.id);
    CHECK(follow_ups[0].type == "core.indexed");
}

TEST_CASE("a list consumer's stats count deliveries, redeliveries and dead letters, and sample the list's backlog",
          "[redis][list][stats]") {
    redis_server server;
    // What a killed predecessor left in the processing list; then 5 events and a bad message.
    listener_for(server.url(), "beacon.events.processing").forward(std::vector<beacon::event>{numbered(1), numbered(2)});
    auto listener = listener_for(server.url());
    listener.forward(std::vector<beacon::event>{numbered(3), numbered(4), numbered(5)});
    server.command({"LPUSH", "beacon.events", "{not json"});
    const auto twice = numbered(6);
    listener.forward(std::vector<beacon::event>{twice, twice});  // a producer's retry: a duplicate

    worker_side got;
    std::mutex mutex;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> calls{0};
    got.local.connect([&](const beacon::event& e) {
        ++calls;
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return release; });
        if (e.data.at("n") == 4) throw std::runtime_error("disk full");
    });
    auto options = quick(server.url());
    options.dead_letter = "beacon.dead";
    options.lag_interval = 1ms;
    got.start(options);
    REQUIRE(eventually([&] { return calls == 1; }));  // in event 1's receivers
    auto stats = got.consumer->stats();
    CHECK(stats.redelivered == 2);  // moved back from the processing list when it started
    CHECK(stats.backlog == 8);      // sampled before the first pop
    CHECK(stats.delivered == 0);
    CHECK(stats.pending == 0);
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    cv.notify_all();
    REQUIRE(eventually([&] {
        const auto now = got.consumer->stats();
        return now.delivered == 6 && now.duplicates_dropped == 1 && now.backlog == 0;
    }));
    got.stop();
    stats = got.consumer->stats();
    CHECK(got.numbers() == std::vector<int>{1, 2, 3, 4, 5, 6});
    CHECK(stats.failed == 1);  // event 4's receiver threw; it was acknowledged all the same
    CHECK(stats.dead_lettered == 1);
    CHECK(stats.redelivered == 2);
    CHECK(server.llen("beacon.dead") == 1);
    CHECK(server.llen("beacon.events.processing") == 0);

    // lag_interval 0: never sampled.
    listener.forward(std::vector<beacon::event>{numbered(7), numbered(8)});
    worker_side unsampled;
    auto quiet = quick(server.url());
    quiet.lag_interval = 0ms;
    unsampled.start(quiet);
    REQUIRE(eventually([&] { return unsampled.consumer->stats().delivered == 2; }));
    unsampled.stop();
    CHECK(unsampled.consumer->stats().backlog == 0);
    CHECK(unsampled.consumer->stats().redelivered == 0);
}

TEST_CASE("a channel consumer's stats count what it delivered and dropped; a channel has no backlog", "[redis][channel][stats]") {
    redis_server server;
    worker_side got;
    auto options = quick(server.url());
    options.channel = "beacon.live";
    options.lag_interval = 1ms;
    got.start(options);  // no dead-letter list: a bad message is dropped
    REQUIRE(eventually([&] { return server.command({"PUBSUB", "NUMSUB", "beacon.live"})->element[1]->integer == 1; }));

    auto listener = listener_for(server.url(), "unused", "beacon.live");
    const auto twice = numbered(2);
    listener.forward(std::vector<beacon::event>{numbered(1), twice});
    server.command({"PUBLISH", "beacon.live", "not json"});
    listener.forward(std::vector<beacon::event>{twice, numbered(3)});
    REQUIRE(eventually([&] { return got.consumer->stats().delivered == 3; }));
    got.stop();
    const auto stats = got.consumer->stats();
    CHECK(got.numbers() == std::vector<int>{1, 2, 3});
    CHECK(stats.dead_lettered == 1);
    CHECK(stats.duplicates_dropped == 1);
    CHECK(stats.failed == 0);
    CHECK(stats.redelivered == 0);
    CHECK(stats.backlog == 0);
}
