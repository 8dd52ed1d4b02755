#pragma once
/// \file
/// The outbox's relay for PostgreSQL: publishes the rows of a PostgreSQL outbox
/// (<beacon/postgres/outbox.hpp>) to any publisher (a Redis forwarder, a listener) through a
/// connection of its own, in batches locked with `FOR UPDATE SKIP LOCKED` (several relays share
/// one outbox, none publishes a row another has in hand), deletes what was published, retries with
/// capped exponential backoff and jitter, reconnects, and sets aside rows it cannot publish.

#include <beacon/detail/relay_loop.hpp>
#include <beacon/detail/sql_name.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/outbox.hpp>
#include <beacon/postgres/detail/connection.hpp>
#include <beacon/postgres/detail/outbox_table.hpp>
#include <beacon/postgres/error.hpp>
#include <beacon/wire_format.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::postgres {

/// How a relay reads its outbox and waits.
struct relay_options {
    std::string table = "beacon_outbox";  ///< The outbox's table (outbox_options::table).
    std::size_t batch = 100;              ///< The most rows published in one call of the publisher.
    std::chrono::milliseconds poll_interval{100};  ///< The wait when the outbox has no row free.
    std::chrono::milliseconds backoff_min{50};     ///< First wait after a failure.
    /// Longest wait between attempts: the wait doubles from backoff_min up to this, each drawn at
    /// random between half and all of it (jitter: relays of many hosts do not retry in step).
    std::chrono::milliseconds backoff_max{5000};
    /// Bounds on each row read back (the table is outside input too): a row longer or deeper is set aside.
    json_limits limits;
};

/// Publishes a PostgreSQL outbox, in its own thread (`start`) or the caller's (`run_once`), through
/// its own connection (made from a conninfo, reset with PQreset when lost). Each batch is one
/// transaction: `SELECT ... ORDER BY seq LIMIT batch FOR UPDATE SKIP LOCKED`, the publisher, then
/// `DELETE` of the rows published and `COMMIT`. The rows are locked while they are published:
/// other relays on the same outbox skip them and take the next ones, so no event is published by
/// two relays (each batch in seq order; batches of several relays may interleave: run one relay
/// for one order). A relay killed mid-batch leaves its rows unlocked and undeleted: they are
/// published again later (at-least-once; the events keep their ids, so the consumers' dedup or
/// inbox drops them). The relay keeps no cursor: it reads the oldest rows still there each time,
/// so a row whose transaction commits after later seqs were published is published then, never
/// skipped.
///
/// A failure (a publisher that throws, a lost connection) rolls the batch back, is reported
/// (`on_failure`, a beacon::failure of part::postgres) and retried with the backoff; a lost
/// connection is reset first. A publisher that throws encode_error (an event its format cannot
/// write) is called again with each event alone (only with those the error's `left_out()`
/// names, when it names them: the others were sent), and the rows it refuses are set aside. A
/// row that cannot be published (one that does not decode, for a publisher of events; one not
/// framed as a JSON object, for a publisher of texts, which gets the others as they are) is set
/// aside (moved to "<table>_dead" with the reason, in the batch's transaction) and reported; it
/// never blocks the rows behind it.
class relay : public beacon::relay, private beacon::detail::relay_loop {
public:
    /// What the relay publishes to (beacon::relay_publisher): a function of `const encoded_events&`
    /// (the rows' texts as they are: a Redis forwarder), or else of `const std::vector<event>&`.
    using publisher = beacon::relay_publisher;

    /// A relay of the outbox `options.table` in the database `conninfo` names (libpq's connection
    /// string or URI; it is never quoted in a message, nor its password), to `publish`; failures
    /// go to `on_failure` (the process-wide sink when empty). Connects and creates the tables when
    /// missing. Throws config_error for an empty publisher or a bad table name, postgres_error when
    /// the server cannot be reached or the tables cannot be created.
    relay(const std::string& conninfo, publisher publish, relay_options options = {}, failure_handler on_failure = {})
        : relay_loop("postgres::relay", part::postgres, std::move(on_failure),
                     {options.batch, options.poll_interval, options.backoff_min, options.backoff_max},
                     [this] { return relay::run_once(); }),
          publish_(std::move(publish)),
          options_(checked(std::move(options))),
          conn_(connect(conninfo, publish_)),
          server_(detail::server_name(conn_.get())),
          select_("SELECT seq, payload FROM " + options_.table + " ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED"),
          remove_("DELETE FROM " + options_.table + " WHERE seq = ANY($1::bigint[])"),
          set_aside_("WITH moved AS (DELETE FROM " + options_.table + " WHERE seq = $1 RETURNING *) INSERT INTO " +
                     options_.table + "_dead (seq, id, created_at, payload, reason) SELECT seq, id, created_at, "
                     "payload, $2 FROM moved"),
          count_("SELECT count(*), coalesce((extract(epoch FROM min(created_at)) * 1000)::bigint, 0) FROM " +
                 options_.table) {
        detail::create_outbox_tables(conn_.get(), options_.table);
        set_backlog([this] {
            const auto r = detail::execute(conn_.get(), count_);
            return std::pair<std::uint64_t, std::int64_t>{std::stoull(PQgetvalue(r.get(), 0, 0)),
                                                          std::stoll(PQgetvalue(r.get(), 0, 1))};
        });
        set_where("postgres::relay of " + server_ + " table " + options_.table);
    }
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;
    /// Stops and joins the thread `start` made, then closes the connection.
    ~relay() override { halt(); }

