// Redis Streams, a poison entry (issue 21 item 1): a receiver that kills its process on one entry,
// restarted under the same name, must cost only that entry; the entries read with it are delivered.
#include <beacon/redis.hpp>

#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <set>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using beacon_test::redis_server;

namespace {

// Runs a worker named "w" of group "g" in a child process: it records each event it gets in the
// list "delivered", exits the process (status 3) on the event numbered `poison`, and stops after
// the event numbered `last`. Returns the child's exit status.
int run_worker(const std::string& url, int poison, int last) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::alarm(60);  // against hanging
        beacon::redis::detail::redis_connection log(beacon::redis::detail::parse_redis_url(url), 2000ms);
        beacon::signal local("core", "resource_changed");
        beacon::redis::stream_consumer_options options;
        options.url = url;
        options.group = "g";
        options.name = "w";
        options.poll_timeout = 50ms;
        options.claim_idle = 60s;  // no take-over: only restarts under the same name
        beacon::redis::stream_consumer consumer(local, options, [](const beacon::failure&) {});
        local.connect([&](const beacon::event& e) {
            const int n = e.data.at("n").get<int>();
            log.command({"RPUSH", "delivered", std::to_string(n)});
            if (n == poison) ::_exit(3);
            if (n == last) consumer.stop();
        });
        consumer.run();
        ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("a poison stream entry goes to the dead letters alone: the entries read with it are delivered",
          "[redis][stream][poison]") {
    redis_server server;
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    beacon::redis::stream_forwarder forwarder(options);
    std::vector<beacon::event> events;
    for (int n = 0; n < 200; ++n) {
        beacon::event e("producer", {{"n", n}});
        e.action = beacon::action::create;
        e.resource_name = "record";
        events.push_back(e);
    }
    forwarder.forward(events);

    // The worker dies on entry 50 until that entry is dead-lettered (its 6th delivery, more than
    // max_deliveries 5); then it handles the rest and stops after entry 199.
    int runs = 0;
    int status = 3;
    while (status == 3 && runs < 10) {
        status = run_worker(server.url(), 50, 199);
        ++runs;
    }
    CHECK(status == 0);
    CHECK(runs == 6);

    const auto dead = server.command({"XRANGE", "beacon.stream.dead", "-", "+"});
    REQUIRE(dead->type == REDIS_REPLY_ARRAY);
    std::vector<std::string> dead_events;
    for (std::size_t i = 0; i < dead->elements; ++i) {
        const redisReply* fields = dead->element[i]->element[1];
        for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
            if (std::string(fields->element[f]->str) == "event") dead_events.emplace_back(fields->element[f + 1]->str);
        }
    }
    REQUIRE(dead_events.size() == 1);
    CHECK(beacon::parse_event(dead_events[0]).data.at("n") == 50);

    // Every other entry was delivered (some more than once: at least once), and none is pending.
    const auto delivered = server.command({"LRANGE", "delivered", "0", "-1"});
    std::set<int> got;
    for (std::size_t i = 0; i < delivered->elements; ++i) got.insert(std::stoi(delivered->element[i]->str));
    CHECK(got.size() == 200);
    const auto pending = server.command({"XPENDING", "beacon.stream", "g"});
    CHECK(pending->element[0]->integer == 0);
}
