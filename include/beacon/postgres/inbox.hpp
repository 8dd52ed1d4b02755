#pragma once
/// \file
/// The inbox in the host's PostgreSQL database: the ids of the events a consumer processed,
/// recorded in the same transaction as what its receivers wrote, so that a redelivered event has
/// no effect twice.

#include <beacon/detail/sql_name.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/inbox.hpp>
#include <beacon/postgres/detail/connection.hpp>
#include <beacon/postgres/error.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace beacon::postgres {

/// Where an inbox keeps its records and for how long.
struct inbox_options {
    /// The table of records (id uuid PRIMARY KEY, processed_at timestamptz, with an index on
    /// processed_at), created when missing in the connection's first schema on its search_path; a
    /// plain SQL name of at most 63 letters, digits and underscores.
    std::string table = "beacon_inbox";
    /// How long a record is kept: an event delivered again later than this after it was processed
    /// has its effects again. Make it longer than any redelivery can take (a producer's replay, a
    /// stream entry's claim); records older are deleted at most once a minute, in `process`.
    std::chrono::hours horizon{24 * 7};
};

/// An inbox (beacon::inbox) in a PostgreSQL database the host connected to: `process` runs the
/// event's receivers inside `BEGIN ... COMMIT` on that connection, and records the event's id in
/// the same transaction. Receivers that write through the same connection commit with the record
/// or not at all: a consumer killed at any moment leaves either both (the redelivery is dropped)
/// or neither (the redelivery has its effects once). Consumers in several processes or threads,
/// each with its own connection, may share one table: an id's record is locked by the first
/// transaction that inserts it, so two consumers never both run the effects of one event.
///
/// The connection is the consumer's while it runs: receivers use it from the consumer's thread,
/// the host nowhere else meanwhile (libpq connections are not thread-safe). It must outlive the
/// inbox, and be in no transaction when an event comes (`process` throws misuse_error otherwise).
/// The inbox never reconnects: a lost connection is a postgres_error each time until the host
/// resets it (PQreset; a Redis consumer's `on_failure` handler runs on the consumer's thread,
/// before its backoff, so it may do it there).
class inbox final : public beacon::inbox {
public:
    /// An inbox over `conn` (which the host keeps open, and closes after the inbox is gone);
    /// creates its table when missing. Throws config_error for a null `conn`, a bad table name or
    /// horizon, postgres_error when the connection is not open or the table cannot be created.
    explicit inbox(PGconn* conn, inbox_options options = {})
        : conn_(checked(conn, options)),
          options_(std::move(options)),
          record_("INSERT INTO " + options_.table + " (id) VALUES ($1) ON CONFLICT (id) DO NOTHING"),
          lookup_("SELECT 1 FROM " + options_.table + " WHERE id = $1"),
          expire_("DELETE FROM " + options_.table + " WHERE processed_at < now() - $1::interval"),
          horizon_(std::to_string(std::chrono::duration_cast<std::chrono::seconds>(options_.horizon).count()) +
                   " seconds") {
        connected("postgres::inbox");
        // One implicit transaction (a multi-statement PQexec): the advisory lock keeps two
        // consumers starting together from racing on CREATE TABLE IF NOT EXISTS (which PostgreSQL
        // lets fail with a duplicate pg_type row), and the "already exists" notices stay unsaid.
        detail::execute(conn_, "SET LOCAL client_min_messages = warning; "
                               "SELECT pg_advisory_xact_lock(hashtext('beacon.inbox." + options_.table + "')); "
                               "CREATE TABLE IF NOT EXISTS " + options_.table +
                               " (id uuid PRIMARY KEY, processed_at timestamptz NOT NULL DEFAULT now()); "
                               "CREATE INDEX IF NOT EXISTS " + options_.table + "_processed_at ON " +
                               options_.table + " (processed_at)");
    }

