#pragma once
/// \file
/// Webhook delivery (Standard Webhooks): a webhook::sender POSTs the events a hub passes to its
/// endpoints' consumers, each signed (`webhook-id` = the event's id, `webhook-timestamp`,
/// `webhook-signature`), on worker threads behind a bounded queue; failed attempts are retried with
/// capped exponential backoff and jitter, 429 and 503 wait as Retry-After says, 410 Gone disables
/// the endpoint. Requests never reach loopback, private or link-local addresses unless the endpoint
/// allows them. Every attempt is counted; what is given up is reported (part::outbound).

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/hub.hpp>
#include <beacon/outbound/detail/endpoint_guard.hpp>
#include <beacon/outbound/detail/request.hpp>
#include <beacon/outbound/signature.hpp>
#include <beacon/wire_format.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace beacon::outbound {

/// When a failed attempt is made again: waits that double from `first_delay` up to `max_delay`,
/// each shortened by a random fraction of at most `jitter`.
struct retry_policy {
    std::size_t max_attempts = 8;                                 ///< Attempts of one event, the first included (at least 1).
    std::chrono::milliseconds first_delay{std::chrono::seconds(5)};  ///< The wait before the second attempt.
    std::chrono::milliseconds max_delay{std::chrono::hours(1)};   ///< The longest wait, Retry-After's included.
    double jitter = 0.25;                                         ///< At most this fraction of a wait is taken off at random (0 to 1).
};

/// A webhook endpoint: where to POST, the secret to sign with, the body's format and the limits.
struct webhook {
    /// The endpoint at `address` whose receiver verifies with `key`.
    webhook(std::string address, signing_secret key) : url(std::move(address)), secret(std::move(key)) {}

    std::string url;                        ///< http:// or https://; credentials in it are sent, never shown.
    signing_secret secret;                  ///< The endpoint's Standard Webhooks secret.
    wire_format format = wire_format::envelope();  ///< The body: beacon's envelope, or wire_format::cloudevents().
    std::chrono::milliseconds timeout{10000};  ///< The longest an attempt takes, connecting included.
    std::string ca_file;                    ///< For https: a PEM file of the CAs to trust ("": the system's).
    bool allow_private = false;             ///< Whether requests may reach loopback, private and link-local addresses.
    retry_policy retry;                     ///< When failed attempts are made again.
};

/// What happened to an endpoint's events and attempts so far.
struct endpoint_stats {
    std::uint64_t queued = 0;           ///< Events accepted for delivery.
    std::uint64_t refused = 0;          ///< Events refused: the queue full, the endpoint disabled, the sender stopped, or not encodable.
    std::uint64_t delivered = 0;        ///< Events an attempt delivered (a 2xx answer).
    std::uint64_t given_up = 0;         ///< Events dropped after their last attempt failed.
    std::uint64_t discarded = 0;        ///< Events dropped unattempted: the endpoint disabled, or the sender stopped.
    std::uint64_t attempts = 0;         ///< Attempts, each counted once under its outcome below.
    std::uint64_t http_errors = 0;      ///< Attempts answered with a status other than 2xx, 410, 429 and 503.
    std::uint64_t throttled = 0;        ///< Attempts answered 429 or 503.
    std::uint64_t timed_out = 0;        ///< Attempts that took longer than the endpoint's timeout.
    std::uint64_t network_errors = 0;   ///< Attempts that failed to connect, were reset or failed TLS.
    std::uint64_t address_refused = 0;  ///< Attempts not made: the address is one the endpoint does not allow.
    bool disabled = false;              ///< Whether the endpoint answered 410 Gone (then nothing more is sent).
};

/// How a sender runs.
struct sender_options {
    std::string name = "outbound";  ///< Names the sender in failure reports.
    std::size_t workers = 4;       ///< Attempts under way at once (each a thread with its connections).
    std::size_t max_queued = 10000;  ///< Events waiting (retries included) beyond which new ones are refused.
    failure_handler on_failure;    ///< Gets the failures; empty: the process-wide sink.
};

class sender;

namespace detail {

struct sender_core;

struct endpoint_state {
    endpoint_state(outbound::webhook e, checked_url w) : config(std::move(e)), where(std::move(w)) {}
    outbound::webhook config;
    checked_url where;
    endpoint_stats stats;  // under the sender's mutex
};

struct delivery {
    std::shared_ptr<endpoint_state> to;
    std::string id;
    std::string body;
    std::size_t attempts = 0;
};

}  // namespace detail

