// The outbox's relay (<beacon/sqlite/relay.hpp>) on real database files: commit order in batches,
// a publisher down then up (retried with growing waits, nothing lost), a hand-corrupted row and an
// event the format refuses (set aside, never blocking the rows behind), two relays on one outbox
// (no event published twice), and against a real redis-server: a host committing 10,000 units of
// work through the outbox and relaying them, and a worker consuming with the inbox, both SIGKILLed
// at random and Redis restarted twice: every committed event's effect is applied exactly once.
#include <beacon/sqlite/relay.hpp>

#include <beacon/beacon.hpp>
#include <beacon/redis.hpp>
#include <beacon/sqlite.hpp>
#include <beacon/unit_of_work.hpp>

#include "child_process.hpp"
#include "redis_test_support.hpp"
#include "relay_test_support.hpp"
#include "sqlite_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using beacon_test::numbered;
using relay_test::range;
using relay_test::recorder;
using namespace std::chrono_literals;
using beacon_test::eventually;
using sqlite_test::database_file;
using sqlite_test::exec;
using sqlite_test::open;
using sqlite_test::scalar;

namespace {

// Commits events first..last-1 into the outbox of `path`, `per_transaction` to a transaction.
void commit_events(const std::string& path, int first, int last, int per_transaction = 10) {
    auto db = open(path);
    beacon::sqlite::outbox outbox(db.get());
    for (int n = first; n < last;) {
        exec(db.get(), "BEGIN");
        for (int k = 0; k < per_transaction && n < last; ++k, ++n) outbox.add(numbered(n));
        exec(db.get(), "COMMIT");
    }
}

}  // namespace

TEST_CASE("a relay publishes the outbox in commit order, in batches, and deletes what it published",
          "[sqlite][relay]") {
    database_file file;
    commit_events(file.path, 0, 250);
    recorder got;
    beacon::sqlite::relay_options options;
    options.batch = 100;
    beacon::sqlite::relay relay(file.path, [&](const std::vector<beacon::event>& b) { got(b); }, options);
    CHECK(relay.run_once() == 100);
    CHECK(relay.run_once() == 100);
    CHECK(relay.run_once() == 50);
    CHECK(relay.run_once() == 0);
    CHECK(got.batches.size() == 3);
    CHECK(got.all() == range(0, 250));
    CHECK(relay.stats().published == 250);
    auto db = open(file.path);
    CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_outbox") == 0);
}

TEST_CASE("a publisher that fails is retried with growing waits, and nothing is lost or reordered",
          "[sqlite][relay][failure][threads][behaviour15]") {
    database_file file;
    commit_events(file.path, 0, 30);
    recorder got;
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> attempts;
    std::vector<std::string> reports;
    beacon::sqlite::relay_options options;
    options.batch = 10;
    options.backoff_min = 20ms;
    options.backoff_max = 80ms;
    options.poll_interval = 10ms;
    beacon::sqlite::relay relay(
        file.path,
        [&](const std::vector<beacon::event>& b) {
            {
                std::lock_guard lock(mutex);
                attempts.push_back(std::chrono::steady_clock::now());
                if (attempts.size() <= 5) throw std::runtime_error("target down");  // five failures, then up
            }
            got(b);
        },
        options,
        [&](const beacon::failure& f) {
            std::lock_guard lock(mutex);
            reports.push_back(f.describe());
        });
    relay.start();
    REQUIRE(eventually([&] { return got.all().size() == 30; }));
    relay.stop();
    CHECK(got.all() == range(0, 30));
    CHECK(relay.stats().failures == 5);
    std::lock_guard lock(mutex);
    REQUIRE(reports.size() == 5);
    CHECK_THAT(reports[0], Contains("beacon.sqlite: sqlite::relay of " + file.path) && Contains("target down"));
    // The waits: at least half of 20, 40, 80, 80, 80 ms (doubling, capped, with jitter).
    const std::vector<int> at_least{10, 20, 40, 40, 40};
    for (std::size_t i = 0; i < at_least.size(); ++i) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(attempts[i + 1] - attempts[i]);
        INFO("wait " << i << ": " << waited.count() << " ms");
        CHECK(waited.count() >= at_least[i] - 1);
    }
}

