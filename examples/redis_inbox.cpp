// A worker keeping its own SQLite read model from a Redis list: each event applied once, however often it comes.
// The inbox records each event's id in the transaction that applies it, so a producer's retry, a
// redelivery after a crash or a restart of the worker never applies an event twice.
// Usage: redis_inbox publish <redis-url> <event numbers...>   (a number twice: sent twice)
//        redis_inbox consume <redis-url> <database file> <events to apply before stopping>
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/sqlite.hpp>

#include <sqlite3.h>

#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>

namespace {

// Article n's publication, with an id of its own: the same n gives the same event (and id) again.
beacon::event published(int n) {
    beacon::event e("blog", {{"title", "Article " + std::to_string(n)}});
    e.action = beacon::action::create;
    e.resource_name = "article";
    e.uri = "/articles/" + std::to_string(n);
    e.timestamp = 1764700000000 + n;
    e.id = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-" + std::string(11, '0') + std::to_string(n % 10));
    return e;
}

void execute(sqlite3* db, const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
        const std::string text = message ? message : "?";
        sqlite3_free(message);
        throw std::runtime_error(text);
    }
}

// The receiver's effect: a row of the read model, written through the inbox's connection.
void insert_article(sqlite3* db, const std::string& uri, const std::string& title) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO articles (uri, title) VALUES (?1, ?2)", -1, &statement, nullptr);
    sqlite3_bind_text(statement, 1, uri.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(statement, 2, title.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(statement);
    sqlite3_finalize(statement);
    if (rc != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
}

long long count(sqlite3* db, const std::string& table) {
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &statement, nullptr);
    const long long n = sqlite3_step(statement) == SQLITE_ROW ? sqlite3_column_int64(statement, 0) : -1;
    sqlite3_finalize(statement);
    return n;
}

}  // namespace

int main(int argc, char** argv) {
    const std::string mode = argc > 2 ? argv[1] : "";
    if (mode == "publish") {
        beacon::redis::forwarder_options options;
        options.url = argv[2];
        beacon::redis::forwarder forwarder(options);
        for (int i = 3; i < argc; ++i) forwarder.forward(published(std::stoi(argv[i])));
        std::cout << "producer: sent " << argc - 3 << " events\n";
        return 0;
    }
    if (mode != "consume" || argc < 5) {
        std::cerr << "usage: redis_inbox publish <url> <n...> | consume <url> <database> <events>\n";
        return 2;
    }
    sqlite3* raw = nullptr;
    sqlite3_open(argv[3], &raw);
    const std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, sqlite3_close);
    execute(db.get(), "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS articles (uri TEXT, title TEXT)");

    beacon::registry worker;
    auto& changed = worker.core().signal("resource_changed");
    beacon::redis::consumer_options options;
    options.url = argv[2];
    options.inbox = std::make_shared<beacon::sqlite::inbox>(db.get());  // same connection as the receiver
    beacon::redis::consumer consumer(changed, options, [](const beacon::failure& f) {
        std::cerr << "worker: " << f.describe() << "\n";
    });
    const int limit = std::stoi(argv[4]);
    int applied = 0;
    changed.connect([&](const beacon::event& e) {  // runs inside the inbox's transaction
        insert_article(db.get(), e.uri, e.data.value("title", ""));
        std::cout << "worker: applied " << e.uri << "\n";
        if (++applied == limit) consumer.stop();
    });
    consumer.run();
    std::cout << "worker: applied " << applied << ", dropped " << consumer.duplicates_dropped()
              << " duplicate(s); the read model holds " << count(db.get(), "articles") << " articles, the inbox "
              << count(db.get(), "beacon_inbox") << " ids\n";
    return 0;
}
