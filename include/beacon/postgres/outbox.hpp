#pragma once
/// \file
/// The transactional outbox in the host's PostgreSQL database: the events of a unit of work
/// written in the host's own storage transaction, so that they commit with the change they
/// describe (or not at all), for a relay (<beacon/postgres/relay.hpp>) to publish afterwards.

#include <beacon/detail/sql_name.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/postgres/detail/connection.hpp>
#include <beacon/postgres/detail/outbox_table.hpp>
#include <beacon/outbox.hpp>
#include <beacon/postgres/error.hpp>
#include <beacon/postgres/relay.hpp>
#include <beacon/wire_format.hpp>

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace beacon::postgres {

/// Where an outbox keeps its rows.
struct outbox_options {
    /// The table of rows (seq bigserial PRIMARY KEY: the order the rows were written; id uuid, the
    /// event's, null for an event without one; created_at timestamptz; payload text, the event in
    /// beacon's envelope), created when missing in the connection's first schema on its
    /// search_path; a plain SQL name of at most 63 letters, digits and underscores. The relay sets
    /// rows it cannot publish aside in "<table>_dead".
    std::string table = "beacon_outbox";
};

/// The outbox (Debezium's "outbox pattern") in PostgreSQL: `add` writes an event as a row of the
/// outbox table through the host's connection, inside the transaction the host has open, so that
/// the event commits with the host's own writes, and a rollback leaves nothing. A relay publishes
/// the rows afterwards, oldest seq first, and deletes them (postgres::relay).
///
/// Order: rows are numbered by a sequence when they are written. With one writer that is commit
/// order; with several connections writing at once, a transaction that took seq 5 may commit after
/// one that took seq 6, and the relay may then publish 6 before 5. It never skips 5: it keeps no
/// "last published" cursor, it reads the oldest rows still there each time, so a row that commits
/// late is published late.
///
/// With a unit of work: connect `receiver()` to `core.resource_changed` (sent before the storage
/// commit), begin the storage transaction before `unit_of_work::commit`, and commit it in the
/// function given to `commit`. The connection must outlive the outbox and is used from the thread
/// that writes (libpq connections are not thread-safe).
class outbox : public beacon::outbox {
public:
    /// An outbox over `conn` (which the host keeps open); creates its tables when missing. Throws
    /// config_error for a null `conn` or a bad table name, postgres_error when the connection is
    /// not open or the tables cannot be created.
    explicit outbox(PGconn* conn, outbox_options options = {})
        : conn_(checked(conn, options)),
          options_(std::move(options)),
          insert_("INSERT INTO " + options_.table + " (id, payload) VALUES (NULLIF($1, '')::uuid, $2)"),
          count_("SELECT count(*) FROM " + options_.table) {
        detail::create_outbox_tables(conn_, options_.table);
    }

    /// Writes `e` as a row, in the transaction open on the connection; throws misuse_error when
    /// none is open (the event would commit alone, whatever the host's writes become), or when
    /// the transaction is aborted already; encode_error when the event cannot be encoded;
    /// postgres_error when the row cannot be written (the host's transaction is then aborted, and
    /// its COMMIT would roll back: the host should roll back).
    void add(const event& e) override {
        switch (PQtransactionStatus(conn_)) {
            case PQTRANS_INTRANS: break;
            case PQTRANS_INERROR:
                throw misuse_error(detail::server_name(conn_) +
                                   ": postgres::outbox::add: the host's transaction is aborted already (a statement "
                                   "failed): roll it back");
            case PQTRANS_UNKNOWN: throw detail::error_of(conn_, "postgres::outbox::add");
            case PQTRANS_IDLE:
            case PQTRANS_ACTIVE:
            default:
                throw misuse_error(detail::server_name(conn_) +
                                   ": postgres::outbox::add: no transaction is open on the connection (begin the "
                                   "host's transaction first: the event must commit with the change it describes)");
        }
        const std::string payload = wire_format::envelope().encode(e);
        detail::execute(conn_, insert_, {e.id.is_nil() ? std::string() : e.id.to_string(), payload});
    }

    /// A receiver writing each event it gets with `add` (connect it to the signal sent inside the
    /// host's transaction, `core.resource_changed` for a unit of work); the outbox must outlive
    /// its connection. Its exceptions reach the sender: a unit of work then fails, and the host
    /// rolls back.
    std::function<void(const event&)> receiver() {
        return [this](const event& e) { add(e); };
    }

    /// A relay of this outbox's table on the server and database of the host's connection, as the
    /// same role (libpq's PQconninfo: the password too, never shown), relay_options' defaults
    /// otherwise; not started, publishing to `publish`. Throws what the relay's constructor throws.
    std::unique_ptr<beacon::relay> make_relay(relay_publisher publish, failure_handler on_failure = {}) override {
        relay_options options;
        options.table = options_.table;
        return std::make_unique<relay>(detail::conninfo_of(conn_), std::move(publish), std::move(options),
                                       std::move(on_failure));
    }

    /// How many rows wait to be published (committed, or written in the connection's open
    /// transaction, and not yet deleted by a relay). Throws postgres_error.
    std::int64_t pending() {
        const auto r = detail::execute(conn_, count_);
        return PQntuples(r.get()) == 1 ? std::stoll(PQgetvalue(r.get(), 0, 0)) : 0;
    }

    /// The options in force.
    const outbox_options& options() const noexcept { return options_; }

private:
    static PGconn* checked(PGconn* conn, const outbox_options& options) {
        if (conn == nullptr) throw config_error("", "/conn", "postgres::outbox needs a connection (PGconn*), not null");
        beacon::detail::check_sql_name(options.table);
        if (PQstatus(conn) != CONNECTION_OK) throw detail::error_of(conn, "postgres::outbox");
        return conn;
    }

    PGconn* conn_;
    outbox_options options_;
    std::string insert_;
    std::string count_;
};

}  // namespace beacon::postgres