    /// See beacon::inbox::process. Throws postgres_error (nothing recorded, nothing the receivers
    /// wrote kept) when the connection is lost, a statement fails, or the commit fails (a deferred
    /// constraint, a serialization failure); misuse_error when the connection is inside a
    /// transaction already, or the effects ended the inbox's transaction.
    bool process(const event& e, const std::function<void()>& effects) override {
        connected("postgres::inbox::process");
        if (PQtransactionStatus(conn_) != PQTRANS_IDLE) {
            throw misuse_error(detail::server_name(conn_) +
                               ": postgres::inbox::process: the connection is inside a transaction already "
                               "(the inbox's connection is the consumer's while it runs)");
        }
        // Expiry runs before the transaction, as a statement of its own: its row locks are let go
        // at once instead of being held through the receivers' effects.
        const auto now = std::chrono::steady_clock::now();
        if (now >= next_expiry_) {
            expire();
            next_expiry_ = now + std::chrono::minutes(1);
        }
        detail::execute(conn_, "BEGIN");
        try {
            if (!e.id.is_nil()) {
                // The insert comes first, not a SELECT then an INSERT (SQLite's order, safe there
                // because BEGIN IMMEDIATE holds the database's one write lock): in PostgreSQL two
                // consumers could both SELECT nothing and both run the effects. The insert locks
                // the id's key at once; a second consumer inserting the same id waits for the first
                // transaction, then finds the conflict (committed: 0 rows, a duplicate) or inserts
                // it itself (rolled back: it runs the effects). A primary-key probe either way.
                if (detail::rows_affected(detail::execute(conn_, record_, {e.id.to_string()})) == 0) {
                    detail::execute(conn_, "ROLLBACK");
                    return false;
                }
            }
            effects();
            commit();
            return true;
        } catch (...) {
            const auto status = PQtransactionStatus(conn_);
            if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) detail::own(PQexec(conn_, "ROLLBACK"));
            throw;
        }
    }

    /// Whether an event with `id` was processed (and its record has not expired). Throws postgres_error.
    bool contains(const event_id& id) {
        if (id.is_nil()) return false;
        connected("postgres::inbox::contains");
        return PQntuples(detail::execute(conn_, lookup_, {id.to_string()}).get()) > 0;
    }

    /// Deletes the records older than the horizon now (`process` does it at most once a minute);
    /// returns how many went. Throws postgres_error.
    std::int64_t expire() {
        connected("postgres::inbox::expire");
        return detail::rows_affected(detail::execute(conn_, expire_, {horizon_}));
    }

    /// The options in force.
    const inbox_options& options() const noexcept { return options_; }

private:
    static PGconn* checked(PGconn* conn, const inbox_options& options) {
        if (conn == nullptr) throw config_error("", "/conn", "postgres::inbox needs a connection (PGconn*), not null");
        beacon::detail::check_sql_name(options.table);
        if (options.horizon.count() <= 0) throw config_error("", "/horizon", "the inbox's horizon must be positive");
        return conn;
    }

    // Throws postgres_error when the connection is not open (never made, or lost and not reset).
    void connected(const char* what) const {
        if (PQstatus(conn_) != CONNECTION_OK) throw detail::error_of(conn_, what);
    }

    // Commits the transaction the effects ran in, or throws with nothing kept.
    void commit() {
        switch (PQtransactionStatus(conn_)) {
            case PQTRANS_INTRANS: break;
            case PQTRANS_INERROR:  // a receiver's statement failed and the receiver went on
                throw postgres_error(detail::server_name(conn_) +
                                     ": COMMIT: a statement of the effects failed, so the transaction was aborted; "
                                     "rolled back, nothing kept");
            case PQTRANS_IDLE:
                throw misuse_error(detail::server_name(conn_) +
                                   ": postgres::inbox::process: the effects ended the inbox's transaction "
                                   "(COMMIT or ROLLBACK on the inbox's connection)");
            case PQTRANS_ACTIVE:
                throw misuse_error(detail::server_name(conn_) +
                                   ": postgres::inbox::process: the effects left a query running on the connection");
            case PQTRANS_UNKNOWN:
            default: throw detail::error_of(conn_, "COMMIT");
        }
        // A COMMIT that fails (a deferred constraint, a serialization failure, the server gone) has
        // rolled everything back: the record with the effects.
        const auto r = detail::execute(conn_, "COMMIT");
        if (std::string(PQcmdStatus(r.get())) != "COMMIT") {
            throw postgres_error(detail::server_name(conn_) + ": COMMIT: the server rolled back (" +
                                 PQcmdStatus(r.get()) + "); nothing kept");
        }
    }

    PGconn* conn_;
    inbox_options options_;
    std::string record_;
    std::string lookup_;
    std::string expire_;
    std::string horizon_;
    std::chrono::steady_clock::time_point next_expiry_{};
};

}  // namespace beacon::postgres
