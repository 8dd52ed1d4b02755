#pragma once
/// \file
/// Internals of the SQLite part: the outbox's tables, created by the outbox and the relay alike
/// (whichever starts first).

#include <beacon/sqlite/detail/statement.hpp>

#include <sqlite3.h>

#include <string>

namespace beacon::sqlite::detail {

/// Creates, when missing, the outbox table `table` (seq: the commit order; id; created_at;
/// payload: beacon's envelope) and "<table>_dead", where the relay sets aside rows it cannot
/// read; returns `db`. Throws sqlite_error.
inline sqlite3* create_outbox_tables(sqlite3* db, const std::string& table) {
    execute(db, "CREATE TABLE IF NOT EXISTS " + table +
                    " (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, created_at INTEGER NOT NULL, "
                    "payload TEXT NOT NULL); CREATE TABLE IF NOT EXISTS " + table +
                    "_dead (seq INTEGER PRIMARY KEY, id TEXT, created_at INTEGER, payload BLOB, reason TEXT NOT NULL)");
    return db;
}

}  // namespace beacon::sqlite::detail
