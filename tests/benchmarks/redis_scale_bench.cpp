// Scaling out with Redis, side by side with redis-benchmark on the same server in the same run:
// a batch of 100 (one LPUSH) vs `-t lpush -P 100`; 50 producer threads each committing units of
// work (one event each) through one listener vs `-t lpush -c 50 -P 1`; XADD batches of 100 (in a
// transaction, and pipelined without one) vs redis-benchmark running the same XADD pipelined, and
// vs the same transactions sent by hiredis alone, the texts written beforehand (what the client
// library and the server cost without beacon), in five interleaved rounds; a consumer group's
// events/s with 1, 2 and 4 consumers (with beacon::simdjson built, also decoding with it, each
// beside the core's decoder), and a list consumer's. Starts its own redis-server on a free
// loopback port. Usage: redis_scale_bench [events] (default
// 100000). Prints a Markdown table; no figure is asserted anywhere.
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#ifdef BEACON_BENCH_SIMDJSON
#include <beacon/simdjson.hpp>
#endif
#include <beacon/unit_of_work.hpp>

#include "../redis_server.hpp"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t batch_size = 100;
constexpr int producer_threads = 50;
constexpr int xadd_rounds = 5;

beacon::event sample(int n) {
    beacon::event e("blog-api", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", "a" + std::to_string(n)}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a" + std::to_string(n);
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "a" + std::to_string(n)}, {"title", "Hello"}}});
    e.stamp();
    return e;
}

// redis-benchmark's requests per second for `args` (a -t test, or a command of its own).
double redis_benchmark(int port, int requests, int clients, std::size_t pipeline, const std::string& args) {
    const std::string command = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -c " +
                                std::to_string(clients) + " -n " + std::to_string(requests) + " -P " +
                                std::to_string(pipeline) + " --csv " + args;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run redis-benchmark (Debian: redis-tools)");
    std::string out;
    char buffer[512];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
    // "test","rps",...  then  "<test>","123456.79",...
    const auto row = out.find('\n');
    const auto at = row == std::string::npos ? row : out.find("\",\"", row);
    if (at == std::string::npos) throw std::runtime_error("unexpected redis-benchmark output: " + out);
    return std::stod(out.substr(at + 3));
}

/// The median of `rates` (not empty).
double median(std::vector<double> rates) {
    std::sort(rates.begin(), rates.end());
    const std::size_t n = rates.size();
    return n % 2 == 1 ? rates[n / 2] : (rates[n / 2 - 1] + rates[n / 2]) / 2;
}

template <class F>
double per_second(int events, F&& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    return events / took.count();
}

std::string row(const std::string& what, double rate, double peer) {
    std::ostringstream line;
    line << "| " << what << " | " << std::fixed << std::setprecision(0) << rate << " | " << std::setprecision(2)
         << rate / peer << " |";
    return line.str();
}

std::vector<std::vector<beacon::event>> batches_of(const std::vector<beacon::event>& events) {
    std::vector<std::vector<beacon::event>> out;
    for (std::size_t i = 0; i < events.size(); i += batch_size) {
        const auto end = events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + batch_size));
        out.emplace_back(events.begin() + static_cast<std::ptrdiff_t>(i), end);
    }
    return out;
}

// Events per second of beacon's XADD transactions (MULTI, an XADD per text, EXEC) sent by hiredis
// alone, the texts written beforehand: what the client library and the server cost, without
// beacon's encoding and pool.
double hiredis_transactions(int port, const std::vector<std::vector<std::string>>& batches, int events) {
    redisContext* c = redisConnect("127.0.0.1", port);
    if (!c || c->err) throw std::runtime_error("cannot connect to redis-server");
    const double rate = per_second(events, [&] {
        for (const auto& texts : batches) {
            redisAppendCommand(c, "MULTI");
            for (const auto& text : texts) {
                const char* argv[] = {"XADD", "bench.hiredis", "MAXLEN", "~", "1000000", "*", "event", text.data()};
                const std::size_t lengths[] = {4, 13, 6, 1, 7, 1, 5, text.size()};
                redisAppendCommandArgv(c, 8, argv, lengths);
            }
            redisAppendCommand(c, "EXEC");
            for (std::size_t i = 0; i < texts.size() + 2; ++i) {
                void* reply = nullptr;
                if (redisGetReply(c, &reply) != REDIS_OK) throw std::runtime_error("hiredis: " + std::string(c->errstr));
                freeReplyObject(reply);
            }
        }
    });
    redisFree(c);
    return rate;
}