    /// In the caller's thread: publishes one batch. Returns how many rows it took off the outbox
    /// (published or set aside): 0 when no row is free (none, or all locked by other relays). A
    /// failure throws (its exception: the publisher's, or a postgres_error), with nothing deleted;
    /// a lost connection is reset at the next call.
    std::size_t run_once() override {
        reconnect();
        std::vector<std::pair<std::int64_t, std::string>> set_aside;
        const std::size_t taken = publish_batch(set_aside);
        for (const auto& [seq, reason] : set_aside) {
            set_aside_count_.fetch_add(1, std::memory_order_relaxed);
            report(std::make_exception_ptr(decode_error("", "row " + std::to_string(seq) + " set aside in " +
                                                                options_.table + "_dead: " + reason)),
                   "row " + std::to_string(seq));
        }
        return taken;
    }


    /// Publishes in a new thread until `stop()`; throws misuse_error when the relay already runs.
    void start() override { relay_loop::start(); }
    /// Asks the thread to return after the batch in hand; returns at once.
    void stop() noexcept override { relay_loop::stop(); }
    /// What the relay did so far.
    relay_stats stats() const noexcept override {
        const auto [rows, age] = backlog();
        return {published_.load(std::memory_order_relaxed), failures_.load(std::memory_order_relaxed),
                set_aside_count_.load(std::memory_order_relaxed), rows, age};
    }

private:
    using connection = std::unique_ptr<PGconn, void (*)(PGconn*)>;

    static relay_options checked(relay_options options) {
        beacon::detail::check_sql_name(options.table);
        if (options.batch == 0) options.batch = 1;
        return options;
    }

    static connection connect(const std::string& conninfo, const publisher& publish) {
        if (!publish) throw config_error("", "/publish", "the relay needs a publisher");
        connection conn(PQconnectdb(conninfo.c_str()), PQfinish);
        if (!conn) throw postgres_error("postgres::relay: libpq could not allocate a connection");
        if (PQstatus(conn.get()) != CONNECTION_OK) throw detail::error_of(conn.get(), "connect");
        return conn;
    }

    // Resets a connection found lost; throws postgres_error when the server is still out of reach.
    void reconnect() {
        if (PQstatus(conn_.get()) == CONNECTION_OK) return;
        PQreset(conn_.get());
        if (PQstatus(conn_.get()) != CONNECTION_OK) throw detail::error_of(conn_.get(), "reconnect (PQreset)");
    }

    // One batch, one transaction: locks the oldest free rows, sets aside those that do not decode,
    // publishes the rest and deletes them; `set_aside` gets the rows set aside (reported once
    // committed). Rolls back and throws on any failure.
    std::size_t publish_batch(std::vector<std::pair<std::int64_t, std::string>>& set_aside) {
        PGconn* conn = conn_.get();
        detail::execute(conn, "BEGIN");
        try {
            beacon::detail::relay_batch batch(publish_, options_.limits);
            std::size_t rows = 0;
            {
                const auto r = detail::execute(conn, select_, {std::to_string(options_.batch)});
                rows = static_cast<std::size_t>(PQntuples(r.get()));
                for (int i = 0; i < PQntuples(r.get()); ++i) {
                    const std::int64_t seq = std::stoll(PQgetvalue(r.get(), i, 0));
                    const std::string_view text(PQgetvalue(r.get(), i, 1), static_cast<std::size_t>(PQgetlength(r.get(), i, 1)));
                    if (auto why = batch.add(seq, text)) set_aside.emplace_back(seq, std::move(*why));
                }
            }
            for (const auto& [seq, reason] : set_aside) move_aside(seq, reason);
            std::vector<std::int64_t> published;
            if (!batch.empty()) {
                published = batch.publish([&](std::int64_t seq, const std::string& reason) {
                    move_aside(seq, reason);
                    set_aside.emplace_back(seq, reason);
                });
                if (!published.empty()) detail::execute(conn, remove_, {array_of(published)});
            }
            detail::execute(conn, "COMMIT");
            published_.fetch_add(published.size(), std::memory_order_relaxed);
            return rows;
        } catch (...) {
            set_aside.clear();
            if (PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) != PQTRANS_IDLE) {
                detail::own(PQexec(conn, "ROLLBACK"));
            }
            throw;
        }
    }

    // Moves row `seq` to "<table>_dead" with `reason`, in the batch's transaction.
    void move_aside(std::int64_t seq, const std::string& reason) {
        detail::execute(conn_.get(), set_aside_, {std::to_string(seq), reason});
    }

    // A PostgreSQL array literal of `seqs`: {1,2,3}.
    static std::string array_of(const std::vector<std::int64_t>& seqs) {
        std::string text = "{";
        for (std::size_t i = 0; i < seqs.size(); ++i) {
            if (i > 0) text += ',';
            text += std::to_string(seqs[i]);
        }
        return text + "}";
    }

    publisher publish_;
    relay_options options_;
    connection conn_;
    std::string server_;  // host:port/database, never the password
    std::string select_;
    std::string remove_;
    std::string set_aside_;
    std::string count_;  // the backlog: rows waiting, the oldest's created_at (ms since the epoch)
};

}  // namespace beacon::postgres