TEST_CASE("a running relay counts its backlog: rows waiting and the age of the oldest", "[sqlite][relay][stats][threads]") {
    database_file file;
    commit_events(file.path, 0, 12);
    relay_test::check_backlog_counted<beacon::sqlite::relay, beacon::sqlite::relay_options>(file.path);
}

TEST_CASE("a corrupt row and an event the format refuses are set aside; the rows behind them go",
          "[sqlite][relay][failure][behaviour15]") {
    database_file file;
    commit_events(file.path, 0, 6);
    {
        auto db = open(file.path);  // hand-edited bytes in the third row
        exec(db.get(), "UPDATE beacon_outbox SET payload = '{\"sender\": [unterminated' WHERE seq = 3");
    }
    recorder got;
    std::vector<std::string> reports;
    beacon::sqlite::relay relay(
        file.path,
        [&](const std::vector<beacon::event>& b) {
            for (const auto& e : b) {  // the target's format cannot write event 4
                if (e.data.at("n") == 4) throw beacon::encode_error("/data/n", "4 is not allowed here");
            }
            got(b);
        },
        {}, [&](const beacon::failure& f) { reports.push_back(f.describe()); });
    CHECK(relay.run_once() == 6);
    CHECK(got.all() == std::vector<int>{0, 1, 3, 5});
    CHECK(relay.stats().set_aside == 2);
    REQUIRE(reports.size() == 2);
    CHECK_THAT(reports[0], Contains("row 3") && Contains("set aside in beacon_outbox_dead"));
    CHECK_THAT(reports[1], Contains("row 5") && Contains("4 is not allowed here"));
    auto db = open(file.path);
    CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_outbox") == 0);
    CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_outbox_dead") == 2);
    CHECK(sqlite_test::text(db.get(), "SELECT payload FROM beacon_outbox_dead WHERE seq = 3") ==
          "{\"sender\": [unterminated");
}

TEST_CASE("a publisher of texts gets the stored envelopes as they are; a row not framed as an object is set aside",
          "[sqlite][relay][texts][failure]") {
    database_file file;
    commit_events(file.path, 0, 5);
    std::vector<std::string> stored;
    {
        auto db = open(file.path);  // hand-edited bytes: row 2 cut short, row 4 an object that is no event
        exec(db.get(), "UPDATE beacon_outbox SET payload = '{\"sender\": [unterminated' WHERE seq = 2");
        exec(db.get(), "UPDATE beacon_outbox SET payload = ' {\"not\": [\"an event\"]} ' WHERE seq = 4");
        for (int seq : {1, 3, 4, 5}) {
            stored.push_back(sqlite_test::text(db.get(), "SELECT payload FROM beacon_outbox WHERE seq = " + std::to_string(seq)));
        }
    }
    std::vector<std::string> got;
    std::vector<std::string> formats;
    std::vector<std::string> reports;
    beacon::sqlite::relay relay(
        file.path,
        [&](const beacon::encoded_events& b) {
            formats.push_back(b.format().name());
            for (std::size_t i = 0; i < b.size(); ++i) got.emplace_back(b[i]);
        },
        {}, [&](const beacon::failure& f) { reports.push_back(f.describe()); });
    CHECK(relay.run_once() == 5);
    CHECK(got == stored);  // byte for byte, the one that is no event too (the consumers dead-letter it)
    CHECK(formats == std::vector<std::string>{"envelope"});
    CHECK(relay.stats().published == 4);
    CHECK(relay.stats().set_aside == 1);
    REQUIRE(reports.size() == 1);
    CHECK_THAT(reports[0], Contains("row 2") && Contains("not valid JSON") && Contains("set aside in beacon_outbox_dead"));
}

