#pragma once
/// \file
/// The outbox's relay: publishes the rows of a SQLite outbox (<beacon/sqlite/outbox.hpp>) in
/// commit order to any publisher (a Redis forwarder, a listener), deletes what was published,
/// retries with capped exponential backoff and jitter, and sets aside rows it cannot read.

#include <beacon/detail/relay_loop.hpp>
#include <beacon/detail/sql_name.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/outbox.hpp>
#include <beacon/sqlite/detail/outbox_table.hpp>
#include <beacon/sqlite/detail/statement.hpp>
#include <beacon/sqlite/error.hpp>
#include <beacon/wire_format.hpp>

#include <sqlite3.h>
#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace beacon::sqlite {

/// How a relay reads its outbox and waits.
struct relay_options {
    std::string table = "beacon_outbox";  ///< The outbox's table (outbox_options::table).
    std::size_t batch = 100;              ///< The most rows published in one call of the publisher.
    std::chrono::milliseconds poll_interval{100};  ///< The wait when the outbox is empty (or another relay has it).
    std::chrono::milliseconds backoff_min{50};     ///< First wait after the publisher failed.
    /// Longest wait between attempts: the wait doubles from backoff_min up to this, each drawn at
    /// random between half and all of it (jitter: relays of many hosts do not retry in step).
    std::chrono::milliseconds backoff_max{5000};
    /// Bounds on each row read back (the file is outside input too): a row longer or deeper is set aside.
    json_limits limits;
    std::chrono::milliseconds busy_timeout{5000};  ///< How long a statement waits for the host's write lock.
};

/// Publishes a SQLite outbox, in its own thread (`start`) or the caller's (`run_once`), through
/// its own connection to the database file. Rows are published oldest first (commit order), in
/// batches, and deleted once the publisher returned: a relay killed between the two publishes
/// those rows again when it restarts (at-least-once; the events keep their ids, so the
/// consumers' dedup or inbox drops them). Nothing committed is skipped.
///
/// One relay at a time publishes a given outbox: it holds an exclusive lock (flock) on
/// "<database>.<table>.relay" while it runs; another relay, in this process or another, waits
/// (and takes over when the first stops or dies: the system releases the lock of a dead process).
///
/// A publisher that throws is reported (`on_failure`, a beacon::failure of part::sqlite) and
/// retried with the backoff. One that throws encode_error (an event its format cannot write) is
/// called again with each event alone, so that the rows that cannot be published are set aside
/// and the others go; when the error's `left_out()` names the rows (a Redis forwarder sent the
/// others), only those are tried again, so that no event is sent twice. A row that cannot be
/// published (one that does not decode, for a publisher of events; one not framed as a JSON
/// object, for a publisher of texts, which gets the others as they are) is set aside (moved to
/// "<table>_dead" with the reason) and reported; it never blocks the rows behind it.
class relay : public beacon::relay, private beacon::detail::relay_loop {
public:
    /// What the relay publishes to (beacon::relay_publisher): a function of `const encoded_events&`
    /// (the rows' texts as they are: a Redis forwarder), or else of `const std::vector<event>&`.
    using publisher = beacon::relay_publisher;

    /// A relay of the outbox `options.table` in the SQLite file `database`, to `publish`; failures
    /// go to `on_failure` (the process-wide sink when empty). Throws config_error for an empty
    /// publisher or a bad table name, sqlite_error when the file cannot be opened.
    relay(const std::string& database, publisher publish, relay_options options = {}, failure_handler on_failure = {})
        : relay_loop("sqlite::relay", part::sqlite, std::move(on_failure),
                     {options.batch, options.poll_interval, options.backoff_min, options.backoff_max},
                     [this] { return relay::run_once(); }),
          database_(database),
          publish_(std::move(publish)),
          options_(std::move(options)),
          db_(open(database, options_)),
          batch_(publish_, options_.limits),
          select_(db_.get(), "SELECT seq, payload FROM " + options_.table + " ORDER BY seq LIMIT ?1"),
          remove_(db_.get(), "DELETE FROM " + options_.table + " WHERE seq <= ?1"),
          set_aside_(db_.get(), "INSERT INTO " + options_.table + "_dead (seq, id, created_at, payload, reason) "
                                "SELECT seq, id, created_at, payload, ?2 FROM " + options_.table + " WHERE seq = ?1"),
          remove_one_(db_.get(), "DELETE FROM " + options_.table + " WHERE seq = ?1"),
          count_(db_.get(), "SELECT count(*), coalesce(min(created_at), 0) FROM " + options_.table) {
        if (!publish_) throw config_error("", "/publish", "the relay needs a publisher");
        set_backlog([this] {
            count_.reset();
            std::pair<std::uint64_t, std::int64_t> rows{0, 0};
            if (count_.step()) rows = {static_cast<std::uint64_t>(count_.integer(0)), count_.integer(1)};
            count_.reset();  // ends the read: a statement left stepped would hold back WAL checkpoints
            return rows;
        });
        if (options_.batch == 0) options_.batch = 1;
        set_where("sqlite::relay of " + database_ + " table " + options_.table);
    }
    relay(const relay&) = delete;
    relay& operator=(const relay&) = delete;
    /// Stops and joins the thread `start` made, then releases the lock.
    ~relay() override {
        halt();
        if (lock_ >= 0) ::close(lock_);
    }

