#pragma once
/// \file
/// The inbox in the host's SQLite database: the ids of the events a consumer processed, recorded
/// in the same transaction as what its receivers wrote, so that a redelivered event has no effect
/// twice.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/inbox.hpp>
#include <beacon/sqlite/detail/statement.hpp>
#include <beacon/sqlite/error.hpp>

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>

namespace beacon::sqlite {

/// Where an inbox keeps its records and for how long.
struct inbox_options {
    /// The table of records (id TEXT PRIMARY KEY, processed_at INTEGER: ms since the epoch),
    /// created when missing; a plain SQL name of at most 63 letters, digits and underscores.
    std::string table = "beacon_inbox";
    /// How long a record is kept: an event delivered again later than this after it was processed
    /// has its effects again. Make it longer than any redelivery can take (a producer's replay, a
    /// stream entry's claim); records older are deleted at most once a minute, in `process`.
    std::chrono::hours horizon{24 * 7};
    /// How long a transaction waits for another connection's lock on the database before
    /// `process` throws sqlite_error (sqlite3_busy_timeout, set on the connection); 0 leaves the
    /// connection's own setting.
    std::chrono::milliseconds busy_timeout{5000};
};

/// An inbox (beacon::inbox) in a SQLite database the host opened: `process` runs the event's
/// receivers inside `BEGIN IMMEDIATE ... COMMIT` on that connection, and records the event's id in
/// the same transaction. Receivers that write through the same connection commit with the record
/// or not at all: a consumer killed at any moment leaves either both (the redelivery is dropped)
/// or neither (the redelivery has its effects once).
///
/// The connection is the consumer's while it runs: receivers use it from the consumer's thread,
/// the host nowhere else meanwhile (open another connection to the same file; SQLite's locks keep
/// them apart). The connection must outlive the inbox, and be in no transaction when an event
/// comes (`process` throws misuse_error otherwise).
class inbox final : public beacon::inbox {
public:
    /// An inbox over `db` (which the host keeps open, and closes after the inbox is gone); creates
    /// its table when missing. Throws config_error for a null `db` or a bad table name,
    /// sqlite_error when the table cannot be created.
    explicit inbox(sqlite3* db, inbox_options options = {})
        : db_(checked(db, options)),
          options_(std::move(options)),
          lookup_(prepare_table(db_, options_), "SELECT 1 FROM " + options_.table + " WHERE id = ?1"),
          record_(db_, "INSERT INTO " + options_.table + " (id, processed_at) VALUES (?1, ?2)"),
          expire_(db_, "DELETE FROM " + options_.table + " WHERE processed_at < ?1") {}

    /// See beacon::inbox::process. Throws sqlite_error (nothing recorded, nothing the receivers
    /// wrote kept) when the database is locked past the busy timeout, full, read-only or corrupt.
    bool process(const event& e, const std::function<void()>& effects) override {
        if (sqlite3_get_autocommit(db_) == 0) {
            throw misuse_error(detail::database_name(db_) +
                               ": sqlite::inbox::process: the connection is inside a transaction already "
                               "(the inbox's connection is the consumer's while it runs)");
        }
        detail::execute(db_, "BEGIN IMMEDIATE");
        try {
            const std::string id = e.id.is_nil() ? std::string() : e.id.to_string();
            if (!id.empty() && processed(id)) {
                detail::execute(db_, "ROLLBACK");
                return false;
            }
            const auto now = now_ms();
            if (now >= next_expiry_) {
                remove_older_than(now - std::chrono::duration_cast<std::chrono::milliseconds>(options_.horizon).count());
                next_expiry_ = now + 60'000;
            }
            effects();
            if (!id.empty()) {
                record_.once([&] {
                    record_.bind(1, id);
                    record_.bind(2, now);
                });
            }
            detail::execute(db_, "COMMIT");
            return true;
        } catch (...) {
            if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
            throw;
        }
    }

    /// Whether an event with `id` was processed (and its record has not expired).
    bool contains(const event_id& id) {
        return !id.is_nil() && processed(id.to_string());
    }

    /// Deletes the records older than the horizon now (`process` does it at most once a minute);
    /// returns how many went. Throws sqlite_error.
    std::int64_t expire() {
        remove_older_than(now_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(options_.horizon).count());
        return sqlite3_changes64(db_);
    }

    /// The options in force.
    const inbox_options& options() const noexcept { return options_; }

private:
    static sqlite3* checked(sqlite3* db, const inbox_options& options) {
        detail::checked_table(db, options.table);
        if (options.horizon.count() <= 0) throw config_error("", "/horizon", "the inbox's horizon must be positive");
        return db;
    }

    static sqlite3* prepare_table(sqlite3* db, const inbox_options& options) {
        if (options.busy_timeout.count() > 0) sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));
        detail::execute(db, "CREATE TABLE IF NOT EXISTS " + options.table +
                                " (id TEXT PRIMARY KEY, processed_at INTEGER NOT NULL) WITHOUT ROWID; "
                                "CREATE INDEX IF NOT EXISTS " + options.table + "_processed_at ON " +
                                options.table + " (processed_at)");
        return db;
    }

    static std::int64_t now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    bool processed(const std::string& id) {
        return lookup_.once([&] { lookup_.bind(1, id); });
    }

    void remove_older_than(std::int64_t cutoff) {
        expire_.once([&] { expire_.bind(1, cutoff); });
    }

    sqlite3* db_;
    inbox_options options_;
    detail::statement lookup_;
    detail::statement record_;
    detail::statement expire_;
    std::int64_t next_expiry_ = 0;
};

}  // namespace beacon::sqlite
