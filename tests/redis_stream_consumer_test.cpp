// The stream consumer (<beacon/redis/stream_consumer.hpp>), against a real redis-server that each
// test starts on a free loopback port: consumer groups (every group gets every event, the
// consumers of a group share them), a consumer that never returns, a poison entry, bad entries,
// worker processes SIGKILLed and restarted, and the server restarted mid-stream.
#include <beacon/redis/stream_consumer.hpp>

#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include "numbers.hpp"
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
using beacon_test::range;
using beacon_test::redis_server;
using stream_test::numbered;
using stream_test::stream_forwarder_for;

namespace {


// Options for a test: short waits, so that stopping, reconnecting and taking over are quick.
beacon::redis::stream_consumer_options quick(const std::string& url, const std::string& group, const std::string& name) {
    beacon::redis::stream_consumer_options options;
    options.url = url;
    options.group = group;
    options.name = name;
    options.poll_timeout = 50ms;
    options.timeout = 1000ms;
    options.backoff_min = 10ms;
    options.backoff_max = 100ms;
    options.claim_idle = 300ms;
    return options;
}

// One consumer of a group in this process: a local signal whose receiver collects what the
// consumer re-sends into it, and what the consumer reports.
struct member {
    beacon::signal local{"core", "resource_changed"};
    std::mutex mutex;
    std::vector<int> numbers;
    std::vector<std::string> errors;
    std::vector<std::string> sources;
    std::unique_ptr<beacon::redis::stream_consumer> consumer;  // last: destroyed (and joined) first

    member() {
        local.connect([this](const beacon::event& e) {
            std::lock_guard lock(mutex);
            numbers.push_back(e.data.at("n").get<int>());
        });
    }
    void start(const beacon::redis::stream_consumer_options& options) {
        consumer = std::make_unique<beacon::redis::stream_consumer>(
            local, options, [this](const beacon::failure& f) {
                std::lock_guard lock(mutex);
                errors.push_back(f.describe());
                sources.push_back(f.where);
            });
        consumer->start();
    }
    void stop() {
        consumer->stop();
        consumer->join();
    }
    std::vector<int> got() {
        std::lock_guard lock(mutex);
        return numbers;
    }
    std::size_t error_count() {
        std::lock_guard lock(mutex);
        return errors.size();
    }
};

std::vector<int> sorted(std::vector<int> v) {
    std::sort(v.begin(), v.end());
    return v;
}

long long pending(redis_server& server, const std::string& group, const std::string& stream = "beacon.stream") {
    return server.command({"XPENDING", stream, group})->element[0]->integer;
}

std::string field(const redisReply* fields, const std::string& name) {
    for (std::size_t i = 0; i + 1 < fields->elements; i += 2) {
        if (std::string(fields->element[i]->str) == name) return fields->element[i + 1]->str;
    }
    return {};
}

// A worker process (examples/redis_stream_worker) writing what it handles to `log`.
pid_t spawn_worker(const std::string& url, const std::string& group, const std::string& name, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::vector<std::string> args{BEACON_STREAM_WORKER, url, group, name};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = -1;
    const int failed = ::posix_spawn(&pid, BEACON_STREAM_WORKER, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (failed) throw std::runtime_error("cannot start " + std::string(BEACON_STREAM_WORKER));
    return pid;
}

// The record numbers a worker's log shows ("<name>: create /buckets/b/collections/c/records/r<n>"),
// in its complete lines (a worker may be writing the last one).
std::vector<int> logged(const std::string& log) {
    std::ifstream in(log);
    std::vector<int> out;
    for (std::string line; std::getline(in, line) && !in.eof();) {
        const auto at = line.rfind("/records/r");
        if (at != std::string::npos) out.push_back(std::stoi(line.substr(at + 10)));
    }
    return out;
}

// A new empty file for a log.
std::string temp_log() {
    char path[] = "/tmp/beacon-stream-log-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    return path;
}

}  // namespace

TEST_CASE("events appended to a stream come out of a group in order, unchanged", "[redis][stream]") {
    redis_server server;
    auto listener = stream_forwarder_for(server.url());
    listener.forward(numbered(0));
    listener.forward(numbered(1, 10));  // one MULTI/EXEC
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 10);
    const auto first = server.command({"XRANGE", "beacon.stream", "-", "+", "COUNT", "1"});
    const redisReply* fields = first->element[0]->element[1];
    REQUIRE(fields->elements == 2);
    CHECK(std::string(fields->element[0]->str) == "event");
    const auto stored = beacon::parse_event(fields->element[1]->str);
    CHECK(stored.uri == numbered(0).uri);
    CHECK(stored.data == numbered(0).data);

