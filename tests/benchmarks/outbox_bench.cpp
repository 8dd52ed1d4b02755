// The SQLite outbox's costs, side by side with their peers in one run: writing a unit of work's 10
// events into the outbox against the host inserting the same bytes itself in the same kind of
// transaction; and the relay's publishing rate (read, decode, LPUSH, delete) against the Redis
// batch path it uses (redis::forwarder::forward of the same batches), on a redis-server of its own.
#include <beacon/redis.hpp>
#include <beacon/sqlite.hpp>

#include "../redis_server.hpp"

#include <benchmark/benchmark.h>

#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// A database file in WAL mode with synchronous=NORMAL (what a host would choose), removed at the end.
struct database {
    std::string path;
    sqlite3* db = nullptr;

    database() {
        const char* dir = std::getenv("TMPDIR");  // TMPDIR=/dev/shm: the same without the disk
        std::string name = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/beacon-outbox-bench-XXXXXX";
        const int fd = ::mkstemp(name.data());
        if (fd < 0) throw std::runtime_error("mkstemp");
        ::close(fd);
        path = name;
        sqlite3_open(path.c_str(), &db);
        exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
    }
    database(const database&) = delete;
    database& operator=(const database&) = delete;
    ~database() {
        sqlite3_close(db);
        for (const char* suffix : {"", "-wal", "-shm", ".beacon_outbox.relay"}) std::remove((path + suffix).c_str());
    }
    // Whether the outbox table has no row left (the relay published and deleted them all).
    bool empty() const {
        sqlite3_stmt* one = nullptr;
        sqlite3_prepare_v2(db, "SELECT 1 FROM beacon_outbox LIMIT 1", -1, &one, nullptr);
        const bool none = sqlite3_step(one) != SQLITE_ROW;
        sqlite3_finalize(one);
        return none;
    }
    void exec(const char* sql) const {
        if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    }
};