    /// In the caller's thread: takes the outbox's lock if free, and publishes one batch. Returns
    /// how many rows it took off the outbox (published or set aside): 0 when the outbox is empty
    /// or another relay holds it. A publisher that fails throws its exception (nothing deleted).
    std::size_t run_once() override {
        if (!locked()) return 0;
        return publish_batch();
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
    using connection = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

    static connection open(const std::string& database, const relay_options& options) {
        beacon::detail::check_sql_name(options.table);
        sqlite3* raw = nullptr;
        const int rc = sqlite3_open_v2(database.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        connection db(raw, sqlite3_close);
        if (rc != SQLITE_OK) throw detail::error_of(db.get(), "open");
        if (options.busy_timeout.count() > 0) sqlite3_busy_timeout(db.get(), static_cast<int>(options.busy_timeout.count()));
        detail::create_outbox_tables(db.get(), options.table);
        // In WAL mode the relay's own commits (its deletes) need no fsync: one lost to a power cut
        // only publishes those rows again, and WAL stays consistent (in rollback-journal mode the
        // connection keeps SQLite's default, FULL: NORMAL there could harm the host's data).
        detail::statement mode(db.get(), "PRAGMA journal_mode");
        if (mode.step() && mode.text(0) == "wal") detail::execute(db.get(), "PRAGMA synchronous = NORMAL");
        // Debian's SQLite overwrites deleted content with zeros by default (SECURE_DELETE), which
        // writes every page a delete frees: half the relay's cost. FAST zeroes what lies in pages
        // written anyway; the rows were published to the network already.
        detail::execute(db.get(), "PRAGMA secure_delete = FAST");
        return db;
    }

    // Whether this relay holds the outbox's lock (taking it when free).
    bool locked() {
        if (lock_ < 0) {
            const std::string path = database_ + "." + options_.table + ".relay";
            lock_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
            if (lock_ < 0) throw sqlite_error(path + ": cannot open the relay's lock file");
        }
        if (!holding_) holding_ = ::flock(lock_, LOCK_EX | LOCK_NB) == 0;
        return holding_;
    }

    // One batch: checks the oldest rows (setting aside those that cannot be published), publishes
    // the rest and deletes them.
    std::size_t publish_batch() {
        batch_.clear();
        std::vector<std::pair<std::int64_t, std::string>> unreadable;
        std::size_t taken = 0;
        {
            struct resetting {
                detail::statement& s;
                ~resetting() { s.reset(); }
            } guard{select_};
            select_.bind(1, static_cast<std::int64_t>(options_.batch));
            while (select_.step()) {
                ++taken;
                const auto seq = select_.integer(0);
                if (auto why = batch_.add(seq, select_.text(1))) unreadable.emplace_back(seq, std::move(*why));
            }
        }
        for (const auto& [seq, reason] : unreadable) set_aside(seq, reason);
        if (batch_.empty()) return taken;
        const auto published = batch_.publish([&](std::int64_t seq, const std::string& reason) { set_aside(seq, reason); });
        if (published.size() + unreadable.size() == taken) {  // all of them: one statement
            if (!published.empty()) remove_.once([&] { remove_.bind(1, published.back()); });
        } else {
            for (const auto seq : published) remove_one_.once([&] { remove_one_.bind(1, seq); });
        }
        published_.fetch_add(published.size(), std::memory_order_relaxed);
        return taken;
    }

    // Moves row `seq` to "<table>_dead" with `reason`, in one transaction, and reports it.
    void set_aside(std::int64_t seq, const std::string& reason) {
        detail::execute(db_.get(), "BEGIN IMMEDIATE");
        try {
            set_aside_.once([&] {
                set_aside_.bind(1, seq);
                set_aside_.bind(2, reason);
            });
            remove_one_.once([&] { remove_one_.bind(1, seq); });
            detail::execute(db_.get(), "COMMIT");
        } catch (...) {
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
        set_aside_count_.fetch_add(1, std::memory_order_relaxed);
        report(std::make_exception_ptr(decode_error("", "row " + std::to_string(seq) + " set aside in " +
                                                            options_.table + "_dead: " + reason)),
               "row " + std::to_string(seq));
    }

    std::string database_;
    publisher publish_;
    relay_options options_;
    connection db_;
    beacon::detail::relay_batch batch_;  // reused: its buffers keep their capacity from batch to batch
    detail::statement select_;
    detail::statement remove_;
    detail::statement set_aside_;
    detail::statement remove_one_;
    detail::statement count_;  // the backlog: rows waiting, the oldest's created_at
    int lock_ = -1;
    bool holding_ = false;
};

}  // namespace beacon::sqlite
