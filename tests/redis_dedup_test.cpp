// Duplicates dropped by id (<beacon/redis/dedup.hpp>), against a real redis-server that each test
// starts on a free loopback port: the list consumer's in-memory window (its bound, nil ids, off),
// the Redis record (seen by another consumer, a restarted one; its TTL; refused by the server;
// the server killed while marking), the stream consumer's (an entry appended twice, a pending
// entry taken over after its id was recorded), the SQLite inbox taken by the list and stream
// consumers (a locked database, a redelivery), and a list consumer SIGKILLed 20 times over
// 10,000 events: without dedup, with the Redis record, with the inbox.
#include <beacon/redis/dedup.hpp>

#include <beacon/redis.hpp>
#include <beacon/sqlite.hpp>

#include "redis_stream_test_support.hpp"
#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::listener_for;
using beacon_test::numbered;
using beacon_test::quick;
using beacon_test::redis_server;
using beacon_test::worker_side;

namespace {

beacon::redis::consumer_options recorded(const std::string& url) {
    auto o = quick(url);
    o.dedup.in_redis = true;
    return o;
}

// The event's envelope, pushed as a message of its own (the same id each time).
void push(redis_server& server, const beacon::event& e, const std::string& list = "beacon.events") {
    server.command({"LPUSH", list, beacon::wire_format::envelope().encode(e)});
}

long long exists(redis_server& server, const std::string& key) { return server.command({"EXISTS", key})->integer; }

}  // namespace

TEST_CASE("a list consumer drops an event whose id it has delivered; nil ids are never dropped",
          "[redis][dedup][list]") {
    redis_server server;
    const auto one = numbered(1), two = numbered(2);
    const beacon::event anonymous = [] {
        auto e = numbered(3);
        e.id = beacon::event_id();  // a producer that sends no id
        return e;
    }();
    for (const auto* e : {&one, &one, &two, &anonymous, &one, &anonymous, &two}) push(server, *e);

    worker_side got;
    got.start(quick(server.url()));  // the in-memory window is on by default
    REQUIRE(eventually([&] { return got.event_count() == 4 && got.consumer->duplicates_dropped() == 3; }));
    got.stop();
    CHECK(got.numbers() == std::vector<int>{1, 2, 3, 3});
    CHECK(got.errors.empty());
    CHECK(server.llen("beacon.events") == 0);  // the duplicates are removed all the same
    CHECK(server.llen("beacon.events.processing") == 0);
    CHECK(server.command({"KEYS", "*seen*"})->elements == 0);  // nothing in Redis by default
}

TEST_CASE("the window holds the last N ids: an id older than that is delivered again; 0 turns it off",
          "[redis][dedup][list]") {
    redis_server server;
    const auto a = numbered(1), b = numbered(2), c = numbered(3), d = numbered(4);
    for (const auto* e : {&a, &b, &a, &c, &d, &a}) push(server, *e);
    worker_side got;
    auto options = quick(server.url());
    options.dedup.window = 2;
    got.start(options);
    REQUIRE(eventually([&] { return got.event_count() == 5; }));
    got.stop();
    CHECK(got.numbers() == std::vector<int>{1, 2, 3, 4, 1});  // the second a dropped, the third forgotten
    CHECK(got.consumer->duplicates_dropped() == 1);

    push(server, a);
    push(server, a);
    worker_side off;
    options.dedup.window = 0;
    off.start(options);
    REQUIRE(eventually([&] { return off.event_count() == 2; }));
    off.stop();
    CHECK(off.consumer->duplicates_dropped() == 0);
}

