// The transactional outbox in PostgreSQL (<beacon/postgres/outbox.hpp>) against a real server, a
// cluster of the test's own (tests/postgres_server.hpp): an event written in the host's
// transaction commits with it or not at all (a rollback, a veto in a unit of work), never outside
// a transaction; bad options are refused by name.
#include <beacon/postgres/outbox.hpp>

#include "postgres_server.hpp"

#include <beacon/beacon.hpp>
#include <beacon/postgres.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <libpq-fe.h>

#include <stdexcept>
#include <string>

using Catch::Matchers::Contains;
using beacon_test::exec;
using beacon_test::pg_connection;
using beacon_test::postgres_server;

namespace {

const std::string password = "pw-Ox4-never-in-a-message";

std::string text(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    const std::string value = ok ? PQgetvalue(r, 0, 0) : "";
    INFO(sql << ": " << PQresultErrorMessage(r));
    PQclear(r);
    REQUIRE(ok);
    return value;
}

long long scalar(PGconn* conn, const std::string& sql) { return std::stoll(text(conn, sql)); }

postgres_server& cluster() {
    static postgres_server server;
    static const bool role = [] {
        exec(server.admin().get(), "CREATE ROLE host LOGIN PASSWORD '" + password + "'");
        return true;
    }();
    (void)role;
    return server;
}

// A database of the test case's own on the shared cluster, owned by `host`.
struct database {
    std::string name;
    database() {
        static int count = 0;
        name = "outbox_" + std::to_string(++count);
        exec(cluster().admin().get(), "CREATE DATABASE " + name + " OWNER host");
    }
    pg_connection connect() const {
        auto conn = postgres_server::connect(cluster().conninfo(name, "host", password));
        INFO(PQerrorMessage(conn.get()));
        REQUIRE(PQstatus(conn.get()) == CONNECTION_OK);
        return conn;
    }
};

beacon::event created(const std::string& id) {
    beacon::event e("alice");
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/b/collections/c/records/" + id;
    e.stamp();
    return e;
}

}  // namespace

TEST_CASE("postgres: an event added in the host's transaction commits with it, and a rollback leaves nothing",
          "[postgres][outbox][behaviour15]") {
    database db;
    auto conn = db.connect();
    exec(conn.get(), "CREATE TABLE records (id text)");
    beacon::postgres::outbox outbox(conn.get());

    exec(conn.get(), "BEGIN");
    exec(conn.get(), "INSERT INTO records VALUES ('r1')");
    outbox.add(created("r1"));
    exec(conn.get(), "ROLLBACK");
    CHECK(outbox.pending() == 0);

    const auto e = created("r2");
    exec(conn.get(), "BEGIN");
    exec(conn.get(), "INSERT INTO records VALUES ('r2')");
    outbox.add(e);
    exec(conn.get(), "COMMIT");
    CHECK(outbox.pending() == 1);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_outbox WHERE id = '" + e.id.to_string() + "'") == 1);
    // The row is the event in beacon's envelope: it decodes to the same event.
    CHECK(beacon::wire_format::envelope().decode(text(conn.get(), "SELECT payload FROM beacon_outbox")) == e);

    // An event without an id: its row's id is null.
    auto anonymous = created("r3");
    anonymous.id = beacon::event_id();
    exec(conn.get(), "BEGIN");
    outbox.add(anonymous);
    exec(conn.get(), "COMMIT");
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_outbox WHERE id IS NULL") == 1);

    // Outside a transaction the event would commit alone: refused, nothing written.
    CHECK_THROWS_WITH(outbox.add(created("r4")), Contains("[beacon.misuse_error] 127.0.0.1:" +
                                                          std::to_string(cluster().port()) + "/" + db.name) &&
                                                     Contains("no transaction is open"));
    // In a transaction a statement aborted: refused too, the host must roll back.
    exec(conn.get(), "BEGIN");
    CHECK_THROWS(exec(conn.get(), "SELECT 1 / 0"));
    CHECK_THROWS_WITH(outbox.add(created("r5")), Contains("[beacon.misuse_error]") && Contains("aborted"));
    exec(conn.get(), "ROLLBACK");
    CHECK(outbox.pending() == 2);
    // The dead-letter table is there for the relay.
    CHECK(scalar(conn.get(), "SELECT count(*) FROM beacon_outbox_dead") == 0);
}

TEST_CASE("postgres: a unit of work's events go to the outbox inside the storage transaction; a veto leaves none",
          "[postgres][outbox][unit_of_work][behaviour15]") {
    database db;
    auto conn = db.connect();
    exec(conn.get(), "CREATE TABLE records (id text)");
    beacon::postgres::outbox outbox(conn.get());
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    reg.core().signal("resource_changed").connect(outbox.receiver());

    const auto request = [&](const std::string& id) {
        exec(conn.get(), "BEGIN");
        try {
            beacon::unit_of_work uow(notifier);
            exec(conn.get(), "INSERT INTO records VALUES ('" + id + "')");
            notifier.notify(created(id));
            uow.commit([&] { exec(conn.get(), "COMMIT"); });
        } catch (...) {
            exec(conn.get(), "ROLLBACK");
            throw;
        }
    };
    request("r1");
    request("r2");
    CHECK(outbox.pending() == 2);

    auto veto = reg.core().signal("resource_changed").connect([](const beacon::event& e) {
        if (e.uri.find("/locked") != std::string::npos) throw std::runtime_error("locked");
    });
    CHECK_THROWS_WITH(request("locked"), "locked");
    CHECK(outbox.pending() == 2);
    CHECK(scalar(conn.get(), "SELECT count(*) FROM records") == 2);
}

TEST_CASE("postgres: bad outbox options are refused by name, a closed connection names the server",
          "[postgres][outbox][config]") {
    database db;
    auto conn = db.connect();
    beacon::postgres::outbox_options options;
    options.table = "1outbox";
    CHECK_THROWS_WITH(beacon::postgres::outbox(conn.get(), options), Contains("[beacon.config_error] /table"));
    options.table = "outbox; DROP TABLE x";
    CHECK_THROWS_WITH(beacon::postgres::outbox(conn.get(), options), Contains("/table"));
    CHECK_THROWS_WITH(beacon::postgres::outbox(nullptr), Contains("/conn") && Contains("not null"));
    options.table = "host_outbox";
    beacon::postgres::outbox named(conn.get(), options);
    CHECK(named.options().table == "host_outbox");
    CHECK(scalar(conn.get(), "SELECT count(*) FROM pg_tables WHERE tablename IN ('host_outbox', 'host_outbox_dead')") == 2);

    // A server nobody listens on: the connection is not open; the message names it, not the password.
    const int port = beacon_test::free_port();
    auto nowhere = postgres_server::connect("host=127.0.0.1 port=" + std::to_string(port) +
                                            " dbname=gone user=host password=" + password + " connect_timeout=2");
    try {
        beacon::postgres::outbox refused(nowhere.get());
        FAIL("no error");
    } catch (const beacon::postgres::postgres_error& e) {
        CHECK_THAT(e.what(), Contains("127.0.0.1:" + std::to_string(port) + "/gone") && !Contains(password));
    }
}