/// The consumer of one endpoint: register it with a hub; each event it consumes is queued for
/// delivery (never thrown back at the sending thread: what cannot be queued is reported).
class endpoint_consumer : public consumer {
public:
    /// Queues `e` for delivery.
    void consume(const event& e) override;
    /// The endpoint's counters.
    endpoint_stats stats() const;
    /// The endpoint's URL as messages show it (no credentials, query or fragment).
    const std::string& shown_url() const noexcept { return state_->where.shown; }

private:
    friend class sender;
    endpoint_consumer(std::shared_ptr<detail::sender_core> core, std::shared_ptr<detail::endpoint_state> state)
        : core_(std::move(core)), state_(std::move(state)) {}
    std::shared_ptr<detail::sender_core> core_;
    std::shared_ptr<detail::endpoint_state> state_;
};

namespace detail {

// The shared state of a sender and its consumers: the queue by due time, the workers' loop.
struct sender_core {
    using clock = std::chrono::steady_clock;

    explicit sender_core(sender_options o) : options(std::move(o)) {}

    sender_options options;
    std::mutex mutex;
    std::condition_variable wake, idle;
    std::multimap<clock::time_point, delivery> queue;
    std::size_t in_flight = 0;
    bool stopped = false;
    std::atomic<bool> stopping{false};
    std::mt19937_64 random{std::random_device{}()};

    void fail(const endpoint_state& to, const std::string& message) const {
        failure f;
        f.part = part::outbound;
        f.where = options.name;
        f.receiver = to.where.shown;
        f.exception = std::make_exception_ptr(transport_error(message));
        report(f, options.on_failure);
    }

    void enqueue(const std::shared_ptr<endpoint_state>& to, const event& e) {
        delivery d;
        d.to = to;
        d.id = e.id.is_nil() ? event_id::make().to_string() : e.id.to_string();
        try {
            to->config.format.encode(e, d.body);
        } catch (const error& bad) {
            const std::lock_guard lock(mutex);
            ++to->stats.refused;
            fail(*to, "event " + d.id + " refused: " + bad.what());
            return;
        }
        std::string refused;
        {
            const std::lock_guard lock(mutex);
            if (stopped) {
                refused = "the sender is stopped";
            } else if (to->stats.disabled) {
                refused = "the endpoint is disabled (it answered 410 Gone)";
            } else if (queue.size() + in_flight >= options.max_queued) {
                refused = "the queue is full (" + std::to_string(options.max_queued) + " events)";
            }
            if (refused.empty()) {
                ++to->stats.queued;
                queue.emplace(clock::now(), std::move(d));
            } else {
                ++to->stats.refused;
            }
        }
        if (refused.empty()) {
            wake.notify_one();
        } else {
            fail(*to, "event " + d.id + " refused: " + refused);
        }
    }

    // The wait before attempt number `attempts` + 1 (under the mutex: uses `random`).
    std::chrono::milliseconds backoff(const retry_policy& p, std::size_t attempts) {
        auto wait = p.first_delay;
        for (std::size_t i = 1; i < attempts && wait < p.max_delay; ++i) wait *= 2;
        wait = std::min(wait, p.max_delay);
        const double jitter = std::clamp(p.jitter, 0.0, 1.0);
        const double keep = 1.0 - jitter * std::uniform_real_distribution<double>(0.0, 1.0)(random);
        return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(wait.count()) * keep));
    }

    void work() {
        detail::http_client client(stopping);
        std::unique_lock lock(mutex);
        for (;;) {
            if (stopped) return;
            if (queue.empty()) {
                wake.wait(lock);
                continue;
            }
            const auto due = queue.begin()->first;
            if (due > clock::now()) {
                wake.wait_until(lock, due);
                continue;
            }
            detail::delivery d = std::move(queue.begin()->second);
            queue.erase(queue.begin());
            if (d.to->stats.disabled) {
                ++d.to->stats.discarded;
                idle.notify_all();
                continue;
            }
            ++in_flight;
            lock.unlock();
            const auto result = attempt(client, d);
            lock.lock();
            --in_flight;
            settle(std::move(d), result, lock);
            idle.notify_all();
        }
    }

    detail::attempt_result attempt(detail::http_client& client, detail::delivery& d) {
        const auto& config = d.to->config;
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        detail::request r;
        r.url = &d.to->where.url;
        r.shown = &d.to->where.shown;
        r.ca_file = &config.ca_file;
        r.content_type = config.format.name() == "cloudevents" ? "application/cloudevents+json" : "application/json";
        r.id = d.id;
        r.timestamp = std::to_string(now);
        r.signature = sign(config.secret, d.id, now, d.body);
        r.body = &d.body;
        r.timeout = config.timeout;
        r.allow_private = config.allow_private;
        return client.post(r);
    }

    // Counts the attempt and decides what becomes of the delivery (under the mutex).
    void settle(detail::delivery d, const detail::attempt_result& result, std::unique_lock<std::mutex>& lock) {
        auto& to = *d.to;
        auto& s = to.stats;
        ++s.attempts;
        ++d.attempts;
        using detail::outcome;
        switch (result.outcome) {
            case outcome::delivered: ++s.delivered; return;
            case outcome::gone: break;
            case outcome::http_error: ++s.http_errors; break;
            case outcome::throttled: ++s.throttled; break;
            case outcome::timed_out: ++s.timed_out; break;
            case outcome::network_error: ++s.network_errors; break;
            case outcome::address_refused: ++s.address_refused; break;
        }
        if (result.outcome == outcome::gone) {
            s.disabled = true;
            ++s.given_up;
            std::size_t dropped = 0;
            for (auto it = queue.begin(); it != queue.end();) {
                if (it->second.to.get() == &to) {
                    it = queue.erase(it);
                    ++dropped;
                } else {
                    ++it;
                }
            }
            s.discarded += dropped;
            const auto shared = d.to;
            lock.unlock();
            fail(*shared, "event " + d.id + ": HTTP 410 Gone: the endpoint is disabled; " + std::to_string(dropped) +
                              " queued event(s) discarded, later ones refused");
            lock.lock();
            return;
        }
        const auto& policy = to.config.retry;
        if (d.attempts >= std::max<std::size_t>(policy.max_attempts, 1) || stopped) {
            ++s.given_up;
            const auto shared = d.to;
            lock.unlock();
            fail(*shared, "event " + d.id + " given up after " + std::to_string(d.attempts) + " attempt(s); the last: " + result.what);
            lock.lock();
            return;
        }
        auto wait = backoff(policy, d.attempts);
        if (result.outcome == outcome::throttled && result.retry_after.count() > 0) {
            wait = std::min<std::chrono::milliseconds>(result.retry_after, policy.max_delay);
        }
        queue.emplace(clock::now() + wait, std::move(d));
        wake.notify_one();
    }
};

}  // namespace detail