TEST_CASE("the Redis record is seen by another consumer and by a restarted one, until its TTL",
          "[redis][dedup][list]") {
    redis_server server;
    const auto one = numbered(1), two = numbered(2);
    push(server, one);
    auto options = recorded(server.url());
    options.dedup.ttl = 60s;
    {
        worker_side first;
        first.start(options);
        REQUIRE(eventually([&] { return first.event_count() == 1; }));
        first.stop();
    }
    const std::string key = "beacon.events.seen:" + one.id.to_string();
    REQUIRE(exists(server, key) == 1);
    const auto ttl = server.command({"PTTL", key})->integer;
    CHECK((ttl > 50000 && ttl <= 60000));

    push(server, one);  // redelivered, to a new consumer (a restart, or another one of the list)
    push(server, two);
    worker_side second;
    second.start(options);
    REQUIRE(eventually([&] { return second.event_count() == 1 && second.consumer->duplicates_dropped() == 1; }));
    REQUIRE(eventually([&] { return server.llen("beacon.events") == 0 && server.llen("beacon.events.processing") == 0; }));
    second.stop();
    CHECK(second.numbers() == std::vector<int>{2});

    // A short TTL: once the record expires, the id is new again to a consumer that never saw it.
    options.dedup.ttl = 100ms;
    options.dedup.prefix = "short:";
    const auto three = numbered(3);
    push(server, three);
    {
        worker_side first;
        first.start(options);
        REQUIRE(eventually([&] { return first.event_count() == 1; }));
        first.stop();
    }
    REQUIRE(eventually([&] { return exists(server, "short:" + three.id.to_string()) == 0; }));
    push(server, three);
    worker_side later;
    later.start(options);
    REQUIRE(eventually([&] { return later.event_count() == 1; }));
    later.stop();
    CHECK(later.consumer->duplicates_dropped() == 0);
}

TEST_CASE("a Redis record the server refuses delivers the event, reported; a channel has none; a TTL must be positive",
          "[redis][dedup][list][failure]") {
    redis_server server;
    // A user allowed the list's keys only: the record's lookup and mark are refused (NOPERM).
    const auto url = server.user_url("worker", "~beacon.events*");
    const auto one = numbered(1);
    push(server, one);
    push(server, one);
    auto options = recorded(url);
    options.dedup.prefix = "elsewhere:";
    options.dedup.window = 0;  // the record alone
    worker_side got;
    got.start(options);
    REQUIRE(eventually([&] { return got.event_count() == 2 && got.error_count() == 4; }));
    REQUIRE(eventually([&] { return server.llen("beacon.events") == 0 && server.llen("beacon.events.processing") == 0; }));
    got.stop();
    CHECK_THAT(got.errors[0], Contains("[beacon.redis_error]") && Contains("EXISTS elsewhere:") &&
                                  Contains("NOPERM") && Contains("delivered as a new event"));
    CHECK_THAT(got.errors[1], Contains("SET elsewhere:") && Contains("acknowledged without a record"));

    auto channel = quick(server.url());
    channel.channel = "beacon.live";
    channel.dedup.in_redis = true;
    beacon::signal local("core", "resource_changed");
    CHECK_THROWS_WITH(beacon::redis::consumer(local, channel), Contains("[beacon.config_error] /dedup/in_redis"));
    auto no_ttl = recorded(server.url());
    no_ttl.dedup.ttl = 0ms;
    CHECK_THROWS_WITH(beacon::redis::consumer(local, no_ttl), Contains("/dedup/ttl") && Contains("positive TTL"));
}

TEST_CASE("a server killed while the consumer marks an id loses no event", "[redis][dedup][list][failure][restart]") {
    redis_server server(/*durable=*/true);
    for (int n = 1; n <= 5; ++n) push(server, numbered(n));
    worker_side got;
    bool killed = false;
    got.local.connect([&](const beacon::event& e) {
        // Event 3's receivers return to a dead server: its mark and removal cannot be sent.
        if (e.data.at("n") == 3 && !killed) {
            killed = true;
            server.stop(SIGKILL);
        }
    });
    got.start(recorded(server.url()));
    REQUIRE(eventually([&] { return got.error_count() >= 1; }));
    server.start();
    REQUIRE(eventually([&] {
        const auto n = got.numbers();
        return std::set<int>(n.begin(), n.end()).size() == 5 && server.llen("beacon.events") == 0 &&
               server.llen("beacon.events.processing") == 0;
    }));
    got.stop();
    // Event 3, unrecorded and not removed, is re-queued and delivered again: not lost. Its
    // receivers had returned, so this consumer's window holds its id and drops the redelivery.
    const auto numbers = got.numbers();
    for (int n : {1, 2, 3, 4, 5}) CHECK(std::count(numbers.begin(), numbers.end(), n) == 1);
    CHECK(got.consumer->duplicates_dropped() == 1);
    CHECK_THAT(got.first_error(), Contains("[beacon.redis_error]"));
}

