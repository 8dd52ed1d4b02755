// The inbox in SQLite (<beacon/sqlite/inbox.hpp>) on real database files: effects and the record
// commit together or not at all (an effect that throws, a full database, a locked one, a read-only
// one), a record survives the connection, records expire after the horizon, two connections on one
// file process each id once, and bad options and misuse are refused by name.
#include <beacon/sqlite/inbox.hpp>

#include <beacon/sqlite.hpp>

#include "sqlite_test_support.hpp"

#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;

using sqlite_test::database_file;
using sqlite_test::exec;
using sqlite_test::open;
using sqlite_test::scalar;

namespace {

beacon::event numbered(int n) {
    beacon::event e("store", {{"n", n}});
    e.stamp();
    return e;
}

// The receivers' effect: a row in `effects`, written through the inbox's connection.
std::function<void()> insert_effect(sqlite3* db, int n) {
    return [db, n] { exec(db, "INSERT INTO effects (n) VALUES (" + std::to_string(n) + ")"); };
}

}  // namespace

TEST_CASE("an inbox runs an event's effects once and records its id with them; nil ids are not recorded",
          "[sqlite][inbox][behaviour16]") {
    database_file file;
    auto db = open(file.path);
    exec(db.get(), "CREATE TABLE effects (n INTEGER)");
    const auto one = numbered(1), two = numbered(2);
    {
        beacon::sqlite::inbox inbox(db.get());
        CHECK(inbox.process(one, insert_effect(db.get(), 1)));
        CHECK_FALSE(inbox.process(one, insert_effect(db.get(), 1)));  // delivered again: nothing runs
        CHECK(inbox.process(two, insert_effect(db.get(), 2)));
        CHECK(scalar(db.get(), "SELECT count(*) FROM effects") == 2);
        CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_inbox") == 2);
        CHECK(inbox.contains(one.id));

        beacon::event anonymous = numbered(3);
        anonymous.id = beacon::event_id();
        CHECK(inbox.process(anonymous, insert_effect(db.get(), 3)));
        CHECK(inbox.process(anonymous, insert_effect(db.get(), 3)));  // no id: nothing to tell it by
        CHECK(scalar(db.get(), "SELECT count(*) FROM effects WHERE n = 3") == 2);
        CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_inbox") == 2);
    }  // the inbox goes before its connection

    // The record outlives the connection: a consumer restarted on the same file drops the event.
    REQUIRE(sqlite3_close(db.release()) == SQLITE_OK);
    auto again = open(file.path);
    beacon::sqlite::inbox restarted(again.get());
    CHECK_FALSE(restarted.process(two, insert_effect(again.get(), 2)));
    CHECK(scalar(again.get(), "SELECT count(*) FROM effects WHERE n = 2") == 1);
}

TEST_CASE("effects that throw roll back with the record: the event is processed as new next time",
          "[sqlite][inbox][failure][behaviour16]") {
    database_file file;
    auto db = open(file.path);
    exec(db.get(), "CREATE TABLE effects (n INTEGER)");
    beacon::sqlite::inbox inbox(db.get());
    const auto one = numbered(1);
    CHECK_THROWS_WITH(inbox.process(one,
                                    [&] {
                                        exec(db.get(), "INSERT INTO effects (n) VALUES (1)");
                                        throw std::runtime_error("receiver gave up");
                                    }),
                      "receiver gave up");
    CHECK(scalar(db.get(), "SELECT count(*) FROM effects") == 0);  // the half-done effect is gone
    CHECK_FALSE(inbox.contains(one.id));
    CHECK(sqlite3_get_autocommit(db.get()) != 0);  // no transaction left open
    CHECK(inbox.process(one, insert_effect(db.get(), 1)));
    CHECK(scalar(db.get(), "SELECT count(*) FROM effects") == 1);
}

