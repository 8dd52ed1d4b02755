// A program outside beacon's tree, linking beacon::sqlite (hence libsqlite3) as a package or a
// subproject: an inbox in a database in memory processes an event once.
#include <beacon/sqlite.hpp>

#include <sqlite3.h>

int main() {
    sqlite3* db = nullptr;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
    int result = 1;
    {
        beacon::sqlite::inbox inbox(db);
        beacon::event e("alice");
        e.stamp();
        int effects = 0;
        const bool first = inbox.process(e, [&] { ++effects; });
        const bool second = inbox.process(e, [&] { ++effects; });
        if (first && !second && effects == 1) result = 0;
    }
    sqlite3_close(db);
    return result;
}
