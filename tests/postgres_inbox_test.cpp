// The inbox in PostgreSQL (<beacon/postgres/inbox.hpp>) against a real server, a cluster of the
// test's own (tests/postgres_server.hpp): effects and the record commit together or not at all (an
// effect that throws, a commit that fails, a statement of the effects that fails), a record
// survives the connection, records expire after the horizon, two connections from two threads
// process each id once, bad options and misuse are refused by name, and a server killed mid-run is
// a postgres_error that names the server and never the password.
#include <beacon/postgres/inbox.hpp>

#include "postgres_server.hpp"

#include <beacon/postgres.hpp>

#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using beacon_test::exec;
using beacon_test::pg_connection;
using beacon_test::postgres_server;

namespace {

const std::string password = "pw-Zq7-never-in-a-message";

long long scalar(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    const long long value = ok ? std::stoll(PQgetvalue(r, 0, 0)) : -1;
    INFO(sql << ": " << PQresultErrorMessage(r));
    PQclear(r);
    REQUIRE(ok);
    return value;
}

// The cluster shared by the test cases of this file (one initdb), with the role the inbox's
// connections use: a password over TCP, as a deployed worker would.
postgres_server& cluster() {
    static postgres_server server;
    static const bool role = [] {
        exec(server.admin().get(), "CREATE ROLE worker LOGIN PASSWORD '" + password + "'");
        return true;
    }();
    (void)role;
    return server;
}

// A database of the test case's own on the shared cluster, owned by `worker`.
struct database {
    std::string name;
    database() {
        static int count = 0;
        name = "inbox_" + std::to_string(++count);
        exec(cluster().admin().get(), "CREATE DATABASE " + name + " OWNER worker");
    }
    pg_connection connect() const {
        auto conn = postgres_server::connect(cluster().conninfo(name, "worker", password));
        INFO(PQerrorMessage(conn.get()));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        return conn;
    }
};

beacon::event stored(int n) {
    beacon::event e("store", {{"n", n}});
    e.stamp();
    return e;
}

// The receivers' effect: a row in `effects`, written through the inbox's connection.
std::function<void()> insert_effect(PGconn* conn, int n) {
    return [conn, n] { exec(conn, "INSERT INTO effects (n) VALUES (" + std::to_string(n) + ")"); };
}

}  // namespace

TEST_CASE("a postgres inbox runs an event's effects once and records its id with them; nil ids are not recorded",
          "[postgres][inbox][behaviour16]") {
    database db;
    auto conn = db.connect();
    exec(conn.get(), "CREATE TABLE effects (n integer)");
    beacon::postgres::inbox inbox(conn.get());
    const auto one = stored(1), two = stored(2);
    CHECK(inbox.process(one, insert_effect(conn.get(), 1)));
    CHECK_FALSE(inbox.process(one, insert_effect(conn.get(), 1)));  // delivered again: nothing runs
    CHECK(inbox.process(two, insert_effect(conn.get(), 2)));
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 2);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_inbox") == 2);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_inbox WHERE id = '" + one.id.to_string() + "'") == 1);
    CHECK(inbox.contains(one.id));
    CHECK_FALSE(inbox.contains(stored(9).id));
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);

    beacon::event anonymous = stored(3);
    anonymous.id = beacon::event_id();
    bool in_transaction = false;
    const auto effect = [&] {
        in_transaction = PQtransactionStatus(conn.get()) == PQTRANS_INTRANS;
        insert_effect(conn.get(), 3)();
    };
    CHECK(inbox.process(anonymous, effect));
    CHECK(in_transaction);  // delivered in a transaction, recorded nowhere
    CHECK(inbox.process(anonymous, effect));  // no id: nothing to tell it by
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects WHERE n = 3") == 2);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_inbox") == 2);
    CHECK_FALSE(inbox.contains(anonymous.id));

    // The record outlives the connection: a consumer restarted on the same database drops the event.
    conn.reset();
    auto again = db.connect();
    beacon::postgres::inbox restarted(again.get());  // its table is there: created once
    CHECK_FALSE(restarted.process(two, insert_effect(again.get(), 2)));
    CHECK(scalar(again.get(), "SELECT count(*) FROM effects WHERE n = 2") == 1);
}

TEST_CASE("postgres: effects that throw roll back with the record: the event is processed as new next time",
          "[postgres][inbox][failure][behaviour16]") {
    database db;
    auto conn = db.connect();
    exec(conn.get(), "CREATE TABLE effects (n integer)");
    beacon::postgres::inbox inbox(conn.get());
    const auto one = stored(1);
    CHECK_THROWS_WITH(inbox.process(one,
                                    [&] {
                                        exec(conn.get(), "INSERT INTO effects (n) VALUES (1)");
                                        throw std::runtime_error("receiver gave up");
                                    }),
                      "receiver gave up");
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);  // no transaction left open
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 0);  // the half-done effect is gone
    CHECK_FALSE(inbox.contains(one.id));
    CHECK(inbox.process(one, insert_effect(conn.get(), 1)));
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 1);
}