namespace {

enum class guard { none, redis_record, inbox };

using database = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

// A connection to the SQLite database at `path`, in WAL mode with synchronous=NORMAL (a commit
// survives the process killed; the host's choice, as any SQLite user makes it).
database open_database(const std::string& path) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open(path.c_str(), &db);
    database owned(db, sqlite3_close);
    if (rc != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000; "
                         "CREATE TABLE IF NOT EXISTS effects (n INTEGER)",
                     nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw std::runtime_error(path + ": " + sqlite3_errmsg(db));
    }
    return owned;
}

// Runs `sql` on `db`, throwing on error (a receiver's effect).
void execute(sqlite3* db, const std::string& sql) {
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
}

// The effects table's numbers, one per effect applied.
std::vector<int> effects_in(const std::string& path) {
    auto db = open_database(path);
    sqlite3_stmt* statement = nullptr;
    REQUIRE(sqlite3_prepare_v2(db.get(), "SELECT n FROM effects", -1, &statement, nullptr) == SQLITE_OK);
    std::vector<int> out;
    while (sqlite3_step(statement) == SQLITE_ROW) out.push_back(sqlite3_column_int(statement, 0));
    sqlite3_finalize(statement);
    return out;
}

struct kill_figures {
    int duplicates = 0;  // deliveries beyond the first, over all ids
    int replayed = 0;    // of which, of the ids the producer sent twice
    int lost = 0;        // ids never delivered
};

// The lines of `path` (one per event handled).
std::vector<int> read_log(const std::string& path) {
    std::ifstream in(path);
    std::vector<int> out;
    for (int n; in >> n;) out.push_back(n);
    return out;
}

// A list consumer in a child process, logging each event as the last act of its receiver,
// SIGKILLed `kills` times at random moments over `total` events and restarted each time; then one
// more runs to the end. Halfway, the producer sends the first `replay` events again (the same
// ids: a relay replaying after a crash of its own). Counts the deliveries per event: the log's
// lines, or with the inbox the rows its receiver inserted into a SQLite table (the effect,
// committed with the inbox's record; the log then only tells the progress).
kill_figures kill_consumers(guard mode, int total, int kills, int replay) {
    redis_server server;
    std::vector<beacon::event> sent;
    for (int n = 0; n < total; ++n) sent.push_back(numbered(n));
    auto forwarder = listener_for(server.url());
    for (int from = 0; from < total; from += 500) {
        forwarder.forward(std::vector<beacon::event>(sent.begin() + from, sent.begin() + std::min(total, from + 500)));
    }
    char path[] = "/tmp/beacon-dedup-log-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    const std::string database_path = std::string(path) + ".db";
    auto options = quick(server.url());
    options.dedup.window = mode == guard::none ? 0 : beacon::id_window::default_capacity;
    options.dedup.in_redis = mode == guard::redis_record;

    const auto spawn = [&] {
        const pid_t child = ::fork();
        REQUIRE(child >= 0);
        if (child == 0) {
            try {
                beacon::signal local("core", "resource_changed");
                database db(nullptr, sqlite3_close);
                if (mode == guard::inbox) {
                    db = open_database(database_path);
                    options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get());
                }
                local.connect([&](const beacon::event& e) {
                    const std::string n = std::to_string(e.data.at("n").get<int>());
                    if (db) execute(db.get(), "INSERT INTO effects (n) VALUES (" + n + ")");  // the effect
                    const std::string line = n + "\n";
                    if (::write(fd, line.data(), line.size()) < 0) ::_exit(3);  // the effect, or the progress
                });
                beacon::redis::consumer(local, options).run();
            } catch (...) {
            }
            ::_exit(2);
        }
        return child;
    };
    std::mt19937 random(mode == guard::none ? 11 : mode == guard::redis_record ? 7 : 5);
    std::uniform_int_distribution<int> pause_us(0, 3000);
    for (int k = 1; k <= kills; ++k) {
        const pid_t child = spawn();
        const std::size_t until = static_cast<std::size_t>(total) * static_cast<std::size_t>(k) / static_cast<std::size_t>(kills + 1);
        REQUIRE(eventually([&] { return read_log(path).size() >= until; }, std::chrono::seconds(120)));
        std::this_thread::sleep_for(std::chrono::microseconds(pause_us(random)));  // a random moment
        ::kill(child, SIGKILL);
        ::waitpid(child, nullptr, 0);
        if (k == kills / 2) forwarder.forward(std::vector<beacon::event>(sent.begin(), sent.begin() + replay));
    }
    const pid_t last = spawn();
    REQUIRE(eventually([&] {
        return server.llen("beacon.events") == 0 && server.llen("beacon.events.processing") == 0;
    }, std::chrono::seconds(120)));
    ::kill(last, SIGKILL);
    ::waitpid(last, nullptr, 0);
    ::close(fd);

    std::map<int, int> deliveries;
    for (int n : mode == guard::inbox ? effects_in(database_path) : read_log(path)) ++deliveries[n];
    std::remove(path);
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((database_path + suffix).c_str());
    kill_figures figures;
    for (int n = 0; n < total; ++n) {
        const auto it = deliveries.find(n);
        if (it == deliveries.end()) {
            ++figures.lost;
        } else {
            figures.duplicates += it->second - 1;
            if (n < replay) figures.replayed += it->second - 1;
        }
    }
    return figures;
}

}  // namespace

