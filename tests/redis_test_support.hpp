#pragma once
// Helpers shared by the Redis bridge's tests: a shell, the message a bad URL gets, numbered
// events, the worker side of a test (a local signal collecting what a consumer re-sends, and what
// it reports), a listener and quick consumer options for a URL, and a host whose configured redis
// listeners publish after commit.
#include <beacon/redis.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include "redis_server.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace beacon_test {

using namespace std::chrono_literals;

// What a shell command prints on stdout.
inline std::string shell(const std::string& command) {
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    std::string out;
    char buffer[4096];
    while (const auto n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    ::pclose(pipe);
    return out;
}

// The message of the config_error parsing `url` throws, or "" when it parses.
inline std::string url_error(const std::string& url) {
    try {
        beacon::redis::detail::parse_redis_url(url);
    } catch (const beacon::config_error& e) {
        return e.what();
    }
    return {};
}

inline beacon::event numbered(int n) {
    beacon::event e("producer", {{"n", n}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/b/collections/c/records/r" + std::to_string(n);
    e.stamp();
    return e;
}

// The worker side of a test: a local signal whose receiver collects what a consumer re-sends into
// it (in the consumer's thread), and what the consumer reports.
struct worker_side {
    beacon::signal local{"core", "resource_changed"};
    std::mutex mutex;
    std::vector<beacon::event> events;
    std::vector<std::string> errors;
    std::vector<std::string> wheres;  // each failure's `where`
    std::unique_ptr<beacon::redis::consumer> consumer;  // last: destroyed (and joined) first

    worker_side() {
        local.connect([this](const beacon::event& e) {
            std::lock_guard lock(mutex);
            events.push_back(e);
        });
    }
    // Starts a consumer with `options` in a thread of its own.
    void start(const beacon::redis::consumer_options& options) {
        consumer = std::make_unique<beacon::redis::consumer>(local, options, [this](const beacon::failure& f) {
            std::lock_guard lock(mutex);
            errors.push_back(f.describe());
            wheres.push_back(f.where);
        });
        consumer->start();
    }
    // Stops the consumer and waits for its thread.
    void stop() {
        consumer->stop();
        consumer->join();
    }
    std::size_t event_count() {
        std::lock_guard lock(mutex);
        return events.size();
    }
    std::size_t error_count() {
        std::lock_guard lock(mutex);
        return errors.size();
    }
    std::string first_error() {
        std::lock_guard lock(mutex);
        return errors.empty() ? std::string() : errors.front();
    }
    std::vector<int> numbers() {
        std::lock_guard lock(mutex);
        std::vector<int> out;
        for (const auto& e : events) out.push_back(e.data.at("n").get<int>());
        return out;
    }
};

inline beacon::redis::forwarder listener_for(const std::string& url, const std::string& list = "beacon.events",
                                    const std::string& channel = "", std::chrono::milliseconds timeout = 2000ms) {
    beacon::redis::forwarder_options o;
    o.url = url;
    o.list = list;
    o.channel = channel;
    o.timeout = timeout;
    return beacon::redis::forwarder(o);
}

inline beacon::redis::consumer_options quick(const std::string& url) {
    beacon::redis::consumer_options o;
    o.url = url;
    o.poll_timeout = 100ms;
    o.backoff_min = 10ms;
    o.backoff_max = 200ms;
    return o;
}

// A host whose configured listeners of type "redis" publish after commit through `notifier`, whose
// error handler collects into `failures`.
struct notifier_host {
    redis_server server;
    beacon::registry host;
    std::vector<std::string> failures;
    beacon::resource_notifier notifier{host, [this](const beacon::failure& f) { failures.push_back(f.message()); }};
    beacon::listener_types types;

    notifier_host() { beacon::redis::add_listener_types(types, &notifier); }
};


}  // namespace beacon_test