// Events per second that `consumers` consumers of one group take out of a stream holding `events`.
// `consumers` members of a new group decoding with `format`; `tag` tells the group's name apart.
double group_rate(beacon_test::redis_server& server, const std::string& stream, int events, int consumers,
                  const beacon::wire_format& format = beacon::wire_format::envelope(), const std::string& tag = "") {
    const std::string group = "g" + std::to_string(consumers) + tag;
    std::atomic<int> handled{0};
    std::vector<std::unique_ptr<beacon::signal>> locals;
    std::vector<std::unique_ptr<beacon::redis::stream_consumer>> members;
    for (int i = 0; i < consumers; ++i) {
        locals.push_back(std::make_unique<beacon::signal>("core", "resource_changed"));
        locals.back()->connect([&](const beacon::event&) { ++handled; });
        beacon::redis::stream_consumer_options options;
        options.url = server.url();
        options.stream = stream;
        options.group = group;
        options.name = "c" + std::to_string(i);
        options.batch = 100;
        options.poll_timeout = std::chrono::milliseconds(50);
        options.format = format;
        members.push_back(std::make_unique<beacon::redis::stream_consumer>(*locals.back(), options));
    }
    const double rate = per_second(events, [&] {
        for (auto& m : members) m->start();
        while (handled.load() < events) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    for (auto& m : members) m->stop();
    members.clear();
    return rate;
}

// Events per second that one list consumer takes out of `list`, holding `events`.
double list_rate(beacon_test::redis_server& server, const std::string& list, int events) {
    std::atomic<int> handled{0};
    beacon::signal local("core", "resource_changed");
    local.connect([&](const beacon::event&) { ++handled; });
    beacon::redis::consumer_options options;
    options.url = server.url();
    options.list = list;
    options.poll_timeout = std::chrono::milliseconds(50);
    beacon::redis::consumer consumer(local, options);
    return per_second(events, [&] {
        consumer.start();
        while (handled.load() < events) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
}

}  // namespace

int main(int argc, char** argv) {
    const int events = argc > 1 ? std::stoi(argv[1]) : 100000;
    beacon_test::redis_server server;
    std::vector<beacon::event> prepared;
    for (int n = 0; n < events; ++n) prepared.push_back(sample(n));
    const std::size_t size = beacon::wire_format::envelope().encode(prepared.front()).size();
    const auto batches = batches_of(prepared);
    const std::string value(size, 'x');
    std::vector<std::string> table;

    // A batch of 100 in one LPUSH.
    {
        beacon::redis::forwarder_options options;
        options.url = server.url();
        const beacon::redis::forwarder listener(options);
        const double peer = redis_benchmark(server.port(), events, 1, batch_size, "-t lpush -d " + std::to_string(size));
        const double ours = per_second(events, [&] {
            for (const auto& batch : batches) listener.forward(batch);
        });
        table.push_back(row("redis-benchmark -t lpush -c 1 -P 100 -d " + std::to_string(size), peer, peer));
        table.push_back(row("beacon redis::forwarder.forward(batch of 100), one LPUSH", ours, peer));
    }
    // 50 producer threads, each committing units of work of one event; one listener shared.
    {
        const double peer = redis_benchmark(server.port(), events, producer_threads, 1, "-t lpush -d " + std::to_string(size));
        table.push_back(row("redis-benchmark -t lpush -c 50 -P 1 -d " + std::to_string(size), peer, peer));
        for (const std::size_t pool_size : {std::size_t(1), std::size_t(8)}) {
            beacon::registry host;
            beacon::resource_notifier notifier(host);
            beacon::redis::forwarder_options options;
            options.url = server.url();
            options.list = "bench.commits";
            options.pool_size = pool_size;
            notifier.on_after_commit(beacon::redis::forwarder(options));
            const int per_thread = events / producer_threads;
            const double ours = per_second(per_thread * producer_threads, [&] {
                std::vector<std::thread> threads;
                for (int t = 0; t < producer_threads; ++t) {
                    threads.emplace_back([&, t] {
                        for (int i = 0; i < per_thread; ++i) {
                            beacon::unit_of_work request(notifier);
                            request.notify(prepared[static_cast<std::size_t>(t * per_thread + i)]);
                            request.commit();
                        }
                    });
                }
                for (auto& thread : threads) thread.join();
            });
            table.push_back(row("beacon: 50 threads committing one event each, pool_size " + std::to_string(pool_size), ours, peer));
        }
    }
    // XADD batches of 100 (MULTI, 100 XADD, EXEC; and without the transaction) vs the same XADD
    // pipelined by redis-benchmark and vs the transactions sent by hiredis alone: each measured
    // once per round, the rounds one after the other, the median of each reported.
    {
        beacon::redis::stream_forwarder_options options;
        options.url = server.url();
        options.stream = "bench.stream";
        const beacon::redis::stream_forwarder atomic(options);
        options.stream = "bench.pipelined";
        options.transaction = false;
        const beacon::redis::stream_forwarder pipelined(options);
        std::vector<std::vector<std::string>> texts;
        for (const auto& batch : batches) {
            texts.emplace_back();
            for (const auto& e : batch) texts.back().push_back(beacon::wire_format::envelope().encode(e));
        }
        const auto forwarding = [&](const beacon::redis::stream_forwarder& forwarder) {
            return per_second(events, [&] {
                for (const auto& batch : batches) forwarder.forward(batch);
            });
        };
        std::vector<double> peer, ours, piped, bare;
        for (int round = 0; round < xadd_rounds; ++round) {
            peer.push_back(redis_benchmark(server.port(), events, 1, batch_size, "XADD bench.peer MAXLEN '~' 1000000 '*' event " + value));
            ours.push_back(forwarding(atomic));
            piped.push_back(forwarding(pipelined));
            bare.push_back(hiredis_transactions(server.port(), texts, events));
        }
        const std::string rounds = " (median of " + std::to_string(xadd_rounds) + " interleaved rounds)";
        const double peer_rate = median(peer), ours_rate = median(ours), bare_rate = median(bare);
        table.push_back(row("redis-benchmark -P 100 XADD bench.peer MAXLEN ~ 1000000 * event <" + std::to_string(size) + " bytes>" + rounds,
                            peer_rate, peer_rate));
        table.push_back(row("beacon redis::stream_forwarder.forward(batch of 100), MULTI/XADD x100/EXEC", ours_rate, peer_rate));
        table.push_back(row("the same with transaction = false: XADD x100 pipelined", median(piped), peer_rate));
        table.push_back(row("hiredis alone: the same transactions, texts written beforehand", bare_rate, peer_rate));
        table.push_back(row("beacon's stream_forwarder (transactions) against hiredis alone", ours_rate, bare_rate));
    }
    // A consumer group taking the events out of that stream, with 1, 2 and 4 consumers.
    {
        // Each group size with the core's decoder and, with beacon::simdjson built, the same right
        // after with simdjson's (issue 25, item 1), its ratio to the core's.
        double one = 0;
        for (const int consumers : {1, 2, 4}) {
            const double core = group_rate(server, "bench.stream", events, consumers);
            if (consumers == 1) one = core;
            table.push_back(row(consumers == 1 ? "consumer group, 1 consumer (XREADGROUP COUNT 100, an XACK written per entry)"
                                               : "consumer group, " + std::to_string(consumers) + " consumers",
                                core, one));
#ifdef BEACON_BENCH_SIMDJSON
            const double fast = group_rate(server, "bench.stream", events, consumers, beacon::simdjson::envelope(), "simdjson");
            table.push_back(row("the same, decoding with beacon::simdjson::envelope() (ratio to the row above)", fast, core));
#endif
        }
        // The list the batches of 100 went to, taken by one list consumer (BLMOVE, then LREM).
        table.push_back(row("list consumer, 1 consumer (a BLMOVE and an LREM per message)",
                            list_rate(server, "beacon.events", events), one));
    }

    std::cout << events << " events of " << size << " bytes (beacon's envelope), local redis-server, "
              << std::thread::hardware_concurrency() << " hardware threads\n\n"
              << "| workload | events/s | ratio to the redis-benchmark (or first) row above |\n|---|---|---|\n";
    for (const auto& line : table) std::cout << line << "\n";
    return 0;
}
