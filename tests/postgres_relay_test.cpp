// The outbox's relay for PostgreSQL (<beacon/postgres/relay.hpp>) against a real server, a cluster
// of the test's own (tests/postgres_server.hpp): seq order in batches, a publisher down then up
// (retried with growing waits, nothing lost), a hand-corrupted row and an event the format refuses
// (set aside, never blocking the rows behind), two relays on one outbox (FOR UPDATE SKIP LOCKED: no
// event published twice), a server killed and restarted (reported without the password, the relay
// reconnects), and against a real redis-server: a host committing 10,000 units of work through the
// outbox and relaying them, and a worker consuming with the postgres inbox, both SIGKILLed at
// random and Redis restarted twice: every committed event's effect is applied exactly once.
#include <beacon/postgres/relay.hpp>

#include "postgres_server.hpp"
#include "relay_test_support.hpp"
#include "redis_test_support.hpp"

#include <beacon/beacon.hpp>
#include <beacon/postgres.hpp>
#include <beacon/redis.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <mutex>
#include <random>
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
using beacon_test::exec;
using beacon_test::pg_connection;
using beacon_test::postgres_server;

namespace {

const std::string host_password = "pw-Rl9-never-in-a-message";

// The one value `sql` returns; throws std::runtime_error.
long long value(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    const std::string message = PQresultErrorMessage(r);
    const long long v = ok ? std::stoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (!ok) throw std::runtime_error(sql + ": " + message);
    return v;
}

// A connection, or std::runtime_error.
pg_connection connect(const std::string& conninfo) {
    auto conn = postgres_server::connect(conninfo);
    if (PQstatus(conn.get()) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn.get()));
    return conn;
}

postgres_server& relay_cluster() {
    static postgres_server server;
    static const bool role = [] {
        exec(server.admin().get(), "CREATE ROLE host LOGIN PASSWORD '" + host_password + "'");
        return true;
    }();
    (void)role;
    return server;
}

// A database of the test case's own on `server`, owned by `host`; its conninfo (with the password).
std::string relay_database(postgres_server& server = relay_cluster()) {
    static int count = 0;
    const std::string name = "relay_" + std::to_string(++count);
    exec(server.admin().get(), "CREATE DATABASE " + name + " OWNER host");
    return server.conninfo(name, "host", host_password);
}


// Commits events first..last-1 into the outbox of `conninfo`, `per_transaction` to a transaction.
void commit_events(const std::string& conninfo, int first, int last, int per_transaction = 10) {
    auto conn = connect(conninfo);
    beacon::postgres::outbox outbox(conn.get());
    for (int n = first; n < last;) {
        exec(conn.get(), "BEGIN");
        for (int k = 0; k < per_transaction && n < last; ++k, ++n) outbox.add(numbered(n));
        exec(conn.get(), "COMMIT");
    }
}


}  // namespace

TEST_CASE("postgres: a relay publishes the outbox in seq order, in batches, and deletes what it published",
          "[postgres][relay]") {
    const auto conninfo = relay_database();
    commit_events(conninfo, 0, 250);
    recorder got;
    beacon::postgres::relay_options options;
    options.batch = 100;
    beacon::postgres::relay relay(conninfo, [&](const std::vector<beacon::event>& b) { got(b); }, options);
    CHECK(relay.run_once() == 100);
    CHECK(relay.run_once() == 100);
    CHECK(relay.run_once() == 50);
    CHECK(relay.run_once() == 0);
    CHECK(got.batches.size() == 3);
    CHECK(got.all() == range(0, 250));
    CHECK(relay.stats().published == 250);
    auto conn = connect(conninfo);
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox") == 0);

    // A row whose transaction commits after a later seq was published is published then, not skipped.
    auto early = connect(conninfo), late = connect(conninfo);
    beacon::postgres::outbox first(late.get()), second(early.get());
    exec(late.get(), "BEGIN");
    first.add(numbered(1000));  // takes the lower seq
    exec(early.get(), "BEGIN");
    second.add(numbered(1001));
    exec(early.get(), "COMMIT");
    CHECK(relay.run_once() == 1);
    exec(late.get(), "COMMIT");
    CHECK(relay.run_once() == 1);
    CHECK(got.all().back() == 1000);
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox") == 0);
}