TEST_CASE("a full, locked or read-only database fails the commit with sqlite_error and keeps nothing of it",
          "[sqlite][inbox][failure][behaviour16]") {
    database_file file;
    auto db = open(file.path);
    exec(db.get(), "CREATE TABLE effects (n INTEGER, padding BLOB)");
    beacon::sqlite::inbox_options options;
    options.busy_timeout = 100ms;
    beacon::sqlite::inbox inbox(db.get(), options);
    REQUIRE(inbox.process(numbered(1), insert_effect(db.get(), 1)));

    SECTION("full: the database may not grow, and the record is what no longer fits") {
        exec(db.get(), "PRAGMA max_page_count = " + std::to_string(scalar(db.get(), "PRAGMA page_count")));
        int recorded = 1;
        beacon::event refused;
        for (int n = 2; n < 2000; ++n) {
            const auto e = numbered(n);
            try {
                inbox.process(e, [] {});
                ++recorded;
            } catch (const beacon::sqlite::sqlite_error& full) {
                CHECK_THAT(full.what(), Contains(file.path) && Contains("full"));
                refused = e;
                break;
            }
        }
        REQUIRE_FALSE(refused.id.is_nil());
        CHECK(sqlite3_get_autocommit(db.get()) != 0);
        CHECK(scalar(db.get(), "SELECT count(*) FROM beacon_inbox") == recorded);
        CHECK_FALSE(inbox.contains(refused.id));
    }
    SECTION("locked: another connection holds the write lock past the busy timeout") {
        auto other = open(file.path);
        exec(other.get(), "BEGIN IMMEDIATE");
        bool ran = false;
        try {
            inbox.process(numbered(2), [&] { ran = true; });
            FAIL("no error");
        } catch (const beacon::sqlite::sqlite_error& e) {
            CHECK_THAT(e.what(), Contains(file.path) && Contains("BEGIN IMMEDIATE") && Contains("locked"));
        }
        CHECK_FALSE(ran);  // nothing ran outside the transaction
        exec(other.get(), "ROLLBACK");
        CHECK(inbox.process(numbered(3), insert_effect(db.get(), 3)));  // and it goes on once free
    }
    SECTION("read-only: the file cannot be written") {
        auto reader = open(file.path, SQLITE_OPEN_READONLY);
        beacon::sqlite::inbox read_only(reader.get(), options);
        const auto two = numbered(2);
        CHECK_THROWS_AS(read_only.process(two, [] {}), beacon::sqlite::sqlite_error);
        CHECK(sqlite3_get_autocommit(reader.get()) != 0);
        CHECK_FALSE(inbox.contains(two.id));
    }
}

TEST_CASE("records older than the horizon are deleted; the event is then new again", "[sqlite][inbox]") {
    database_file file;
    auto db = open(file.path);
    beacon::sqlite::inbox_options options;
    options.table = "worker_inbox";
    options.horizon = std::chrono::hours(1);
    beacon::sqlite::inbox inbox(db.get(), options);
    const auto old = numbered(1), fresh = numbered(2);
    REQUIRE(inbox.process(old, [] {}));
    REQUIRE(inbox.process(fresh, [] {}));
    exec(db.get(), "UPDATE worker_inbox SET processed_at = processed_at - 2 * 3600 * 1000 WHERE id = '" +
                       old.id.to_string() + "'");
    CHECK(inbox.expire() == 1);
    CHECK_FALSE(inbox.contains(old.id));
    CHECK(inbox.contains(fresh.id));
    CHECK(inbox.process(old, [] {}));  // forgotten: processed again
}

TEST_CASE("two consumers' inboxes on one file process each id once", "[sqlite][inbox][threads][behaviour16]") {
    database_file file;
    {
        auto db = open(file.path);
        exec(db.get(), "PRAGMA journal_mode = WAL");
        exec(db.get(), "CREATE TABLE effects (n INTEGER)");
    }
    std::vector<beacon::event> events;
    for (int n = 0; n < 300; ++n) events.push_back(numbered(n));
    std::atomic<int> ran{0};
    std::vector<std::string> failures(2);  // what a thread threw: Catch2's macros are not thread-safe
    const auto consume = [&](std::string& failure) {  // each consumer gets every event (a redelivery)
        try {
            auto db = open(file.path);
            beacon::sqlite::inbox inbox(db.get());
            for (int n = 0; n < 300; ++n) {
                if (inbox.process(events[static_cast<std::size_t>(n)], insert_effect(db.get(), n))) ++ran;
            }
        } catch (const std::exception& e) {
            failure = e.what();
        }
    };
    std::thread a(consume, std::ref(failures[0])), b(consume, std::ref(failures[1]));
    a.join();
    b.join();
    CHECK(failures == std::vector<std::string>(2));
    auto db = open(file.path);
    CHECK(ran == 300);
    CHECK(scalar(db.get(), "SELECT count(*) FROM effects") == 300);
    CHECK(scalar(db.get(), "SELECT count(DISTINCT n) FROM effects") == 300);
}

TEST_CASE("bad options and misuse are refused by name", "[sqlite][inbox][config]") {
    database_file file;
    auto db = open(file.path);
    beacon::sqlite::inbox_options options;
    options.table = "inbox; DROP TABLE effects";
    CHECK_THROWS_WITH(beacon::sqlite::inbox(db.get(), options),
                      Contains("[beacon.config_error] /table") && Contains("not a plain SQL table name"));
    options.table = "beacon_inbox";
    options.horizon = std::chrono::hours(0);
    CHECK_THROWS_WITH(beacon::sqlite::inbox(db.get(), options), Contains("/horizon"));
    CHECK_THROWS_WITH(beacon::sqlite::inbox(nullptr), Contains("/db") && Contains("not null"));

    beacon::sqlite::inbox inbox(db.get());
    exec(db.get(), "BEGIN");
    CHECK_THROWS_AS(inbox.process(numbered(1), [] {}), beacon::misuse_error);
    exec(db.get(), "ROLLBACK");
}
