// The transactional outbox in SQLite (<beacon/sqlite/outbox.hpp>) on real database files: an
// event written in the host's transaction commits with it or not at all (a rollback, a veto in a
// unit of work, a full database), never outside a transaction; bad options are refused by name.
#include <beacon/sqlite/outbox.hpp>

#include <beacon/beacon.hpp>
#include <beacon/sqlite.hpp>
#include <beacon/unit_of_work.hpp>

#include "sqlite_test_support.hpp"

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>

using Catch::Matchers::Contains;
using sqlite_test::database_file;
using sqlite_test::exec;
using sqlite_test::open;
using sqlite_test::scalar;

namespace {

beacon::event created(const std::string& id) {
    beacon::event e("alice");
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/b/collections/c/records/" + id;
    e.stamp();
    return e;
}

}  // namespace

TEST_CASE("an event added in the host's transaction commits with it, and a rollback leaves nothing",
          "[sqlite][outbox][behaviour15]") {
    database_file file;
    auto db = open(file.path);
    exec(db.get(), "CREATE TABLE records (id TEXT)");
    beacon::sqlite::outbox outbox(db.get());

    exec(db.get(), "BEGIN");
    exec(db.get(), "INSERT INTO records VALUES ('r1')");
    outbox.add(created("r1"));
    exec(db.get(), "ROLLBACK");
    CHECK(outbox.pending() == 0);

    const auto e = created("r2");
    exec(db.get(), "BEGIN");
    exec(db.get(), "INSERT INTO records VALUES ('r2')");
    outbox.add(e);
    exec(db.get(), "COMMIT");
    CHECK(outbox.pending() == 1);
    CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_outbox WHERE id = '" + e.id.to_string() + "'") == 1);
    // The row is the event in beacon's envelope: it decodes to the same event.
    CHECK(beacon::wire_format::envelope().decode(sqlite_test::text(db.get(), "SELECT payload FROM beacon_outbox")) == e);

    // Outside a transaction the event would commit alone: refused, nothing written.
    CHECK_THROWS_WITH(outbox.add(created("r3")), Contains("[beacon.misuse_error]") && Contains("no transaction is open"));
    CHECK(outbox.pending() == 1);
}

TEST_CASE("a unit of work's events go to the outbox inside the storage transaction; a veto leaves none",
          "[sqlite][outbox][unit_of_work][behaviour15]") {
    database_file file;
    auto db = open(file.path);
    beacon::sqlite::outbox outbox(db.get());
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    reg.core().signal("resource_changed").connect(outbox.receiver());

    const auto request = [&](const std::string& id) {
        exec(db.get(), "BEGIN");
        try {
            beacon::unit_of_work uow(notifier);
            notifier.notify(created(id));
            uow.commit([&] { exec(db.get(), "COMMIT"); });
        } catch (...) {
            exec(db.get(), "ROLLBACK");
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
}

TEST_CASE("a full database fails the add, and the host's transaction rolls back whole", "[sqlite][outbox][failure][behaviour15]") {
    database_file file;
    auto db = open(file.path);
    exec(db.get(), "CREATE TABLE records (id TEXT, body BLOB)");
    beacon::sqlite::outbox outbox(db.get());
    exec(db.get(), "PRAGMA max_page_count = " + std::to_string(scalar(db.get(), "PRAGMA page_count")));
    exec(db.get(), "BEGIN");
    bool refused = false;
    for (int n = 0; n < 2000 && !refused; ++n) {
        try {
            outbox.add(created("r" + std::to_string(n)));
        } catch (const beacon::sqlite::sqlite_error& full) {
            CHECK_THAT(full.what(), Contains(file.path) && Contains("full"));
            refused = true;
        }
    }
    REQUIRE(refused);
    // SQLite rolls a transaction back by itself on a full database; the host's ROLLBACK, when it
    // still has one open, undoes the rest.
    if (sqlite3_get_autocommit(db.get()) == 0) exec(db.get(), "ROLLBACK");
    CHECK(outbox.pending() == 0);
}

TEST_CASE("bad outbox options are refused by name", "[sqlite][outbox][config]") {
    database_file file;
    auto db = open(file.path);
    beacon::sqlite::outbox_options options;
    options.table = "1outbox";
    CHECK_THROWS_WITH(beacon::sqlite::outbox(db.get(), options), Contains("[beacon.config_error] /table"));
    CHECK_THROWS_WITH(beacon::sqlite::outbox(nullptr), Contains("/db"));
}