TEST_CASE("postgres: a publisher that fails is retried with growing waits, and nothing is lost or reordered",
          "[postgres][relay][failure][threads][behaviour15]") {
    const auto conninfo = relay_database();
    commit_events(conninfo, 0, 30);
    recorder got;
    std::mutex mutex;
    std::vector<std::chrono::steady_clock::time_point> attempts;
    std::vector<std::string> reports;
    beacon::postgres::relay_options options;
    options.batch = 10;
    options.backoff_min = 20ms;
    options.backoff_max = 80ms;
    options.poll_interval = 10ms;
    beacon::postgres::relay relay(
        conninfo,
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
    // The count goes up once the batch's DELETE committed, after the publisher returned.
    REQUIRE(eventually([&] { return got.all().size() == 30 && relay.stats().published == 30; }));
    relay.stop();
    CHECK(got.all() == range(0, 30));
    CHECK(relay.stats().failures == 5);
    CHECK(relay.stats().published == 30);
    std::lock_guard lock(mutex);
    REQUIRE(reports.size() == 5);
    const std::string name = conninfo.substr(conninfo.find("dbname=") + 7);
    CHECK_THAT(reports[0], Contains("beacon.postgres: postgres::relay of 127.0.0.1:" + std::to_string(relay_cluster().port()) +
                                    "/" + name.substr(0, name.find(' ')) + " table beacon_outbox, publishing") &&
                               Contains("target down") && !Contains(host_password));
    // The waits: at least half of 20, 40, 80, 80, 80 ms (doubling, capped, with jitter).
    const std::vector<int> at_least{10, 20, 40, 40, 40};
    for (std::size_t i = 0; i < at_least.size(); ++i) {
        const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(attempts[i + 1] - attempts[i]);
        INFO("wait " << i << ": " << waited.count() << " ms");
        CHECK(waited.count() >= at_least[i] - 1);
    }
}

TEST_CASE("postgres: a running relay counts its backlog: rows waiting and the age of the oldest",
          "[postgres][relay][stats][threads]") {
    const auto conninfo = relay_database();
    commit_events(conninfo, 0, 12);
    relay_test::check_backlog_counted<beacon::postgres::relay, beacon::postgres::relay_options>(conninfo);
}

TEST_CASE("postgres: a corrupt row and an event the format refuses are set aside; the rows behind them go",
          "[postgres][relay][failure][behaviour15]") {
    const auto conninfo = relay_database();
    commit_events(conninfo, 0, 6);
    auto conn = connect(conninfo);  // hand-edited bytes in the third row
    exec(conn.get(), "UPDATE beacon_outbox SET payload = '{\"sender\": [unterminated' WHERE seq = 3");
    recorder got;
    std::vector<std::string> reports;
    beacon::postgres::relay relay(
        conninfo,
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
    CHECK(relay.stats().published == 4);
    REQUIRE(reports.size() == 2);
    CHECK_THAT(reports[0], Contains("beacon.postgres") && Contains("row 3") && Contains("set aside in beacon_outbox_dead"));
    CHECK_THAT(reports[1], Contains("row 5") && Contains("4 is not allowed here"));
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox") == 0);
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox_dead") == 2);
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox_dead WHERE seq = 3 AND payload = "
                            "'{\"sender\": [unterminated' AND reason LIKE '%decode_error%' AND id IS NOT NULL") == 1);
    CHECK(value(conn.get(), "SELECT count(*) FROM beacon_outbox_dead WHERE seq = 5 AND reason LIKE '%not allowed%'") == 1);
}

TEST_CASE("postgres: a configured redis_stream listener with an outbox appends what commits, as stored, through its relay",
          "[postgres][relay][listener]") {
    beacon_test::redis_server server;
    const auto conninfo = relay_database();
    auto conn = connect(conninfo);
    beacon::postgres::outbox outbox(conn.get());
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    beacon::listener_types types;
    beacon::redis::add_stream_listener_type(types, &notifier);
    types.add_outbox("orders", outbox);
    auto loaded = beacon::load_listeners(
        reg, {{"event_listeners", {{"feed", {{"use", "redis_stream"}, {"url", server.url()}, {"outbox", "orders"}}}}}}, types);
    for (int n = 0; n < 3; ++n) {
        exec(conn.get(), "BEGIN");
        beacon::unit_of_work uow(notifier);
        notifier.notify(numbered(n));
        if (n == 1) {
            uow.rollback();
            exec(conn.get(), "ROLLBACK");
        } else {
            uow.commit([&] { exec(conn.get(), "COMMIT"); });
        }
    }
    REQUIRE(eventually([&] { return server.command({"XLEN", "beacon.stream"})->integer == 2; }));
    const auto entries = server.command({"XRANGE", "beacon.stream", "-", "+"});
    CHECK(beacon::parse_event(entries->element[0]->element[1]->element[1]->str).data.at("n") == 0);
    CHECK(beacon::parse_event(entries->element[1]->element[1]->element[1]->str).data.at("n") == 2);
    CHECK(eventually([&] { return outbox.pending() == 0; }));
}