inline void endpoint_consumer::consume(const event& e) { core_->enqueue(state_, e); }

inline endpoint_stats endpoint_consumer::stats() const {
    const std::lock_guard lock(core_->mutex);
    return state_->stats;
}

/// Delivers events to endpoints on its worker threads; stopping it (or destroying it) ends the
/// attempts under way and reports, per endpoint, the events still queued.
class sender {
public:
    /// Starts `options.workers` worker threads.
    explicit sender(sender_options options = {}) : core_(std::make_shared<detail::sender_core>(std::move(options))) {
        detail::init_curl();
        const std::size_t n = std::max<std::size_t>(core_->options.workers, 1);
        for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([core = core_] { core->work(); });
    }
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;
    ~sender() { stop(); }

    /// Adds `e`; returns its consumer, to register with a hub. Throws config_error (key "/url")
    /// for a URL that is not http or https, or that names an address the endpoint does not allow.
    std::shared_ptr<endpoint_consumer> add(webhook e) {
        auto where = detail::check_url(e.url, "", "/url");
        if (!e.allow_private) {
            if (const auto why = detail::forbidden_literal(where.host); !why.empty()) {
                throw config_error("", "/url", where.shown + ": the host is " + std::string(why) +
                                                   " (endpoint option allow_private permits it)");
            }
        }
        if (e.timeout.count() <= 0) throw config_error("", "/timeout", "an endpoint's timeout must be positive");
        auto state = std::make_shared<detail::endpoint_state>(std::move(e), std::move(where));
        return std::shared_ptr<endpoint_consumer>(new endpoint_consumer(core_, std::move(state)));
    }

    /// Waits until no event is queued or under way, or `limit` passed; returns whether it is idle.
    bool wait_idle(std::chrono::milliseconds limit) {
        std::unique_lock lock(core_->mutex);
        return core_->idle.wait_for(lock, limit, [&] { return core_->queue.empty() && core_->in_flight == 0; });
    }

    /// Stops: aborts the attempts under way (each then counts as given up), reports per endpoint
    /// the events still queued (counted as discarded), joins the workers. Later events are refused.
    void stop() {
        std::map<detail::endpoint_state*, std::pair<std::shared_ptr<detail::endpoint_state>, std::size_t>> left;
        {
            const std::lock_guard lock(core_->mutex);
            if (core_->stopped) return;
            core_->stopped = true;
            core_->stopping = true;
            for (auto& [due, d] : core_->queue) {
                auto& entry = left[d.to.get()];
                entry.first = d.to;
                ++entry.second;
                ++d.to->stats.discarded;
            }
            core_->queue.clear();
        }
        core_->wake.notify_all();
        for (auto& t : workers_) t.join();
        workers_.clear();
        for (const auto& [key, entry] : left) {
            core_->fail(*entry.first, "stopped with " + std::to_string(entry.second) + " event(s) not delivered");
        }
    }

private:
    std::shared_ptr<detail::sender_core> core_;
    std::vector<std::thread> workers_;
};

}  // namespace beacon::outbound