// Each SIGKILL can duplicate the one event in hand, with or without the record: its receivers
// returned (logged) but the kill came before its removal reached the server; the record's mark
// travels with that removal, so it is missing too. What the record drops are the events delivered
// again after they were removed: here, the producer's replay, across the restarts. The inbox
// closes the gap: its record commits with the receiver's effect, so a kill leaves both or neither.
TEST_CASE("a list consumer SIGKILLed 20 times over 10,000 events loses nothing; with the inbox, no effect twice",
          "[redis][dedup][inbox][list][restart][kill][behaviour16]") {
    constexpr int kills = 20, replay = 500;
    const auto without = kill_consumers(guard::none, 10000, kills, replay);
    const auto with = kill_consumers(guard::redis_record, 10000, kills, replay);
    const auto inbox = kill_consumers(guard::inbox, 10000, kills, replay);
    const auto line = [](const char* what, const kill_figures& f) {
        std::cout << "  " << what << ": " << f.duplicates << " duplicates (" << f.replayed << " of replayed ids, "
                  << f.duplicates - f.replayed << " others), " << f.lost << " lost\n";
    };
    std::cout << "consumer-kill test (" << kills << " SIGKILLs over 10000 events, " << replay
              << " replayed by the producer):\n";
    line("without dedup", without);
    line("with the Redis record", with);
    line("with the SQLite inbox (effects counted in its database)", inbox);
    CHECK(without.lost == 0);
    CHECK(with.lost == 0);
    CHECK(inbox.lost == 0);
    CHECK(without.replayed >= replay);
    CHECK(without.duplicates <= replay + kills);
    CHECK(with.duplicates <= kills);  // at most the event in hand at each kill
    CHECK(inbox.duplicates == 0);
}

namespace {

beacon::redis::stream_consumer_options stream_quick(const std::string& url, const std::string& name) {
    beacon::redis::stream_consumer_options options;
    options.url = url;
    options.group = "g";
    options.name = name;
    options.poll_timeout = 50ms;
    options.backoff_min = 10ms;
    options.backoff_max = 100ms;
    options.claim_idle = 200ms;
    options.dedup.in_redis = true;
    return options;
}

struct stream_member {
    beacon::signal local{"core", "resource_changed"};
    std::mutex mutex;
    std::vector<int> numbers;
    std::unique_ptr<beacon::redis::stream_consumer> consumer;

    explicit stream_member(const beacon::redis::stream_consumer_options& options) {
        local.connect([this](const beacon::event& e) {
            std::lock_guard lock(mutex);
            numbers.push_back(e.data.at("n").get<int>());
        });
        consumer = std::make_unique<beacon::redis::stream_consumer>(local, options, [](const beacon::failure&) {});
        consumer->start();
    }
    std::vector<int> got() {
        std::lock_guard lock(mutex);
        return numbers;
    }
};

}  // namespace