TEST_CASE("postgres: two relays on one outbox, while the host commits, publish each event once",
          "[postgres][relay][threads]") {
    const auto conninfo = relay_database();
    commit_events(conninfo, 0, 500);
    recorder got;
    beacon::postgres::relay_options options;
    options.batch = 7;
    options.poll_interval = 5ms;
    const auto publish = [&](const std::vector<beacon::event>& b) {
        got(b);
        std::this_thread::sleep_for(1ms);  // rows held a while: the other relay skips them
    };
    beacon::postgres::relay a(conninfo, publish, options), b(conninfo, publish, options);
    a.start();
    b.start();
    std::string failure;  // what the thread threw: Catch2's macros are not thread-safe
    std::thread more([&] {  // the host commits meanwhile
        try {
            commit_events(conninfo, 500, 800);
        } catch (const std::exception& e) {
            failure = e.what();
        }
    });
    more.join();
    CHECK(failure.empty());
    REQUIRE(eventually([&] {
        return got.all().size() >= 800 && a.stats().published + b.stats().published >= 800;
    }));
    std::this_thread::sleep_for(50ms);  // a duplicate would come now
    a.stop();
    b.stop();
    auto all = got.all();
    CHECK(all.size() == 800);
    std::sort(all.begin(), all.end());
    CHECK(all == range(0, 800));  // once each
    CHECK(a.stats().published > 0);
    CHECK(b.stats().published > 0);
    CHECK(a.stats().published + b.stats().published == 800);
}

TEST_CASE("postgres: a server killed under a running relay is reported without the password; the relay reconnects",
          "[postgres][relay][failure][threads][behaviour15]") {
    postgres_server server;  // its own: this one dies
    exec(server.admin().get(), "CREATE ROLE host LOGIN PASSWORD '" + host_password + "'");
    const auto conninfo = relay_database(server);
    commit_events(conninfo, 0, 10);
    recorder got;
    std::mutex mutex;
    std::vector<std::string> reports;
    beacon::postgres::relay_options options;
    options.poll_interval = 10ms;
    options.backoff_min = 10ms;
    options.backoff_max = 100ms;
    beacon::postgres::relay relay(conninfo, [&](const std::vector<beacon::event>& b) { got(b); }, options,
                                  [&](const beacon::failure& f) {
                                      std::lock_guard lock(mutex);
                                      reports.push_back(f.describe());
                                  });
    relay.start();
    // Published and deleted (committed): a server killed between the two would publish them again.
    REQUIRE(eventually([&] { return relay.stats().published == 10; }));
    server.stop(SIGKILL);
    REQUIRE(eventually([&] { return relay.stats().failures >= 2; }));
    server.start();
    commit_events(conninfo, 10, 20);
    REQUIRE(eventually([&] { return relay.stats().published == 20; }));
    relay.stop();
    CHECK(got.all() == range(0, 20));
    std::lock_guard lock(mutex);
    REQUIRE(reports.size() >= 2);
    for (const auto& r : reports) {
        INFO(r);
        CHECK_THAT(r, Contains("[beacon.postgres_error] 127.0.0.1:" + std::to_string(server.port()) + "/relay_"));
        CHECK_THAT(r, !Contains(host_password));
    }
}

TEST_CASE("postgres: bad relay options are refused by name; an unreachable server is named, never the password",
          "[postgres][relay][config]") {
    const auto conninfo = relay_database();
    beacon::postgres::relay_options options;
    options.table = "outbox; DROP TABLE x";
    CHECK_THROWS_WITH(beacon::postgres::relay(conninfo, [](const std::vector<beacon::event>&) {}, options),
                      Contains("[beacon.config_error] /table"));
    CHECK_THROWS_WITH(beacon::postgres::relay(conninfo, nullptr), Contains("/publish"));
    const int port = beacon_test::free_port();
    try {
        beacon::postgres::relay refused("host=127.0.0.1 port=" + std::to_string(port) + " dbname=gone user=host password=" +
                                            host_password + " connect_timeout=2",
                                        [](const std::vector<beacon::event>&) {});
        FAIL("no error");
    } catch (const beacon::postgres::postgres_error& e) {
        CHECK_THAT(e.what(), Contains("[beacon.postgres_error] 127.0.0.1:" + std::to_string(port) + "/gone: connect: ") &&
                                 !Contains(host_password));
    }
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
        } catch (const std::exception& e) {
            std::cerr << "child " << ::getpid() << ": " << e.what() << "\n";
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

}  // namespace

