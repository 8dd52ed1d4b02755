#pragma once
// Helpers shared by the SQLite part's tests: a database file of its own, connections, statements.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

namespace sqlite_test {

// A database file of its own, removed at the end (with its journal, WAL and lock files).
struct database_file {
    std::string path;
    database_file() {
        char name[] = "/tmp/beacon-sqlite-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
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
    REQUIRE(rc == SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return owned;
}

inline void exec(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    INFO(sql << ": " << (message ? message : ""));
    sqlite3_free(message);
    REQUIRE(rc == SQLITE_OK);
}

inline long long scalar(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const auto value = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return value;
}

inline std::string text(sqlite3* db, const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(statement) == SQLITE_ROW);
    const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    std::string value = bytes ? bytes : "";
    sqlite3_finalize(statement);
    return value;
}

}  // namespace sqlite_test