    member got;
    got.start(quick(server.url(), "svc", "a"));
    REQUIRE(eventually([&] { return got.got().size() == 10; }));
    got.stop();
    CHECK(got.got() == range(0, 10));
    CHECK(pending(server, "svc") == 0);
    CHECK(got.error_count() == 0);
}

TEST_CASE("every group gets every event; the consumers of one group share them, each event once",
          "[redis][stream][group]") {
    redis_server server;
    member audit;  // group "audit": one consumer
    audit.start(quick(server.url(), "audit", "a1"));

    // Group "index": three consumers. Each holds its first event until all three have one, so
    // that every one of them demonstrably takes a share.
    std::mutex mutex;
    std::condition_variable cv;
    int holding = 0;
    std::vector<std::unique_ptr<member>> index;
    for (int i = 0; i < 3; ++i) {
        index.push_back(std::make_unique<member>());
        auto first = std::make_shared<bool>(true);
        index.back()->local.connect([&, first](const beacon::event&) {
            if (!*first) return;
            *first = false;
            std::unique_lock lock(mutex);
            ++holding;
            cv.notify_all();
            cv.wait_for(lock, 30s, [&] { return holding == 3; });
        });
        auto options = quick(server.url(), "index", "i" + std::to_string(i));
        options.batch = 1;
        index.back()->start(options);
    }
    auto listener = stream_forwarder_for(server.url());
    for (int n = 0; n < 300; n += 10) listener.forward(numbered(n, n + 10));

    REQUIRE(eventually([&] { return audit.got().size() == 300; }));
    REQUIRE(eventually([&] {
        std::size_t total = 0;
        for (auto& m : index) total += m->got().size();
        return total == 300;
    }));
    audit.stop();
    for (auto& m : index) m->stop();

    CHECK(audit.got() == range(0, 300));
    std::vector<int> all;
    for (auto& m : index) {
        const auto share = m->got();
        CHECK(!share.empty());
        CHECK(std::is_sorted(share.begin(), share.end()));
        all.insert(all.end(), share.begin(), share.end());
    }
    CHECK(sorted(all) == range(0, 300));  // each exactly once
    CHECK(pending(server, "audit") == 0);
    CHECK(pending(server, "index") == 0);
}

TEST_CASE("a consumer that never returns has its entries taken over after claim_idle", "[redis][stream][claim]") {
    redis_server server;
    stream_forwarder_for(server.url()).forward(numbered(0, 20));

    member stuck;
    std::mutex mutex;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> stuck_calls{0};
    stuck.local.connect([&](const beacon::event&) {
        ++stuck_calls;
        std::unique_lock lock(mutex);
        cv.wait(lock, [&] { return release; });
    });
    auto options = quick(server.url(), "svc", "stuck");
    options.batch = 4;
    stuck.start(options);
    REQUIRE(eventually([&] { return stuck_calls == 1; }));  // holds 0..3, hangs in 0

    member rescuer;
    rescuer.start(quick(server.url(), "svc", "rescuer"));
    REQUIRE(eventually([&] { return rescuer.got().size() == 20; }));
    CHECK(sorted(rescuer.got()) == range(0, 20));
    rescuer.stop();

    stuck.consumer->stop();  // it will not go on to 1..3 once released
    {
        std::lock_guard lock(mutex);
        release = true;
    }
    cv.notify_all();
    stuck.consumer->join();
    CHECK(stuck.got() == std::vector<int>{0});
    CHECK(stuck_calls == 1);
    CHECK(pending(server, "svc") == 0);
}

