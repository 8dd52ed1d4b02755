#pragma once
/// \file
/// Internals of the SQLite part: a prepared statement that finalizes itself, and errors that name
/// the database, the statement and SQLite's message.

#include <beacon/detail/sql_name.hpp>
#include <beacon/error.hpp>
#include <beacon/sqlite/error.hpp>

#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace beacon::sqlite::detail {

/// The database's file name as SQLite knows it (":memory:" for a database in memory).
inline std::string database_name(sqlite3* db) {
    const char* file = sqlite3_db_filename(db, "main");
    return file && *file ? file : ":memory:";
}

/// The sqlite_error for `what` (the statement or step that failed) on `db`, with SQLite's message.
inline sqlite_error error_of(sqlite3* db, std::string_view what) {
    return sqlite_error(database_name(db) + ": " + std::string(what) + ": " + sqlite3_errmsg(db) + " (" +
                        sqlite3_errstr(sqlite3_extended_errcode(db)) + ")");
}

/// `db`, when it is not null (else config_error naming `/db`) and `table` is a plain SQL name.
inline sqlite3* checked_table(sqlite3* db, const std::string& table) {
    if (db == nullptr) throw config_error("", "/db", "an open database connection is needed, not null");
    beacon::detail::check_sql_name(table);
    return db;
}

/// Runs `sql` (statements without results) on `db`; throws sqlite_error.
inline void execute(sqlite3* db, const std::string& sql) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) throw error_of(db, sql);
}

/// A prepared statement, finalized on destruction; `step` tells whether a row came.
class statement {
public:
    /// Prepares `sql` on `db` (persistent: it is run many times); throws sqlite_error.
    statement(sqlite3* db, std::string sql) : db_(db), sql_(std::move(sql)) {
        if (sqlite3_prepare_v3(db_, sql_.c_str(), static_cast<int>(sql_.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                               nullptr) != SQLITE_OK) {
            throw error_of(db_, sql_);
        }
    }
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement() { sqlite3_finalize(stmt_); }

    /// Binds `text` (copied by SQLite) to the 1-based parameter `index`.
    void bind(int index, std::string_view text) {
        check(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT));
    }
    /// Binds `value` to the 1-based parameter `index`.
    void bind(int index, std::int64_t value) { check(sqlite3_bind_int64(stmt_, index, value)); }

    /// Runs one step: true when a row came, false when done; throws sqlite_error.
    bool step() {
        const int rc = sqlite3_step(stmt_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        throw error_of(db_, sql_);
    }

    /// Column `index` (0-based) of the current row, as an integer.
    std::int64_t integer(int index) const { return sqlite3_column_int64(stmt_, index); }

    /// Column `index` (0-based) of the current row, as text (valid until the next step or reset).
    std::string_view text(int index) const {
        const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
        return bytes ? std::string_view(bytes, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, index)))
                     : std::string_view();
    }

    /// Binds with `bind()`, runs one step, and resets whatever happens: whether a row came.
    template <class Bind>
    bool once(Bind&& bind) {
        struct resetting {
            statement& s;
            ~resetting() { s.reset(); }
        } guard{*this};
        bind();
        return step();
    }

    /// Makes the statement ready to run again, its parameters unbound.
    void reset() noexcept {
        sqlite3_reset(stmt_);
        sqlite3_clear_bindings(stmt_);
    }

private:
    void check(int rc) const {
        if (rc != SQLITE_OK) throw error_of(db_, sql_);
    }

    sqlite3* db_;
    std::string sql_;
    sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace beacon::sqlite::detail