TEST_CASE("a row the forwarder leaves out of a batch is set aside; the rows it sent go once, not again one by one",
          "[sqlite][relay][texts][failure]") {
    database_file file;
    commit_events(file.path, 0, 2);
    {
        auto db = open(file.path);
        beacon::sqlite::outbox outbox(db.get());
        auto big = numbered(2);  // row 3: longer than the forwarder sends
        big.data["padding"] = std::string(1000, 'x');
        exec(db.get(), "BEGIN");
        outbox.add(big);
        exec(db.get(), "COMMIT");
    }
    commit_events(file.path, 3, 5);
    beacon_test::redis_server server;
    beacon::redis::forwarder_options options;
    options.url = server.url();
    options.list = "out";
    options.limits.max_bytes = 900;
    beacon::redis::forwarder forwarder(options);
    std::vector<std::string> reports;
    beacon::sqlite::relay relay(file.path, forwarder, {}, [&](const beacon::failure& f) { reports.push_back(f.describe()); });
    CHECK(relay.run_once() == 5);
    CHECK(server.llen("out") == 4);
    CHECK(relay.stats().published == 4);
    CHECK(relay.stats().set_aside == 1);
    REQUIRE(reports.size() == 1);
    CHECK_THAT(reports[0], Contains("row 3") && Contains("limits.max_bytes") && Contains("set aside in beacon_outbox_dead"));
    std::vector<int> order;
    for (long long i = server.llen("out") - 1; i >= 0; --i) {
        order.push_back(beacon::parse_event(server.command({"LINDEX", "out", std::to_string(i)})->str).data.at("n"));
    }
    CHECK(order == std::vector<int>{0, 1, 3, 4});
}