TEST_CASE("bad entries are dead-lettered and reported; a receiver's exception is reported and the entry acknowledged",
          "[redis][stream][failure][behaviour11]") {
    redis_server server;
    auto listener = stream_forwarder_for(server.url());
    listener.forward(numbered(0));
    server.command({"XADD", "beacon.stream", "*", "event", "{not json"});
    server.command({"XADD", "beacon.stream", "*", "other", "x"});
    server.command({"XADD", "beacon.stream", "*", "event", std::string(5000, 'x')});
    server.command({"XADD", "beacon.stream", "*", "a", "1", "b", "2", "c", "3", "event", "{}"});
    server.command({"XADD", "beacon.stream", "*", "event", R"({"payload": {"action": "explode"}})"});
    listener.forward(numbered(1));

    member got;
    got.local.connect([](const beacon::event& e) {
        if (e.data.at("n") == 1) throw std::runtime_error("disk full");
    });
    auto options = quick(server.url(), "svc", "a");
    options.max_entry_bytes = 4096;
    options.max_fields = 2;
    got.start(options);
    REQUIRE(eventually([&] { return got.got().size() == 2 && got.error_count() == 6; }));
    got.stop();

    CHECK(got.got() == std::vector<int>{0, 1});
    const auto& errors = got.errors;
    CHECK_THAT(errors[0], Contains("[beacon.decode_error] /: not valid JSON"));
    CHECK_THAT(errors[1], Contains("[beacon.decode_error]") && Contains("without a field \"event\""));
    CHECK_THAT(errors[2], Contains("[beacon.decode_error]") && Contains("5005 bytes, more than max_entry_bytes (4096)"));
    CHECK_THAT(errors[3], Contains("[beacon.decode_error]") && Contains("4 fields, more than max_fields (2)"));
    CHECK_THAT(errors[4], Contains("[beacon.decode_error] /payload/action: unknown action \"explode\""));
    CHECK_THAT(errors[5], Contains("receiver #") && Contains("failed on the event") && Contains("disk full"));
    CHECK_THAT(got.sources[0], Contains("beacon.stream ") && Contains("-"));
    for (const auto& e : errors) CHECK(e.size() < 400);  // no whole payload quoted

    const auto dead = server.command({"XRANGE", "beacon.stream.dead", "-", "+"});
    REQUIRE(dead->elements == 5);
    CHECK(field(dead->element[0]->element[1], "event") == "{not json");
    CHECK(field(dead->element[0]->element[1], "group") == "svc");
    CHECK_THAT(field(dead->element[0]->element[1], "reason"), Contains("not valid JSON"));
    CHECK(field(dead->element[1]->element[1], "other") == "x");
    CHECK(field(dead->element[2]->element[1], "event").empty());  // too big to copy
    CHECK(pending(server, "svc") == 0);
}

TEST_CASE("a poison entry that kills every consumer is dead-lettered after max_deliveries", "[redis][stream][poison]") {
    redis_server server;
    auto listener = stream_forwarder_for(server.url());
    auto events = numbered(0, 10);
    events[5].data["poison"] = true;
    listener.forward(events);
    const std::string log = temp_log();
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    REQUIRE(log_fd >= 0);

    // Consumers in child processes, each under a new name: a poisoned one dies (SIGKILL) inside
    // its receiver; the next takes the entry over after claim_idle.
    int killed = 0;
    std::vector<pid_t> children;
    for (int k = 0; k < 5 && server.command({"XLEN", "beacon.stream.dead"})->integer == 0; ++k) {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            beacon::signal local("core", "resource_changed");
            local.connect([&](const beacon::event& e) {
                if (e.data.contains("poison")) ::raise(SIGKILL);
                const std::string line = "c: create " + e.uri + "\n";
                if (::write(log_fd, line.data(), line.size()) < 0) ::_exit(3);
            });
            auto options = quick(server.url(), "svc", "c" + std::to_string(k));
            options.batch = 1;
            options.max_deliveries = 2;
            try {
                beacon::redis::stream_consumer(local, options, [](const beacon::failure&) {}).run();
            } catch (...) {
            }
            ::_exit(2);
        }
        children.push_back(child);
        int status = 0;
        REQUIRE(eventually([&] {
            return ::waitpid(child, &status, WNOHANG) == child ||
                   server.command({"XLEN", "beacon.stream.dead"})->integer == 1;
        }));
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++killed;
    }
    ::kill(children.back(), SIGKILL);
    ::waitpid(children.back(), nullptr, 0);
    ::close(log_fd);

    CHECK(killed == 2);  // delivered twice (max_deliveries), then dead-lettered by the third
    const auto dead = server.command({"XRANGE", "beacon.stream.dead", "-", "+"});
    REQUIRE(dead->elements == 1);
    CHECK_THAT(field(dead->element[0]->element[1], "reason"), Contains("delivered 3 times, more than max_deliveries (2)"));
    CHECK(beacon::parse_event(field(dead->element[0]->element[1], "event")).data.at("n") == 5);
    auto handled = logged(log);
    std::vector<int> expected = range(0, 10);
    expected.erase(expected.begin() + 5);
    CHECK(sorted(handled) == expected);
    CHECK(pending(server, "svc") == 0);
    std::remove(log.c_str());
}

