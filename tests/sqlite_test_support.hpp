#pragma once
// Helpers shared by the SQLite part's tests: a database file of its own, connections, statements.
// They throw std::runtime_error instead of using Catch2's macros, which are not thread-safe: the
// tests' threads call them too (a thrown error fails the test case that called it).
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>

namespace sqlite_test {

// A database file of its own, removed at the end (with its journal, WAL and lock files).
struct database_file {
    std::string path;
    database_file() {
        char name[] = "/tmp/beacon-sqlite-XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp failed for /tmp/beacon-sqlite-XXXXXX");
        ::close(fd);
        path = name;
    }
    database_file(const database_file&) = delete;
    database_file& operator=(const database_file&) = delete;
    ~database_file() {
        for (const char* suffix : {"", "-journal", "-wal", "-shm", ".beacon_outbox.relay"}) {
            std::remove((path + suffix).c_str());
        }
    }
};

using connection = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

inline connection open(const std::string& path, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    connection owned(db, sqlite3_close);
    if (rc != SQLITE_OK) throw std::runtime_error("cannot open " + path + ": " + sqlite3_errstr(rc));
    sqlite3_busy_timeout(db, 5000);
    return owned;
}

inline void exec(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    const std::string why = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    if (rc != SQLITE_OK) throw std::runtime_error(sql + ": " + why);
}

// The statement of `sql`, stepped to its first row.
using statement_ptr = std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)>;
inline statement_ptr first_row(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr);
    statement_ptr owned(statement, sqlite3_finalize);
    if (rc != SQLITE_OK) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db));
    if (sqlite3_step(statement) != SQLITE_ROW) throw std::runtime_error(sql + ": no row: " + sqlite3_errmsg(db));
    return owned;
}

inline long long scalar(sqlite3* db, const std::string& sql) {
    const auto statement = first_row(db, sql);
    return sqlite3_column_int64(statement.get(), 0);
}

inline std::string text(sqlite3* db, const std::string& sql) {
    const auto statement = first_row(db, sql);
    const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), 0));
    return bytes ? bytes : "";
}

}  // namespace sqlite_test
