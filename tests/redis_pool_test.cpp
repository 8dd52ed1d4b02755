// Producers that scale with threads: many threads forwarding at once share a pool of connections
// whose requests are coalesced into pipelines, each caller getting exactly its own replies and
// failures; against a real redis-server on a free loopback port.
#include <beacon/redis/detail/pool.hpp>
#include <beacon/redis.hpp>

#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::redis_server;

namespace {

beacon::event from_thread(int thread, int n) {
    beacon::event e("producer", {{"thread", thread}, {"n", n}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/records/t" + std::to_string(thread) + "-" + std::to_string(n);
    e.stamp();
    return e;
}

// Clients connected to the server besides the test's own.
int other_clients(redis_server& server) {
    const std::string list = server.command({"CLIENT", "LIST"})->str;
    int lines = 0;
    for (char c : list) lines += c == '\n';
    return lines - 1;
}

}  // namespace

TEST_CASE("forwards from many threads at once share the pool's connections; each thread's events stay in order",
          "[redis][pool][stream]") {
    redis_server server;
    const std::size_t pool_size = GENERATE(as<std::size_t>{}, 1, 4);
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    options.pool_size = pool_size;
    const beacon::redis::stream_forwarder listener(options);
    constexpr int threads = 16, per_thread = 100;
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            for (int n = 0; n < per_thread; n += 2) {
                if (n % 4 == 0) {
                    listener.forward(from_thread(t, n));
                    listener.forward(from_thread(t, n + 1));
                } else {
                    listener.forward(std::vector<beacon::event>{from_thread(t, n), from_thread(t, n + 1)});
                }
            }
        });
    }
    for (auto& p : producers) p.join();
    CHECK(other_clients(server) <= static_cast<int>(pool_size));

    const auto entries = server.command({"XRANGE", "beacon.stream", "-", "+"});
    REQUIRE(entries->elements == threads * per_thread);
    std::map<int, int> next;  // per thread: the next n expected
    bool in_order = true;
    for (std::size_t i = 0; i < entries->elements; ++i) {
        const auto e = beacon::parse_event(entries->element[i]->element[1]->element[1]->str);
        const int t = e.data.at("thread"), n = e.data.at("n");
        in_order = in_order && next[t] == n;
        next[t] = n + 1;
    }
    CHECK(in_order);
}

TEST_CASE("in a shared pipeline each caller gets its own replies and its own error replies", "[redis][pool]") {
    redis_server server;
    server.command({"SET", "text", "not a number"});
    beacon::redis::detail::redis_pool pool(beacon::redis::detail::parse_redis_url(server.url()), 2000ms, 2);
    constexpr int threads = 8, rounds = 200;
    std::atomic<int> wrong{0}, errors{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < threads; ++t) {
        callers.emplace_back([&, t] {
            const std::string key = "counter." + std::to_string(t);
            long long count = 0;
            for (int i = 1; i <= rounds; ++i) {
                if (t % 2 == 1 && i % 10 == 0) {
                    try {
                        pool.pipeline({{"INCR", "text"}});
                        ++wrong;
                    } catch (const beacon::redis::redis_error& e) {
                        const std::string what = e.what();
                        if (what.find("INCR text") == std::string::npos ||
                            what.find("not an integer") == std::string::npos) {
                            ++wrong;
                        }
                        ++errors;
                    }
                    continue;
                }
                const auto replies = pool.pipeline({{"INCR", key}, {"GET", key}});
                ++count;
                if (replies.size() != 2 || replies[0]->integer != count || std::stoll(replies[1]->str) != count) ++wrong;
            }
        });
    }
    for (auto& c : callers) c.join();
    CHECK(wrong == 0);
    CHECK(errors == threads / 2 * rounds / 10);
}

TEST_CASE("a server gone fails the callers of the pipelines in flight; the pool reconnects when it is back",
          "[redis][pool][failure]") {
    redis_server server;
    beacon::redis::stream_forwarder_options options;
    options.url = server.url();
    options.pool_size = 2;
    options.timeout = 500ms;
    const beacon::redis::stream_forwarder listener(options);
    listener.forward(from_thread(0, 0));
    server.stop(SIGKILL);
    std::atomic<int> failed{0};
    std::vector<std::thread> callers;
    for (int t = 0; t < 4; ++t) {
        callers.emplace_back([&, t] {
            try {
                listener.forward(from_thread(t, 1));
            } catch (const beacon::redis::redis_error& e) {
                // Each caller's own exception, with the message of the one that failed the round.
                const std::string what = e.what();
                const bool one_prefix = what.rfind("[beacon.redis_error] ", 0) == 0 && what.find("[beacon.", 1) == std::string::npos;
                if (one_prefix && what.find(std::to_string(server.port())) != std::string::npos) ++failed;
            }
        });
    }
    for (auto& c : callers) c.join();
    CHECK(failed == 4);
    server.start();
    listener.forward(from_thread(0, 2));
    CHECK(server.command({"XLEN", "beacon.stream"})->integer == 1);
}