TEST_CASE("worker processes SIGKILLed mid-stream and restarted lose nothing; duplicates are bounded",
          "[redis][stream][restart]") {
    redis_server server;
    constexpr int total = 4000, batch = 10;
    const std::string logs[2] = {temp_log(), temp_log()};
    pid_t workers[2];
    for (int i = 0; i < 2; ++i) workers[i] = spawn_worker(server.url(), "svc", "w" + std::to_string(i), logs[i]);

    std::thread producer([&] {
        auto listener = stream_forwarder_for(server.url());
        for (int n = 0; n < total; n += batch) listener.forward(numbered(n, n + batch));
    });
    // Also when a REQUIRE fails: the workers killed (else they hold CTest's output pipe open), the
    // producer joined (else std::terminate).
    struct stop_all {
        pid_t* workers;
        std::thread& producer;
        ~stop_all() {
            for (int i = 0; i < 2; ++i) {
                if (workers[i] <= 0) continue;
                ::kill(workers[i], SIGKILL);
                ::waitpid(workers[i], nullptr, 0);
            }
            if (producer.joinable()) producer.join();
        }
    } guard{workers, producer};
    int kills = 0;
    for (int i = 0; i < 2; ++i) {
        // Kill each worker once it has handled some events, and restart it under its name.
        const std::size_t seen = 300 * static_cast<std::size_t>(i + 1);
        REQUIRE(eventually([&] { return logged(logs[i]).size() >= seen; }));
        ::kill(workers[i], SIGKILL);
        ::waitpid(workers[i], nullptr, 0);
        ++kills;
        workers[i] = spawn_worker(server.url(), "svc", "w" + std::to_string(i), logs[i]);
    }
    producer.join();

    std::vector<int> all;
    REQUIRE(eventually([&] {
        all = logged(logs[0]);
        const auto second = logged(logs[1]);
        all.insert(all.end(), second.begin(), second.end());
        const std::set<int> distinct(all.begin(), all.end());
        return distinct.size() == total && pending(server, "svc") == 0;
    }));
    for (auto& pid : workers) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        pid = -1;
    }
    const auto duplicates = all.size() - total;
    std::cout << "stream workers: " << total << " events, " << kills << " kills, " << duplicates << " duplicates\n";
    // A killed worker handled at most one batch (COUNT 16, the default) it had not acknowledged.
    CHECK(duplicates <= static_cast<std::size_t>(kills) * 16);
    for (const auto& log : logs) std::remove(log.c_str());
}

TEST_CASE("a server killed and restarted mid-stream loses no acknowledged event", "[redis][stream][restart]") {
    redis_server server(/*durable=*/true);
    member got;
    got.start(quick(server.url(), "svc", "a"));

    // Refused while the server is down: at once (loopback). The timeout is long enough that a write
    // fsynced on a loaded disk is not refused too, so that exactly those 10 batches are.
    auto listener = stream_forwarder_for(server.url(), 1000000, 5s);
    std::vector<int> acknowledged;
    int refused = 0;
    for (int n = 0; n < 300; n += 5) {
        if (n == 150) server.stop(SIGKILL);
        if (n == 200) server.start();
        try {
            listener.forward(numbered(n, n + 5));
            for (int k = n; k < n + 5; ++k) acknowledged.push_back(k);
        } catch (const beacon::redis::redis_error& e) {
            CHECK_THAT(e.what(), Contains("127.0.0.1:" + std::to_string(server.port())));
            ++refused;
        }
    }
    CHECK(refused == 10);
    REQUIRE(eventually([&] {
        const auto numbers = got.got();
        const std::set<int> received(numbers.begin(), numbers.end());
        return std::includes(received.begin(), received.end(), acknowledged.begin(), acknowledged.end());
    }));
    got.stop();
    const auto numbers = got.got();
    std::cout << "server restart: " << acknowledged.size() << " acknowledged, " << numbers.size() << " delivered\n";
    CHECK(numbers.size() <= acknowledged.size() + 16);  // at most one batch handled twice
    CHECK(got.error_count() >= 1);
    CHECK_THAT(got.errors.front(), Contains("[beacon.redis_error]"));
}

TEST_CASE("a group lost with a server restarted without persistence is created again", "[redis][stream][restart]") {
    redis_server server;
    member got;
    got.start(quick(server.url(), "svc", "a"));
    stream_forwarder_for(server.url()).forward(numbered(0, 3));
    REQUIRE(eventually([&] { return got.got().size() == 3; }));
    server.stop(SIGKILL);
    server.start();  // empty: no stream, no group
    stream_forwarder_for(server.url()).forward(numbered(3, 6));
    REQUIRE(eventually([&] { return got.got().size() == 6; }));
    got.stop();
    CHECK(got.got() == range(0, 6));
}

