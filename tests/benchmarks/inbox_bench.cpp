// The SQLite inbox's cost per event: sqlite::inbox::process with a receiver inserting one row,
// next to the same insert in a transaction of its own (what a receiver writing to SQLite pays
// without an inbox), on one database file in WAL mode with synchronous=NORMAL.
#include <beacon/sqlite.hpp>

#include <benchmark/benchmark.h>

#include <sqlite3.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct database {
    std::string path;
    sqlite3* db = nullptr;
    sqlite3_stmt* insert = nullptr;

    database() {
        char name[] = "/tmp/beacon-inbox-bench-XXXXXX";
        const int fd = ::mkstemp(name);
        if (fd < 0) throw std::runtime_error("mkstemp");
        ::close(fd);
        path = name;
        sqlite3_open(path.c_str(), &db);
        exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE effects (n INTEGER)");
        sqlite3_prepare_v2(db, "INSERT INTO effects (n) VALUES (?1)", -1, &insert, nullptr);
    }
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    ~database() {
        sqlite3_finalize(insert);
        sqlite3_close(db);
        for (const char* suffix : {"", "-wal", "-shm"}) std::remove((path + suffix).c_str());
    }
    void exec(const char* sql) const {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    }
    // The receiver's effect: one row.
    void effect(std::int64_t n) const {
        sqlite3_bind_int64(insert, 1, n);
        if (sqlite3_step(insert) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
        sqlite3_reset(insert);
    }
};

std::vector<beacon::event> events(std::size_t count) {
    std::vector<beacon::event> out(count);
    for (auto& e : out) e.stamp();
    return out;
}

// The peer: the receiver's insert in a transaction of its own, no inbox.
void BM_receiver_own_transaction(benchmark::State& state) {
    database d;
    std::int64_t n = 0;
    for (auto _ : state) {
        d.exec("BEGIN IMMEDIATE");
        d.effect(++n);
        d.exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_receiver_own_transaction);

// The same insert as the effects of inbox::process, each event new (its id recorded).
void BM_inbox_process(benchmark::State& state) {
    database d;
    beacon::sqlite::inbox inbox(d.db);
    auto batch = events(1 << 16);
    std::size_t i = 0;
    std::int64_t n = 0;
    for (auto _ : state) {
        if (i == batch.size()) {  // fresh ids, made outside the timing
            state.PauseTiming();
            for (auto& e : batch) e.id = beacon::event_id::make();
            i = 0;
            state.ResumeTiming();
        }
        inbox.process(batch[i++], [&] { d.effect(++n); });
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_inbox_process);

// A duplicate: the lookup finds the id, rolls back, and nothing runs.
void BM_inbox_duplicate(benchmark::State& state) {
    database d;
    beacon::sqlite::inbox inbox(d.db);
    beacon::event e;
    e.stamp();
    inbox.process(e, [] {});
    for (auto _ : state) benchmark::DoNotOptimize(inbox.process(e, [] {}));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_inbox_duplicate);

}  // namespace

BENCHMARK_MAIN();