TEST_CASE("postgres: a commit that fails is a postgres_error and keeps nothing, the record neither",
          "[postgres][inbox][failure][behaviour16]") {
    database db;
    auto conn = db.connect();
    // Checked at COMMIT only: the effect's duplicate passes its INSERT, and the COMMIT itself fails.
    exec(conn.get(), "CREATE TABLE effects (n integer UNIQUE DEFERRABLE INITIALLY DEFERRED)");
    exec(conn.get(), "INSERT INTO effects (n) VALUES (1)");
    beacon::postgres::inbox inbox(conn.get());
    const auto e = stored(1);

    SECTION("a deferred constraint violated by the effect") {
        try {
            inbox.process(e, insert_effect(conn.get(), 1));
            FAIL("no error");
        } catch (const beacon::postgres::postgres_error& failed) {
            CHECK_THAT(failed.what(), Contains("[beacon.postgres_error] 127.0.0.1:" + std::to_string(cluster().port()) +
                                               "/" + db.name + ": COMMIT: ") &&
                                          Contains("duplicate key value violates unique constraint"));
        }
    }
    SECTION("a statement of the effects that failed, its error swallowed by the receiver") {
        // COMMIT of an aborted transaction "succeeds" as a ROLLBACK: the inbox must not call it processed.
        CHECK_THROWS_WITH(inbox.process(e,
                                        [&] {
                                            exec(conn.get(), "INSERT INTO effects (n) VALUES (2)");
                                            try {
                                                exec(conn.get(), "SELECT 1 / 0");
                                            } catch (const std::runtime_error&) {
                                            }
                                        }),
                          Contains("postgres_error") && Contains("COMMIT: a statement of the effects failed"));
    }
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 1);  // only the row from before
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_inbox") == 0);
    CHECK_FALSE(inbox.contains(e.id));
    CHECK(inbox.process(e, insert_effect(conn.get(), 3)));  // delivered again: processed as new
}

TEST_CASE("postgres: records older than the horizon are deleted; the event is then new again", "[postgres][inbox]") {
    database db;
    auto conn = db.connect();
    beacon::postgres::inbox_options options;
    options.table = "worker_inbox";
    options.horizon = std::chrono::hours(1);
    beacon::postgres::inbox inbox(conn.get(), options);
    CHECK(inbox.options().table == "worker_inbox");
    const auto old = stored(1), fresh = stored(2);
    REQUIRE(inbox.process(old, [] {}));
    REQUIRE(inbox.process(fresh, [] {}));
    exec(conn.get(), "UPDATE worker_inbox SET processed_at = processed_at - interval '2 hours' WHERE id = '" +
                         old.id.to_string() + "'");
    CHECK(inbox.expire() == 1);
    CHECK(inbox.expire() == 0);
    CHECK_FALSE(inbox.contains(old.id));
    CHECK(inbox.contains(fresh.id));
    CHECK(inbox.process(old, [] {}));  // forgotten: processed again
    CHECK(scalar(conn.get(), "SELECT count(*) FROM worker_inbox") == 2);
    // Its index on processed_at, for the expiry.
    CHECK(scalar(conn.get(), "SELECT count(*) FROM pg_indexes WHERE tablename = 'worker_inbox' AND "
                             "indexname = 'worker_inbox_processed_at'") == 1);
}

TEST_CASE("postgres: two consumers' inboxes, each with its connection, process each id once",
          "[postgres][inbox][threads][behaviour16]") {
    database db;
    {
        auto conn = db.connect();
        exec(conn.get(), "CREATE TABLE effects (n integer)");
    }
    std::vector<beacon::event> events;
    for (int n = 0; n < 300; ++n) events.push_back(stored(n));
    std::atomic<int> ran{0};
    std::atomic<int> errors{0};
    // Connections made on the main thread (Catch2's macros are not thread-safe); the inboxes are
    // constructed in the threads, at once: the table is created once, without a race.
    auto first = db.connect(), second = db.connect();
    std::vector<std::string> failures(2);
    const auto consume = [&](PGconn* conn, std::string& failure) {  // each consumer gets every event
        try {
            beacon::postgres::inbox inbox(conn);
            for (int n = 0; n < 300; ++n) {
                if (inbox.process(events[static_cast<std::size_t>(n)], insert_effect(conn, n))) ++ran;
            }
        } catch (const std::exception& e) {
            failure = e.what();
            ++errors;
        }
    };
    std::thread a(consume, first.get(), std::ref(failures[0])), b(consume, second.get(), std::ref(failures[1]));
    a.join();
    b.join();
    INFO(failures[0] << failures[1]);
    CHECK(errors == 0);
    CHECK(ran == 300);
    auto conn = db.connect();
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 300);
    CHECK(scalar(conn.get(), "SELECT count(DISTINCT n) FROM effects") == 300);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_inbox") == 300);
}