TEST_CASE("XACKs refused mid-batch are reported at its end; the entries come back and are not delivered twice",
          "[redis][stream][failure]") {
    redis_server server;
    // A user whose XACKs the server refuses from the moment event 20 is handled until the test
    // allows them again (as a server refuses writes it cannot persist, or a replica's).
    const auto url = server.user_url("worker");
    beacon::redis::detail::redis_connection admin(beacon::redis::detail::parse_redis_url(server.url()), 2000ms);
    stream_forwarder_for(server.url()).forward(numbered(0, 50));
    member got;
    got.local.connect([&](const beacon::event& e) {  // in the consumer's thread: admin is used there only
        if (e.data.at("n") == 20) admin.command({"ACL", "SETUSER", "worker", "-xack"});
    });
    auto options = quick(url, "svc", "a");
    got.start(options);  // batches of 16: the second, 16 to 31, has 12 XACKs refused
    REQUIRE(eventually([&] { return got.error_count() >= 1; }));
    server.command({"ACL", "SETUSER", "worker", "+xack"});
    REQUIRE(eventually([&] { return got.got().size() >= 50 && pending(server, "svc") == 0; }));
    got.stop();

    CHECK(got.got() == range(0, 50));  // each once, in order
    CHECK(got.consumer->duplicates_dropped() >= 12);  // 20 to 31 came back, each dropped by the window
    std::lock_guard lock(got.mutex);
    CHECK_THAT(got.errors.front(), Contains("[beacon.redis_error]") && Contains("XACK beacon.stream") &&
                                       Contains("NOPERM") && !Contains("secret"));
}

TEST_CASE("a stream consumer runs once; a bad URL is refused", "[redis][stream]") {
    redis_server server;
    beacon::signal local("core", "resource_changed");
    CHECK_THROWS_WITH(beacon::redis::stream_consumer(local, quick("http://x", "g", "c")),
                      Contains("[beacon.config_error] /url") && Contains("redis://"));
    beacon::redis::stream_consumer consumer(local, quick(server.url(), "g", "c"));
    consumer.start();
    CHECK_THROWS_WITH(consumer.start(), Contains("already running"));
    consumer.stop();
    consumer.join();
    CHECK(consumer.options().dead_letter == "beacon.stream.dead");
}

TEST_CASE("a stream consumer's stats count deliveries, redeliveries and dead letters, and sample its group's lag",
          "[redis][stream][stats]") {
    redis_server server;
    stream_forwarder_for(server.url()).forward(numbered(0, 5));
    server.command({"XADD", "beacon.stream", "*", "event", "{not json"});

    // A consumer reads all six entries and stops in the first one's receiver: five stay pending with it.
    member first;
    first.local.connect([&](const beacon::event&) { first.consumer->stop(); });
    first.start(quick(server.url(), "svc", "first"));
    REQUIRE(eventually([&] { return first.got().size() == 1; }));
    first.consumer->join();
    CHECK(first.consumer->stats().delivered == 1);
    CHECK(first.consumer->stats().redelivered == 0);
    REQUIRE(pending(server, "svc") == 5);

    // Another, which takes nothing over, sees them pending, waiting longer and longer.
    member observer;
    auto watching = quick(server.url(), "svc", "observer");
    watching.claim_idle = 1h;
    watching.lag_interval = 1ms;
    observer.start(watching);
    REQUIRE(eventually([&] {
        const auto stats = observer.consumer->stats();
        return stats.pending == 5 && stats.oldest_pending_idle >= 20ms;
    }));
    observer.stop();
    CHECK(observer.consumer->stats().delivered == 0);

    // A third takes them over after claim_idle: four redelivered (one receiver throwing), one dead-lettered.
    member rescuer;
    rescuer.local.connect([](const beacon::event& e) {
        if (e.data.at("n") == 3) throw std::runtime_error("disk full");
    });
    auto rescuing = quick(server.url(), "svc", "rescuer");
    rescuing.lag_interval = 1ms;
    rescuer.start(rescuing);
    REQUIRE(eventually([&] {
        const auto stats = rescuer.consumer->stats();
        return stats.delivered == 4 && stats.dead_lettered == 1 && stats.pending == 0;
    }));
    rescuer.stop();
    const auto stats = rescuer.consumer->stats();
    CHECK(sorted(rescuer.got()) == range(1, 5));
    CHECK(stats.redelivered == 4);
    CHECK(stats.failed == 1);
    CHECK(stats.oldest_pending_idle == 0ms);
    CHECK(stats.backlog == 0);
    CHECK(server.command({"XLEN", "beacon.stream.dead"})->integer == 1);
    CHECK(pending(server, "svc") == 0);
}