TEST_CASE("two relays on one outbox publish each event once", "[sqlite][relay][threads]") {
    database_file file;
    commit_events(file.path, 0, 500);
    recorder got;
    beacon::sqlite::relay_options options;
    options.batch = 7;
    options.poll_interval = 5ms;
    const auto publish = [&](const std::vector<beacon::event>& b) { got(b); };
    beacon::sqlite::relay a(file.path, publish, options), b(file.path, publish, options);
    a.start();
    b.start();
    std::string failure;  // what the thread threw: Catch2's macros are not thread-safe
    std::thread more([&] {  // the host commits meanwhile
        try {
            commit_events(file.path, 500, 800);
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    more.join();
    CHECK(failure.empty());
    REQUIRE(eventually([&] { return got.all().size() >= 800; }));
    a.stop();
    b.stop();
    CHECK(got.all() == range(0, 800));  // once each, in commit order
}

TEST_CASE("destroying a relay from its own publisher terminates with a misuse_error saying why", "[sqlite][relay][threads]") {
    database_file file;
    commit_events(file.path, 0, 1);
    const auto end = beacon_test::run_in_child([&] {
        beacon::sqlite::relay* relay = nullptr;
        relay = new beacon::sqlite::relay(file.path, [&](const std::vector<beacon::event>&) { delete relay; });
        relay->start();
        ::pause();
    });
    CHECK(end.aborted());
    CHECK_THAT(end.said, Contains("[beacon.misuse_error] sqlite::relay::~relay(): called from the relay's own thread") &&
                             Contains(file.path));
}

TEST_CASE("bad relay options are refused by name", "[sqlite][relay][config]") {
    database_file file;
    beacon::sqlite::relay_options options;
    options.table = "outbox; DROP TABLE x";
    CHECK_THROWS_WITH(beacon::sqlite::relay(file.path, [](const std::vector<beacon::event>&) {}, options),
                      Contains("[beacon.config_error] /table"));
    CHECK_THROWS_WITH(beacon::sqlite::relay(file.path, nullptr), Contains("/publish"));
}

TEST_CASE("a configured redis listener with an outbox writes in the host's transaction; its relay publishes the rows",
          "[sqlite][relay][listener]") {
    beacon_test::redis_server server;
    database_file file;
    auto db = open(file.path);
    beacon::sqlite::outbox outbox(db.get());
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    beacon::listener_types types;
    beacon::redis::add_listener_types(types, &notifier);
    beacon::redis::add_stream_listener_type(types, &notifier);
    types.add_outbox("main", outbox);
    const nlohmann::json settings = {
        {"event_listeners", {{"feed", {{"use", "redis"}, {"url", server.url()}, {"list", "feed"}, {"outbox", "main"}}}}}};
    auto loaded = beacon::load_listeners(reg, settings, types);
    const auto commit = [&](int n, bool keep) {
        exec(db.get(), "BEGIN");
        beacon::unit_of_work uow(notifier);
        notifier.notify(numbered(n));
        if (keep) {
            uow.commit([&] { exec(db.get(), "COMMIT"); });
        } else {
            uow.rollback();
            exec(db.get(), "ROLLBACK");
        }
    };
    commit(1, true);
    commit(2, false);  // rolled back: nothing in the outbox, nothing published
    commit(3, true);
    REQUIRE(eventually([&] { return server.llen("feed") == 2; }));
    const auto oldest = server.command({"LINDEX", "feed", "-1"});
    CHECK(beacon::parse_event(oldest->str).data.at("n") == 1);
    CHECK(beacon::parse_event(server.command({"LINDEX", "feed", "0"})->str).data.at("n") == 3);
    CHECK(eventually([&] { return outbox.pending() == 0; }));
    CHECK_THROWS_WITH(notifier.notify(numbered(4)), Contains("no transaction is open"));  // no unit, no transaction

    loaded.unload("feed");  // stops its relay: what commits now stays in the outbox
    exec(db.get(), "BEGIN");
    outbox.add(numbered(5));
    exec(db.get(), "COMMIT");
    std::this_thread::sleep_for(300ms);  // three of the relay's polls, had it still run
    CHECK(outbox.pending() == 1);
    CHECK(server.llen("feed") == 2);

    const auto bad = [&](nlohmann::json options) {
        return beacon::load_listeners(reg, {{"event_listeners", {{"feed", std::move(options)}}}}, types);
    };
    CHECK_THROWS_WITH(bad({{"use", "redis"}, {"outbox", "other"}}),
                      Contains("[beacon.config_error]") && Contains("/event_listeners/feed/outbox") &&
                          Contains("unknown outbox \"other\" (registered: main)"));
    CHECK_THROWS_WITH(bad({{"use", "redis_stream"}, {"outbox", 1}}), Contains("expected the name of an outbox"));
    CHECK_THROWS_WITH(bad({{"use", "redis"}, {"outbox", "main"}, {"async", true}}), Contains("cannot be async"));
    CHECK_THROWS_WITH(beacon::load_listeners(reg,
                                             {{"event_listeners",
                                               {{"a", {{"use", "redis"}, {"outbox", "main"}}},
                                                {"b", {{"use", "redis_stream"}, {"outbox", "main"}}}}}},
                                             types),
                      Contains("/event_listeners/b/outbox") && Contains("serves another alias already"));
}

namespace {

// A child process running `body`, which never returns normally (the parent kills it).
template <class Body>
pid_t spawn(Body body) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        try {
            body();
        } catch (...) {
        }
        ::_exit(2);
    }
    return child;
}

void kill_and_wait(pid_t child) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
}

// A connection in WAL mode with synchronous=NORMAL: a commit survives the process killed.
sqlite_test::connection open_wal(const std::string& path) {
    auto db = open(path);
    exec(db.get(), "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    return db;
}

}  // namespace

// The host commits units of work (a record and its event, through the outbox, in one transaction)
// and runs the relay to Redis in the same process; a worker consumes with the inbox. Both are
// SIGKILLed at random moments and restarted (the host from its last committed record), and Redis
// is killed and restarted twice. Committed records and applied effects must match one to one.
TEST_CASE("host and worker SIGKILLed over 10,000 units of work, Redis restarted twice: nothing lost, nothing twice",
          "[sqlite][relay][outbox][inbox][redis][kill][threads][behaviour15][behaviour16]") {
    constexpr int total = 10000, worker_kills = 20, host_kills = 10;
    database_file host_file, worker_file;
    beacon_test::redis_server server(/*durable=*/true);
    {
        auto db = open_wal(host_file.path);
        exec(db.get(), "CREATE TABLE records (n INTEGER PRIMARY KEY)");
        auto worker = open_wal(worker_file.path);
        exec(worker.get(), "CREATE TABLE effects (n INTEGER)");
    }
    const auto host = [&] {
        auto db = open_wal(host_file.path);
        beacon::sqlite::outbox outbox(db.get());
        beacon::registry reg;
        beacon::resource_notifier notifier(reg);
        reg.core().signal("resource_changed").connect(outbox.receiver());
        auto forwarder = beacon_test::listener_for(server.url());
        beacon::sqlite::relay_options options;
        options.poll_interval = 5ms;
        options.backoff_min = 5ms;
        options.backoff_max = 100ms;
        beacon::sqlite::relay relay(host_file.path, forwarder, options, [](const beacon::failure&) {});
        relay.start();
        for (int n = static_cast<int>(scalar(db.get(), "SELECT coalesce(max(n) + 1, 0) FROM records")); n < total; ++n) {
            exec(db.get(), "BEGIN");
            beacon::unit_of_work uow(notifier);
            exec(db.get(), "INSERT INTO records VALUES (" + std::to_string(n) + ")");
            notifier.notify(numbered(n));
            uow.commit([&] { exec(db.get(), "COMMIT"); });
        }
        for (;;) ::pause();
    };
    const auto worker = [&] {
        auto db = open_wal(worker_file.path);
        auto options = beacon_test::quick(server.url());
        options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get());
        beacon::signal local("core", "resource_changed");
        local.connect([&](const beacon::event& e) {
            exec(db.get(), "INSERT INTO effects VALUES (" + std::to_string(e.data.at("n").get<int>()) + ")");
        });
        beacon::redis::consumer(local, options, [](const beacon::failure&) {}).run();
    };
    const auto count = [](const std::string& path, const std::string& table) {
        auto db = open(path);
        return scalar(db.get(), "SELECT count(*) FROM " + table);
    };

    // One timeline: the host is killed each time its committed records pass a tenth of the total
    // (and restarted from its last record), the worker each time its effects pass a twentieth; at
    // the worker's 7th and 14th kills Redis is killed too, and restarted.
    std::mt19937 random(17);
    std::uniform_int_distribution<int> pause_us(0, 2000);
    pid_t host_pid = spawn(host), worker_pid = spawn(worker);
    int host_restarts = 0, worker_restarts = 0, redis_restarts = 0;
    std::vector<long long> host_killed_at;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (host_restarts < host_kills || worker_restarts < worker_kills) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        const auto records = count(host_file.path, "records");
        if (host_restarts < host_kills && records >= static_cast<long long>(total) * (host_restarts + 1) / (host_kills + 1)) {
            std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
            kill_and_wait(host_pid);
            host_killed_at.push_back(count(host_file.path, "records"));
            ++host_restarts;
            host_pid = spawn(host);
        }
        if (worker_restarts < worker_kills &&
            count(worker_file.path, "effects") >= static_cast<long long>(total) * (worker_restarts + 1) / (worker_kills + 1)) {
            std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
            kill_and_wait(worker_pid);
            ++worker_restarts;
            if (worker_restarts == 7 || worker_restarts == 14) {
                server.stop(SIGKILL);
                std::this_thread::sleep_for(200ms);
                server.start();
                ++redis_restarts;
            }
            worker_pid = spawn(worker);
        }
        std::this_thread::sleep_for(1ms);
    }
    REQUIRE(eventually([&] {
        return count(host_file.path, "records") == total && count(host_file.path, "beacon_outbox") == 0 &&
               server.llen("beacon.events") == 0 && server.llen("beacon.events.processing") == 0 &&
               count(worker_file.path, "effects") >= total;
    }, 120s));
    kill_and_wait(host_pid);
    kill_and_wait(worker_pid);

    auto db = open(worker_file.path);
    const auto applied = scalar(db.get(), "SELECT count(*) FROM effects");
    const auto distinct = scalar(db.get(), "SELECT count(DISTINCT n) FROM effects");
    const auto committed = count(host_file.path, "records");
    std::cout << "outbox and inbox kill test (" << total << " units of work; host SIGKILLed " << host_restarts
              << " times, at";
    for (auto at : host_killed_at) std::cout << " " << at;
    std::cout << " records committed; worker " << worker_restarts << " times; Redis " << redis_restarts
              << " times):\n  committed "
              << committed << ", effects applied " << applied << " (" << distinct << " distinct): missing "
              << committed - distinct << ", applied twice " << applied - distinct << "\n";
    CHECK(committed == total);
    CHECK(distinct == total);
    CHECK(applied == total);
}
