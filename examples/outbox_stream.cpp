// A resource store on SQLite publishing through the outbox to a Redis stream, and a worker applying each event once through an inbox.
// The store commits each article and its event in one transaction (a vetoed one leaves neither);
// its relay publishes the outbox to the stream. The worker, one consumer of a group, applies each
// event to its own SQLite read model in the same transaction as the inbox's record of its id.
// Usage: outbox_stream store <redis-url> <database> <title>...   ("draft" in a title: vetoed)
//        outbox_stream worker <redis-url> <database> <messages to handle before stopping>
#include <beacon/beacon.hpp>
#include <beacon/redis.hpp>
#include <beacon/sqlite.hpp>
#include <beacon/unit_of_work.hpp>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using database = std::unique_ptr<sqlite3, int (*)(sqlite3*)>;

database open(const std::string& path) {
    sqlite3* raw = nullptr;
    sqlite3_open(path.c_str(), &raw);
    database db(raw, sqlite3_close);
    sqlite3_exec(db.get(), "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr);
    return db;
}

// Runs `sql` with `texts` bound to ?1, ?2...; throws on error.
void run(sqlite3* db, const std::string& sql, const std::vector<std::string>& texts = {}) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) throw std::runtime_error(sqlite3_errmsg(db));
    for (std::size_t i = 0; i < texts.size(); ++i) {
        sqlite3_bind_text(statement, static_cast<int>(i + 1), texts[i].c_str(), -1, SQLITE_TRANSIENT);
    }
    const int rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) throw std::runtime_error(sqlite3_errmsg(db));
}

long long count(sqlite3* db, const std::string& table) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &statement, nullptr);
    const long long n = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    return n;
}

int store(const std::string& url, const std::string& path, int argc, char** argv) {
    auto db = open(path);
    run(db.get(), "CREATE TABLE IF NOT EXISTS articles (title TEXT)");
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    beacon::sqlite::outbox outbox(db.get());
    reg.core().signal("resource_changed").connect(outbox.receiver());  // inside the transaction
    reg.core().signal("resource_changed").connect([](const beacon::event& e) {
        if (e.data.value("title", "").find("draft") != std::string::npos) throw std::runtime_error("drafts stay private");
    });
    for (int i = 4; i < argc; ++i) {
        const std::string title = argv[i];
        beacon::event e("store", {{"title", title}});
        e.action = beacon::action::create;
        e.resource_name = "article";
        e.uri = "/articles/" + std::to_string(i - 3);
        run(db.get(), "BEGIN");
        try {
            beacon::unit_of_work uow(notifier);
            run(db.get(), "INSERT INTO articles VALUES (?1)", {title});
            notifier.notify(e);
            uow.commit([&] { run(db.get(), "COMMIT"); });
            std::cout << "store: committed \"" << title << "\"\n";
        } catch (const std::exception& refused) {
            if (sqlite3_get_autocommit(db.get()) == 0) run(db.get(), "ROLLBACK");
            std::cout << "store: rolled back \"" << title << "\": " << refused.what() << "\n";
        }
    }
    beacon::redis::stream_forwarder_options to_stream;
    to_stream.url = url;
    beacon::redis::stream_forwarder forwarder(to_stream);
    beacon::sqlite::relay relay(path, forwarder);  // hands the stored envelopes to XADD as they are
    std::size_t published = 0;
    while (const auto n = relay.run_once()) published += n;  // a host runs relay.start() instead
    std::cout << "store: " << count(db.get(), "articles") << " articles, relay published " << published
              << " events, outbox pending " << outbox.pending() << "\n";
    return 0;
}

int worker(const std::string& url, const std::string& path, int messages) {
    auto db = open(path);
    run(db.get(), "CREATE TABLE IF NOT EXISTS read_model (uri TEXT, title TEXT)");
    beacon::registry reg;
    auto& changed = reg.core().signal("resource_changed");
    beacon::redis::stream_consumer_options options;
    options.url = url;
    options.name = "worker-1";
    options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get());  // same connection as the receiver
    std::atomic<int> applied{0};  // written on the consumer's thread, read here
    changed.connect([&](const beacon::event& e) {  // runs inside the inbox's transaction
        run(db.get(), "INSERT INTO read_model VALUES (?1, ?2)", {e.uri, e.data.value("title", "")});
        std::cout << "worker: applied " << e.uri << " \"" << e.data.value("title", "") << "\"\n";
        ++applied;
    });
    beacon::redis::stream_consumer consumer(changed, options);
    consumer.start();
    while (applied + static_cast<int>(consumer.duplicates_dropped()) < messages) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    consumer.stop();
    consumer.join();
    std::cout << "worker: applied " << applied.load() << ", dropped " << consumer.duplicates_dropped()
              << " duplicate(s); the read model holds " << count(db.get(), "read_model") << " articles\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 3 ? argv[1] : "";
    if (mode == "store") return store(argv[2], argv[3], argc, argv);
    if (mode == "worker" && argc > 4) return worker(argv[2], argv[3], std::stoi(argv[4]));
    std::cerr << "usage: outbox_stream store <url> <database> <title>... | worker <url> <database> <messages>\n";
    return 2;
}