// A record change as a resource store sends it (about 300 bytes in the envelope).
beacon::event change(int n) {
    beacon::event e("basicauth:alice", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", n}});
    e.action = beacon::action::update;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/r" + std::to_string(n);
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({nlohmann::json{{"title", "old"}}, nlohmann::json{{"title", "new"}}});
    e.stamp();
    return e;
}

std::vector<beacon::event> unit_of_work(int size) {
    std::vector<beacon::event> out;
    for (int n = 0; n < size; ++n) out.push_back(change(n));
    return out;
}

// The peer: the host inserting the same bytes (the events' envelopes, encoded beforehand) itself.
void BM_host_inserts_the_bytes(benchmark::State& state) {
    database d;
    d.exec("CREATE TABLE own_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, "
           "created_at INTEGER NOT NULL, payload TEXT NOT NULL)");
    std::vector<std::pair<std::string, std::string>> rows;
    for (const auto& e : unit_of_work(static_cast<int>(state.range(0)))) {
        rows.emplace_back(e.id.to_string(), beacon::wire_format::envelope().encode(e));
    }
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(d.db, "INSERT INTO own_outbox (id, created_at, payload) VALUES (?1, ?2, ?3)", -1, &insert, nullptr);
    for (auto _ : state) {
        d.exec("BEGIN");
        for (const auto& [id, payload] : rows) {
            sqlite3_bind_text(insert, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
            sqlite3_bind_int64(insert, 2, 1764700000000);
            sqlite3_bind_text(insert, 3, payload.data(), static_cast<int>(payload.size()), SQLITE_TRANSIENT);
            sqlite3_step(insert);
            sqlite3_reset(insert);
        }
        d.exec("COMMIT");
    }
    sqlite3_finalize(insert);
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_host_inserts_the_bytes)->Arg(10);

// beacon: the same events through outbox::add (encoding included), in the same transaction shape.
void BM_outbox_add(benchmark::State& state) {
    database d;
    beacon::sqlite::outbox outbox(d.db);
    const auto events = unit_of_work(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        d.exec("BEGIN");
        for (const auto& e : events) outbox.add(e);
        d.exec("COMMIT");
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_outbox_add)->Arg(10);

beacon_test::redis_server& server() {
    static beacon_test::redis_server instance;
    return instance;
}

beacon::redis::forwarder forwarder() {
    beacon::redis::forwarder_options options;
    options.url = server().url();
    options.list = "bench.events";
    return beacon::redis::forwarder(options);
}

// The peer: the Redis batch path, forward(batch) of 100 events (one LPUSH), the list trimmed aside.
void BM_forward_batch(benchmark::State& state) {
    auto f = forwarder();
    const auto batch = unit_of_work(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        f.forward(batch);
        state.PauseTiming();
        server().command({"DEL", "bench.events"});
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_forward_batch)->Arg(100)->UseRealTime();

// beacon: the relay publishing one batch of 100 committed rows through the same forwarder (read,
// check, LPUSH, delete); the rows are committed outside the timing. The forwarder itself as the
// publisher gets the stored texts as they are (arg 1); a function of events gets them decoded
// (arg 0: read, decode, encode again, LPUSH, delete).
void BM_relay_batch(benchmark::State& state) {
    database d;
    beacon::sqlite::outbox outbox(d.db);
    auto f = forwarder();
    beacon::sqlite::relay_options options;
    options.batch = static_cast<std::size_t>(state.range(0));
    const auto by_events = [&](const std::vector<beacon::event>& b) { f.forward(b); };
    beacon::sqlite::relay relay = state.range(1) != 0 ? beacon::sqlite::relay(d.path, f, options)
                                                      : beacon::sqlite::relay(d.path, by_events, options);
    const auto batch = unit_of_work(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        state.PauseTiming();
        d.exec("BEGIN");
        for (const auto& e : batch) outbox.add(e);
        d.exec("COMMIT");
        server().command({"DEL", "bench.events"});
        state.ResumeTiming();
        if (relay.run_once() != batch.size()) state.SkipWithError("the relay did not publish the batch");
    }
    state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_relay_batch)->ArgNames({"batch", "texts"})->Args({100, 1})->Args({100, 0})->UseRealTime();

// The rate in steady state, the way a host runs them: 10,000 events (100 batches of 100) sent by
// the forwarder (the peer), and the same 10,000 committed rows drained by a started relay (its
// thread, the publisher the forwarder itself), from start until the table is empty (every row
// published and deleted).
constexpr int drained = 10000;

// Commits `drained` rows (copies of `batch`) into `outbox` in one transaction and empties the list.
void commit_drained(const database& d, beacon::sqlite::outbox& outbox, const std::vector<beacon::event>& batch) {
    d.exec("BEGIN");
    for (int added = 0; added < drained; added += static_cast<int>(batch.size())) {
        for (const auto& e : batch) outbox.add(e);
    }
    d.exec("COMMIT");
    server().command({"DEL", "bench.events"});
}

void BM_forward_batches(benchmark::State& state) {
    auto f = forwarder();
    const auto batch = unit_of_work(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        for (int sent = 0; sent < drained; sent += static_cast<int>(batch.size())) f.forward(batch);
        state.PauseTiming();
        server().command({"DEL", "bench.events"});
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * drained);
}
BENCHMARK(BM_forward_batches)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_relay_drain(benchmark::State& state) {
    database d;
    beacon::sqlite::outbox outbox(d.db);
    auto f = forwarder();
    beacon::sqlite::relay_options options;
    options.batch = static_cast<std::size_t>(state.range(0));
    const auto batch = unit_of_work(static_cast<int>(state.range(0)));
    for (auto _ : state) {
        state.PauseTiming();
        commit_drained(d, outbox, batch);
        auto relay = std::make_unique<beacon::sqlite::relay>(d.path, f, options);
        state.ResumeTiming();
        relay->start();
        while (!d.empty()) std::this_thread::sleep_for(std::chrono::microseconds(200));  // published and deleted
        state.PauseTiming();
        relay.reset();
        state.ResumeTiming();
    }
    state.SetItemsProcessed(state.iterations() * drained);
}
BENCHMARK(BM_relay_drain)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

// The floor of any relay on SQLite: the same 10,000 rows drained by a hand-written loop in the
// bench's thread (read 100 rows, hand their texts to the same forwarder, delete them), without
// the relay's checks, lock, thread, set-aside and backoff.
void BM_hand_drain(benchmark::State& state) {
    database d;
    beacon::sqlite::outbox outbox(d.db);
    auto f = forwarder();
    const auto batch = unit_of_work(static_cast<int>(state.range(0)));
    sqlite3* own = nullptr;
    sqlite3_open(d.path.c_str(), &own);
    sqlite3_exec(own, "PRAGMA synchronous = NORMAL; PRAGMA secure_delete = FAST", nullptr, nullptr, nullptr);
    sqlite3_stmt* select = nullptr;
    sqlite3_stmt* remove = nullptr;
    sqlite3_prepare_v2(own, "SELECT seq, payload FROM beacon_outbox ORDER BY seq LIMIT ?1", -1, &select, nullptr);
    sqlite3_prepare_v2(own, "DELETE FROM beacon_outbox WHERE seq <= ?1", -1, &remove, nullptr);
    beacon::encoded_events texts;
    for (auto _ : state) {
        state.PauseTiming();
        commit_drained(d, outbox, batch);
        state.ResumeTiming();
        for (;;) {
            texts.clear();
            std::int64_t last = 0;
            sqlite3_bind_int64(select, 1, state.range(0));
            while (sqlite3_step(select) == SQLITE_ROW) {
                last = sqlite3_column_int64(select, 0);
                texts.push_back({reinterpret_cast<const char*>(sqlite3_column_text(select, 1)),
                                 static_cast<std::size_t>(sqlite3_column_bytes(select, 1))});
            }
            sqlite3_reset(select);
            if (texts.empty()) break;
            f.forward(texts);
            sqlite3_bind_int64(remove, 1, last);
            sqlite3_step(remove);
            sqlite3_reset(remove);
        }
    }
    sqlite3_finalize(select);
    sqlite3_finalize(remove);
    sqlite3_close(own);
    state.SetItemsProcessed(state.iterations() * drained);
}
BENCHMARK(BM_hand_drain)->Arg(100)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
