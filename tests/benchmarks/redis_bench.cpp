// Events per second forwarded by beacon::redis::forwarder to a local Redis, one by one and
// pipelined, next to redis-benchmark's LPUSH on the same server in the same run; then events per
// second a list consumer delivers with duplicate detection off, with its in-memory window (the
// default), and with the Redis record too (dedup_options). Starts its own
// redis-server on a free loopback port. Usage: redis_bench [events] (default 100000).
// Prints a Markdown table; no figure is asserted anywhere.
#include <beacon/redis.hpp>
#include <beacon/signal.hpp>

#include "../redis_server.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr std::size_t batch_size = 100;

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

// redis-benchmark's LPUSH requests per second (`clients` connections; `pipeline` requests per
// round trip).
double redis_benchmark_lpush(int port, int requests, std::size_t value_size, std::size_t pipeline, int clients = 1) {
    const std::string command = "redis-benchmark -h 127.0.0.1 -p " + std::to_string(port) + " -t lpush -c " +
                                std::to_string(clients) + " -n " +
                                std::to_string(requests) + " -d " + std::to_string(value_size) + " -P " +
                                std::to_string(pipeline) + " --csv";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) throw std::runtime_error("cannot run redis-benchmark (Debian: redis-tools)");
    std::string out;
    char buffer[512];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
    // "test","rps",...  then  "LPUSH","123456.79",...
    const auto at = out.find("\"LPUSH\",\"");
    if (at == std::string::npos) throw std::runtime_error("unexpected redis-benchmark output: " + out);
    return std::stod(out.substr(at + 9));
}

// Events per second a list consumer of `url` delivers, `events` of them waiting in its list, with
// duplicate detection as `dedup` says.
double consumed_per_second(const std::string& url, const std::vector<std::vector<beacon::event>>& batches, int events,
                           const beacon::redis::dedup_options& dedup) {
    beacon::redis::forwarder_options to;
    to.url = url;
    beacon::redis::forwarder fill(to);
    for (const auto& batch : batches) fill.forward(batch);
    beacon::redis::consumer_options options;
    options.url = url;
    options.dedup = dedup;
    options.dedup.prefix = "bench." + std::to_string(dedup.window) + (dedup.in_redis ? ".redis:" : ":");
    beacon::signal local("core", "resource_changed");
    beacon::redis::consumer consumer(local, options);
    int got = 0;
    local.connect([&](const beacon::event&) {
        if (++got == events) consumer.stop();
    });
    const auto start = std::chrono::steady_clock::now();
    consumer.run();
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    return events / took.count();
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

}  // namespace

int main(int argc, char** argv) {
    const int events = argc > 1 ? std::stoi(argv[1]) : 100000;
    beacon_test::redis_server server;
    beacon::redis::forwarder_options options;
    options.url = server.url();
    beacon::redis::forwarder listener(options);

    std::vector<beacon::event> prepared;
    for (int n = 0; n < events; ++n) prepared.push_back(sample(n));
    const std::size_t size = nlohmann::json(prepared.front()).dump().size();

    std::size_t encoded_bytes = 0;
    const double encode_only = per_second(events, [&] {
        for (const auto& e : prepared) encoded_bytes += nlohmann::json(e).dump().size();
    });
    const double peer_single = redis_benchmark_lpush(server.port(), events, size, 1);
    const double one_by_one = per_second(events, [&] {
        for (const auto& e : prepared) listener.forward(e);
    });
    beacon::signal changed("core", "after_resource_changed");
    changed.connect(listener);
    const double through_signal = per_second(events, [&] {
        for (const auto& e : prepared) changed.send(e);
    });
    const double peer_pipelined = redis_benchmark_lpush(server.port(), events, size, batch_size);
    const double peer_default = redis_benchmark_lpush(server.port(), events, size, 1, 50);
    std::vector<std::vector<beacon::event>> batches;
    for (std::size_t i = 0; i < prepared.size(); i += batch_size) {
        const auto end = prepared.begin() + static_cast<std::ptrdiff_t>(std::min(prepared.size(), i + batch_size));
        batches.emplace_back(prepared.begin() + static_cast<std::ptrdiff_t>(i), end);
    }
    const double pipelined = per_second(events, [&] {
        for (const auto& batch : batches) listener.forward(batch);
    });

    std::cout << events << " events of " << size << " bytes of JSON, one connection, local redis-server\n\n"
              << "| workload | events/s | ratio to the redis-benchmark row above |\n|---|---|---|\n"
              << row("redis-benchmark -t lpush -c 1 -P 1 -d " + std::to_string(size), peer_single, peer_single) << "\n"
              << row("beacon forward(event), one by one", one_by_one, peer_single) << "\n"
              << row("beacon signal::send to a connected redis::forwarder", through_signal, peer_single) << "\n"
              << row("redis-benchmark -t lpush -c 1 -P " + std::to_string(batch_size), peer_pipelined, peer_pipelined) << "\n"
              << row("beacon forward(batch of " + std::to_string(batch_size) + "), one LPUSH", pipelined, peer_pipelined)
              << "\n"
              << row("beacon's JSON encoding alone (to_json + dump, no Redis)", encode_only, peer_pipelined) << "\n"
              << row("redis-benchmark -t lpush -c 50 -P 1 (its default: 50 clients)", peer_default, peer_default) << "\n"
              << "\n(" << encoded_bytes << " bytes encoded)\n";

    // The consumer's side: each event popped (BLMOVE), delivered, removed (LREM): two round trips;
    // the Redis record adds a lookup (EXISTS, a third) and a SET in the removal's round trip.
    const int consumed = std::min(events, 20000);
    const std::vector<std::vector<beacon::event>> first(batches.begin(),
                                                         batches.begin() + static_cast<std::ptrdiff_t>(
                                                             (static_cast<std::size_t>(consumed) + batch_size - 1) / batch_size));
    beacon::redis::dedup_options off;
    off.window = 0;
    const beacon::redis::dedup_options in_memory;
    beacon::redis::dedup_options recorded;
    recorded.in_redis = true;
    const double rate_off = consumed_per_second(server.url(), first, consumed, off);
    const double rate_memory = consumed_per_second(server.url(), first, consumed, in_memory);
    const double rate_recorded = consumed_per_second(server.url(), first, consumed, recorded);
    std::cout << "\n" << consumed << " events consumed from a list by one redis::consumer\n\n"
              << "| duplicate detection | events/s | ratio to off |\n|---|---|---|\n"
              << row("off (dedup.window = 0)", rate_off, rate_off) << "\n"
              << row("in-memory window of " + std::to_string(in_memory.window) + " ids (the default)", rate_memory, rate_off)
              << "\n"
              << row("in-memory window and the Redis record (dedup.in_redis)", rate_recorded, rate_off) << "\n";
    return 0;
}
