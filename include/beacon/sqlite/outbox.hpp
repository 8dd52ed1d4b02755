#pragma once
/// \file
/// The transactional outbox in the host's SQLite database: the events of a unit of work written
/// in the host's own storage transaction, so that they commit with the change they describe (or
/// not at all), for a relay (<beacon/sqlite/relay.hpp>) to publish afterwards.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/sqlite/detail/outbox_table.hpp>
#include <beacon/sqlite/detail/statement.hpp>
#include <beacon/outbox.hpp>
#include <beacon/sqlite/error.hpp>
#include <beacon/sqlite/relay.hpp>
#include <beacon/wire_format.hpp>

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace beacon::sqlite {

/// Where an outbox keeps its rows.
struct outbox_options {
    /// The table of rows (seq INTEGER PRIMARY KEY AUTOINCREMENT: the commit order; id, the event's
    /// id; created_at, ms since the epoch; payload, the event in beacon's envelope), created when
    /// missing; a plain SQL name of at most 63 letters, digits and underscores. The relay sets
    /// rows it cannot read aside in "<table>_dead".
    std::string table = "beacon_outbox";
};

/// The outbox (Debezium's "outbox pattern"): `add` writes an event as a row of the outbox table
/// through the host's connection, inside the transaction the host has open, so that the event
/// commits with the host's own writes, and a rollback leaves nothing. A relay publishes the rows
/// in commit order afterwards and deletes them (sqlite::relay).
///
/// With a unit of work: connect `receiver()` to `core.resource_changed` (sent before the storage
/// commit), begin the storage transaction before `unit_of_work::commit`, and commit it in the
/// function given to `commit`: the events are written inside the transaction. The connection must
/// outlive the outbox and is used from the thread that writes.
class outbox : public beacon::outbox {
public:
    /// An outbox over `db` (which the host keeps open); creates its table when missing. Throws
    /// config_error for a null `db` or a bad table name, sqlite_error when the table cannot be created.
    explicit outbox(sqlite3* db, outbox_options options = {})
        : db_(detail::checked_table(db, options.table)),
          options_(std::move(options)),
          insert_(detail::create_outbox_tables(db_, options_.table),
                  "INSERT INTO " + options_.table + " (id, created_at, payload) VALUES (?1, ?2, ?3)") {}

    /// Writes `e` as a row, in the transaction open on the connection; throws misuse_error when
    /// none is open (the event would commit alone, whatever the host's writes become),
    /// encode_error when the event cannot be encoded, sqlite_error when the row cannot be written
    /// (full, locked, read-only: the host's transaction should then roll back; on a full database
    /// SQLite has rolled it back already, as `sqlite3_get_autocommit` tells).
    void add(const event& e) override {
        if (sqlite3_get_autocommit(db_) != 0) {
            throw misuse_error(detail::database_name(db_) + ": sqlite::outbox::add: no transaction is open on the "
                                                            "connection (begin the host's transaction first: the "
                                                            "event must commit with the change it describes)");
        }
        const std::string payload = wire_format::envelope().encode(e);
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::system_clock::now().time_since_epoch());
        insert_.once([&] {
            insert_.bind(1, e.id.is_nil() ? std::string() : e.id.to_string());
            insert_.bind(2, static_cast<std::int64_t>(now.count()));
            insert_.bind(3, payload);
        });
    }

    /// A receiver writing each event it gets with `add` (connect it to the signal sent inside the
    /// host's transaction, `core.resource_changed` for a unit of work); the outbox must outlive
    /// its connection. Its exceptions reach the sender: a unit of work then fails, and the host
    /// rolls back.
    std::function<void(const event&)> receiver() {
        return [this](const event& e) { add(e); };
    }

    /// A relay of this outbox's table in the connection's database file (relay_options' defaults
    /// otherwise), not started, publishing to `publish`. Throws misuse_error for a database with
    /// no file (in memory, temporary: a relay needs a connection of its own), and what the
    /// relay's constructor throws.
    std::unique_ptr<beacon::relay> make_relay(relay_publisher publish, failure_handler on_failure = {}) override {
        const char* file = sqlite3_db_filename(db_, "main");
        if (file == nullptr || *file == '\0') {
            throw misuse_error("sqlite::outbox::make_relay: the database has no file (in memory or temporary), which a "
                               "relay's own connection could open");
        }
        relay_options options;
        options.table = options_.table;
        return std::make_unique<relay>(file, std::move(publish), std::move(options), std::move(on_failure));
    }

    /// How many rows wait to be published (committed, not yet deleted by a relay).
    std::int64_t pending() {
        detail::statement count(db_, "SELECT count(*) FROM " + options_.table);
        return count.step() ? count.integer(0) : 0;
    }

    /// The options in force.
    const outbox_options& options() const noexcept { return options_; }

private:
    sqlite3* db_;
    outbox_options options_;
    detail::statement insert_;
};

}  // namespace beacon::sqlite