TEST_CASE("the consumers of a stream group drop an event appended twice; a taken-over entry already recorded is dropped",
          "[redis][dedup][stream]") {
    redis_server server;
    auto forwarder = stream_test::stream_forwarder_for(server.url());
    const auto one = numbered(1), two = numbered(2), three = numbered(3);
    server.command({"XGROUP", "CREATE", "beacon.stream", "g", "0", "MKSTREAM"});
    // Entries 1 and 2 are read by a consumer that dies before acknowledging them; entry 1's
    // receivers had returned and its id was recorded (its XACK never reached the server).
    forwarder.forward(std::vector<beacon::event>{one, two});
    server.command({"XREADGROUP", "GROUP", "g", "dead", "COUNT", "2", "STREAMS", "beacon.stream", ">"});
    server.command({"SET", "beacon.stream.g.seen:" + one.id.to_string(), "1", "PX", "60000"});
    // A producer's retry appends event 3 twice.
    forwarder.forward(std::vector<beacon::event>{three, three});

    stream_member a(stream_quick(server.url(), "a"));
    stream_member b(stream_quick(server.url(), "b"));
    REQUIRE(eventually([&] {
        return server.command({"XPENDING", "beacon.stream", "g"})->element[0]->integer == 0 &&
               a.got().size() + b.got().size() == 2;
    }));
    auto numbers = a.got();
    const auto more = b.got();
    numbers.insert(numbers.end(), more.begin(), more.end());
    std::sort(numbers.begin(), numbers.end());
    CHECK(numbers == std::vector<int>{2, 3});  // 1 taken over and dropped, 3 once
    CHECK(a.consumer->duplicates_dropped() + b.consumer->duplicates_dropped() == 2);
    CHECK(a.consumer->options().dedup.prefix == "beacon.stream.g.seen:");
}

TEST_CASE("a list consumer's inbox that cannot commit is reported, and the event delivered once it can",
          "[redis][dedup][inbox][list][failure][behaviour16]") {
    redis_server server;
    char path[] = "/tmp/beacon-inbox-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    auto db = open_database(path);
    beacon::sqlite::inbox_options inbox_options;
    inbox_options.busy_timeout = 50ms;
    auto options = quick(server.url());
    options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get(), inbox_options);
    auto holder = open_database(path);
    execute(holder.get(), "BEGIN IMMEDIATE");  // another connection holds the write lock
    worker_side got;
    got.local.connect([&](const beacon::event& e) {
        execute(db.get(), "INSERT INTO effects (n) VALUES (" + std::to_string(e.data.at("n").get<int>()) + ")");
    });
    const auto one = numbered(1);
    push(server, one);
    got.start(options);
    REQUIRE(eventually([&] { return got.error_count() >= 2; }));  // retried with backoff, reported each time
    CHECK_THAT(got.first_error(), Contains("[beacon.sqlite_error]") && Contains("database is locked"));
    CHECK(got.event_count() == 0);
    CHECK(server.llen("beacon.events") + server.llen("beacon.events.processing") == 1);  // kept in Redis

    execute(holder.get(), "ROLLBACK");
    REQUIRE(eventually([&] { return got.event_count() == 1 && server.llen("beacon.events.processing") == 0; }));
    push(server, one);  // delivered again later: the inbox has it
    REQUIRE(eventually([&] { return got.consumer->duplicates_dropped() == 1 && server.llen("beacon.events") == 0; }));
    got.stop();
    CHECK(effects_in(path) == std::vector<int>{1});
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((std::string(path) + suffix).c_str());
}

TEST_CASE("a stream consumer with an inbox delivers an entry appended twice once", "[redis][dedup][inbox][stream][behaviour16]") {
    redis_server server;
    auto forwarder = stream_test::stream_forwarder_for(server.url());
    char path[] = "/tmp/beacon-inbox-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    auto db = open_database(path);
    const auto one = numbered(1), two = numbered(2);
    forwarder.forward(std::vector<beacon::event>{one, two, one});

    auto options = stream_quick(server.url(), "a");
    options.dedup.in_redis = false;
    options.dedup.window = 0;  // the inbox alone
    options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get());
    beacon::signal local("core", "resource_changed");
    local.connect([&](const beacon::event& e) {
        execute(db.get(), "INSERT INTO effects (n) VALUES (" + std::to_string(e.data.at("n").get<int>()) + ")");
    });
    beacon::redis::stream_consumer consumer(local, options, [](const beacon::failure&) {});
    consumer.start();
    REQUIRE(eventually([&] {
        return consumer.duplicates_dropped() == 1 &&
               server.command({"XPENDING", "beacon.stream", "g"})->element[0]->integer == 0;
    }));
    consumer.stop();
    consumer.join();
    auto effects = effects_in(path);
    std::sort(effects.begin(), effects.end());
    CHECK(effects == std::vector<int>{1, 2});
    for (const char* suffix : {"", "-wal", "-shm"}) std::remove((std::string(path) + suffix).c_str());
}