TEST_CASE("postgres: bad options and misuse are refused by name", "[postgres][inbox][config]") {
    database db;
    auto conn = db.connect();
    beacon::postgres::inbox_options options;
    options.table = "inbox; DROP TABLE effects";
    CHECK_THROWS_WITH(beacon::postgres::inbox(conn.get(), options),
                      Contains("[beacon.config_error] /table") && Contains("not a plain SQL table name"));
    options.table = std::string(64, 'a');
    CHECK_THROWS_WITH(beacon::postgres::inbox(conn.get(), options), Contains("/table"));
    options.table = "9lives";
    CHECK_THROWS_WITH(beacon::postgres::inbox(conn.get(), options), Contains("/table"));
    options.table = "beacon_inbox";
    options.horizon = std::chrono::hours(0);
    CHECK_THROWS_WITH(beacon::postgres::inbox(conn.get(), options), Contains("/horizon"));
    CHECK_THROWS_WITH(beacon::postgres::inbox(nullptr), Contains("/conn") && Contains("not null"));

    beacon::postgres::inbox inbox(conn.get());
    exec(conn.get(), "BEGIN");
    CHECK_THROWS_WITH(inbox.process(stored(1), [] {}),
                      Contains("[beacon.misuse_error]") && Contains("inside a transaction already"));
    exec(conn.get(), "ROLLBACK");
    const auto e = stored(2);
    CHECK_THROWS_WITH(inbox.process(e, [&] { exec(conn.get(), "COMMIT"); }),
                      Contains("[beacon.misuse_error]") && Contains("the effects ended the inbox's transaction"));
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
}

TEST_CASE("postgres: a server killed mid-run is a postgres_error naming the server, never the password",
          "[postgres][inbox][failure][behaviour12]") {
    postgres_server server;  // its own: this one dies
    exec(server.admin().get(), "CREATE ROLE worker LOGIN PASSWORD '" + password + "'");
    exec(server.admin().get(), "CREATE DATABASE beacon OWNER worker");
    const std::string conninfo = server.conninfo("beacon", "worker", password);
    const std::string name = "127.0.0.1:" + std::to_string(server.port()) + "/beacon";
    auto conn = postgres_server::connect(conninfo);
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    exec(conn.get(), "CREATE TABLE effects (n integer)");
    beacon::postgres::inbox inbox(conn.get());
    for (int n = 0; n < 20; ++n) REQUIRE(inbox.process(stored(n), insert_effect(conn.get(), n)));

    std::vector<std::string> messages;
    const auto refused = [&](const std::function<void()>& call) {
        try {
            call();
            FAIL("no error");
        } catch (const beacon::postgres::postgres_error& e) {
            messages.emplace_back(e.what());
        }
    };
    const auto lost = stored(100);
    bool ran = false;
    SECTION("between two events") {
        server.stop(SIGKILL);
        refused([&] { inbox.process(lost, [&] { ran = true; }); });  // libpq finds out
        CHECK_FALSE(ran);  // nothing ran outside a transaction
    }
    SECTION("while the receivers run") {
        refused([&] {
            inbox.process(lost, [&] {
                ran = true;
                insert_effect(conn.get(), 100)();
                server.stop(SIGKILL);
            });
        });
    }
    refused([&] { inbox.process(stored(101), [] {}); });  // the connection is known lost now
    refused([&] { inbox.contains(lost.id); });
    refused([&] { inbox.expire(); });
    auto fresh = postgres_server::connect(conninfo);  // a consumer starting while the server is down
    refused([&] { beacon::postgres::inbox another(fresh.get()); });
    REQUIRE(messages.size() == 5);
    for (const auto& m : messages) {
        INFO(m);
        CHECK_THAT(m, Contains("[beacon.postgres_error] " + name + ": "));
        CHECK_THAT(m, !Contains(password));
    }
    CHECK_THAT(messages[1], Contains("the connection is lost") && Contains("PQreset"));

    // The host resets the connection once the server is back: nothing of the lost event was kept.
    server.start();
    PQreset(conn.get());
    REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
    CHECK_FALSE(inbox.contains(lost.id));
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 20);
    CHECK(inbox.process(lost, insert_effect(conn.get(), 100)));
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects") == 21);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM effects WHERE n = 100") == 1);
}