// The host commits units of work (a record and its event, through the outbox, in one transaction)
// and runs the relay to Redis in the same process; a worker consumes with the postgres inbox. Both
// are SIGKILLed at random moments and restarted (the host from its last committed record), and
// Redis is killed and restarted twice. Committed records and applied effects must match one to one.
TEST_CASE("postgres: host and worker SIGKILLed over 10,000 units of work, Redis restarted twice: nothing lost, "
          "nothing twice",
          "[postgres][relay][outbox][inbox][redis][kill][threads][behaviour15][behaviour16]") {
    constexpr int total = 10000, worker_kills = 20, host_kills = 10;
    const auto started = std::chrono::steady_clock::now();
    const auto host_db = relay_database(), worker_db = relay_database();
    beacon_test::redis_server server(/*durable=*/true);
    // The parent's own connections, made before the children fork: the children never use them
    // (each child opens its own after fork), and exit by SIGKILL or _exit, never closing them.
    auto host_conn = connect(host_db), worker_conn = connect(worker_db);
    exec(host_conn.get(), "CREATE TABLE records (n integer PRIMARY KEY)");
    exec(worker_conn.get(), "CREATE TABLE effects (n integer)");
    { beacon::postgres::outbox tables(host_conn.get()); }  // the outbox's tables, before any count

    const auto host = [&] {
        auto conn = connect(host_db);
        beacon::postgres::outbox outbox(conn.get());
        beacon::registry reg;
        beacon::resource_notifier notifier(reg);
        reg.core().signal("resource_changed").connect(outbox.receiver());
        auto forwarder = beacon_test::listener_for(server.url());
        beacon::postgres::relay_options options;
        options.poll_interval = 5ms;
        options.backoff_min = 5ms;
        options.backoff_max = 100ms;
        beacon::postgres::relay relay(host_db, forwarder, options, [](const beacon::failure&) {});
        relay.start();
        for (int n = static_cast<int>(value(conn.get(), "SELECT coalesce(max(n) + 1, 0) FROM records")); n < total; ++n) {
            exec(conn.get(), "BEGIN");
            beacon::unit_of_work uow(notifier);
            exec(conn.get(), "INSERT INTO records VALUES (" + std::to_string(n) + ")");
            notifier.notify(numbered(n));
            uow.commit([&] { exec(conn.get(), "COMMIT"); });
        }
        for (;;) ::pause();
    };
    const auto worker = [&] {
        auto conn = connect(worker_db);
        auto options = beacon_test::quick(server.url());
        options.inbox = std::make_shared<beacon::postgres::inbox>(conn.get());
        beacon::signal local("core", "resource_changed");
        local.connect([&](const beacon::event& e) {
            exec(conn.get(), "INSERT INTO effects VALUES (" + std::to_string(e.data.at("n").get<int>()) + ")");
        });
        beacon::redis::consumer(local, options, [](const beacon::failure&) {}).run();
    };
    const auto records = [&] { return value(host_conn.get(), "SELECT count(*) FROM records"); };
    const auto effects = [&] { return value(worker_conn.get(), "SELECT count(*) FROM effects"); };

    // One timeline: the host is killed each time its committed records pass an eleventh of the
    // total (and restarted from its last record), the worker each time its effects pass a
    // twenty-first; at the worker's 7th and 14th kills Redis is killed too, and restarted.
    std::mt19937 random(17);
    std::uniform_int_distribution<int> pause_us(0, 2000);
    pid_t host_pid = spawn(host), worker_pid = spawn(worker);
    int host_restarts = 0, worker_restarts = 0, redis_restarts = 0;
    std::vector<long long> host_killed_at;
    const auto deadline = std::chrono::steady_clock::now() + 120s;
    while (host_restarts < host_kills || worker_restarts < worker_kills) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        if (host_restarts < host_kills && records() >= static_cast<long long>(total) * (host_restarts + 1) / (host_kills + 1)) {
            std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));
            kill_and_wait(host_pid);
            host_killed_at.push_back(records());
            ++host_restarts;
            host_pid = spawn(host);
        }
        if (worker_restarts < worker_kills &&
            effects() >= static_cast<long long>(total) * (worker_restarts + 1) / (worker_kills + 1)) {
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
        return records() == total && value(host_conn.get(), "SELECT count(*) FROM beacon_outbox") == 0 &&
               server.llen("beacon.events") == 0 && server.llen("beacon.events.processing") == 0 && effects() >= total;
    }, 120s));
    kill_and_wait(host_pid);
    kill_and_wait(worker_pid);

    const auto applied = effects();
    const auto distinct = value(worker_conn.get(), "SELECT count(DISTINCT n) FROM effects");
    const auto committed = records();
    const auto seconds = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    std::cout << "postgres outbox and inbox kill test (" << total << " units of work; host SIGKILLed " << host_restarts
              << " times, at";
    for (auto at : host_killed_at) std::cout << " " << at;
    std::cout << " records committed; worker " << worker_restarts << " times; Redis " << redis_restarts
              << " times; " << static_cast<double>(seconds.count()) / 1000.0 << " s):\n  committed " << committed << ", effects applied "
              << applied << " (" << distinct << " distinct): missing " << committed - distinct << ", applied twice "
              << applied - distinct << "\n";
    CHECK(committed == total);
    CHECK(distinct == total);
    CHECK(applied == total);
}
