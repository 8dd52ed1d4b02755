#pragma once
/// \file
/// Events to the outside world: an outbound::courier delivers the events a hub passes to its
/// endpoints' consumers, on worker threads behind a bounded queue: to a webhook, POSTed and signed
/// per Standard Webhooks (`webhook-id` = the event's id); to a mail endpoint, as an e-mail over
/// SMTP. Failed attempts are retried with capped exponential backoff and jitter, 429 and 503 wait
/// as Retry-After says, 410 Gone disables a webhook. Nothing reaches loopback, private or
/// link-local addresses unless the endpoint allows it. Every attempt is counted; what is given up
/// is reported (part::outbound).

#include <beacon/detail/slot.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/hub.hpp>
#include <beacon/outbound/detail/endpoint_guard.hpp>
#include <beacon/outbound/detail/request.hpp>
#include <beacon/outbound/mail.hpp>
#include <beacon/outbound/signature.hpp>
#include <beacon/outbound/webhook.hpp>
#include <beacon/wire_format.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <future>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

namespace beacon::outbound {

/// What happened to an endpoint's events and attempts so far.
struct endpoint_stats {
    std::uint64_t queued = 0;           ///< Events accepted for delivery.
    std::uint64_t refused = 0;          ///< Events refused: the queue full, the endpoint disabled, the courier stopped, or not encodable.
    std::uint64_t delivered = 0;        ///< Events an attempt delivered (HTTP 2xx; the SMTP server took the message).
    std::uint64_t given_up = 0;         ///< Events dropped after their last attempt failed, or on a 410 Gone.
    std::uint64_t discarded = 0;        ///< Events dropped unattempted: the endpoint disabled, the courier stopped, or (shared from a signal) not encodable.
    std::uint64_t attempts = 0;         ///< Attempts, each counted once under its outcome below.
    std::uint64_t rejected = 0;         ///< Attempts answered with a failure: HTTP other than 2xx, 410, 429, 503; SMTP 4xx, 5xx, AUTH.
    std::uint64_t throttled = 0;        ///< Attempts answered 429 or 503.
    std::uint64_t timed_out = 0;        ///< Attempts that took longer than the endpoint's timeout.
    std::uint64_t network_errors = 0;   ///< Attempts that failed to connect, were reset or failed TLS.
    std::uint64_t address_refused = 0;  ///< Attempts not made: the address is one the endpoint does not allow.
    std::uint64_t gone = 0;             ///< Attempts answered 410 Gone (the endpoint is then disabled).
    bool disabled = false;              ///< Whether the endpoint answered 410 Gone (then nothing more is sent).
};

/// How a courier runs.
struct courier_options {
    std::string name = "outbound";  ///< Names the courier in failure reports.
    std::size_t workers = 4;       ///< Attempts under way at once (each a thread with its connections).
    std::size_t max_queued = 10000;  ///< Events waiting (retries included) beyond which new ones are refused.
    std::size_t connections = 128;   ///< Idle connections each worker keeps open for reuse (libcurl's cache).
    failure_handler on_failure;    ///< Gets the failures; empty: the process-wide sink.
};

class courier;
class endpoint_receiver;

namespace detail {

struct courier_core;

struct endpoint_state {
    template <class Config>
    endpoint_state(Config c, checked_url w) : config(std::move(c)), where(std::move(w)) {}
    std::variant<outbound::webhook, outbound::mail> config;
    checked_url where;
    endpoint_stats stats;  // under the courier's mutex
};

struct delivery {
    std::shared_ptr<endpoint_state> to;
    event_id id;                  // written out only for an attempt or a message
    std::shared_ptr<const event> source;  // a shared event the worker writes (body empty until then)
    std::string body;             // a webhook's body, or the whole e-mail message
    std::vector<std::string> to_addresses;  // a mail's recipients
    std::size_t attempts = 0;
    // deliver()'s: told the end ("" once delivered, else why not) instead of the failure sink. A
    // message rather than an exception: deliver() throws its own, so none crosses threads.
    std::shared_ptr<std::promise<std::string>> done;
};

}  // namespace detail

/// The consumer of one endpoint: register it with a hub; each event it consumes is queued for
/// delivery (never thrown back at the sending thread: what cannot be queued is reported).
class endpoint_consumer : public consumer {
public:
    /// Queues `e` for delivery; what becomes of it is counted, and a failure reported.
    void consume(const event& e) override;
    /// Delivers `e` and returns once it is delivered; throws transport_error (reporting nothing)
    /// when it is refused, given up, discarded or the courier stops. For a durable path: a Redis
    /// stream consumer's receiver or an outbox relay's publisher that calls it acknowledges the
    /// event only once it is delivered, so a host killed mid-retry delivers it after its restart.
    void deliver(const event& e);
    /// Delivers `events` side by side and returns once every one is delivered; throws the first
    /// failure (as deliver(event)) once every one has ended.
    void deliver(const std::vector<event>& events);
    /// A receiver to connect to signals: it shares each event sent (the send's own shared_ptr,
    /// else one copy for every sharing receiver of the send) and a worker writes it, so that the
    /// sending thread pays a queue hand-off, as for an async_receiver (P9). An event a worker
    /// cannot write is counted as discarded and reported; one too deep to copy (sent by reference)
    /// throws encode_error at the send, as for every sharing receiver.
    endpoint_receiver receiver() const;
    /// The endpoint's counters.
    endpoint_stats stats() const;
    /// The endpoint's URL as messages show it (no credentials, query, fragment or path past its first segment).
    const std::string& shown_url() const noexcept { return state_->where.shown; }

private:
    friend class courier;
    endpoint_consumer(std::shared_ptr<detail::courier_core> core, std::shared_ptr<detail::endpoint_state> state)
        : core_(std::move(core)), state_(std::move(state)) {}
    std::shared_ptr<detail::courier_core> core_;
    std::shared_ptr<detail::endpoint_state> state_;
};

namespace detail {

// The shared state of a courier and its consumers: the queue (new events in order of arrival,
// retries by due time), the workers' loop.
struct courier_core {
    using clock = std::chrono::steady_clock;

    explicit courier_core(courier_options o) : options(std::move(o)) {}

    courier_options options;
    std::mutex mutex;
    std::condition_variable wake, idle;
    std::deque<delivery> fresh;                            // not attempted yet, in order of arrival
    std::multimap<clock::time_point, delivery> retries;  // by due time
    std::size_t in_flight = 0;
    bool retry_next = true;  // when both a due retry and a new event wait, workers take them in turn
    bool stopped = false;
    std::atomic<bool> stopping{false};
    std::mt19937_64 random{std::random_device{}()};

    // Reports `what` went wrong with the endpoint shown as `endpoint` ("" for the courier itself).
    void report_failure(const std::string& endpoint, std::exception_ptr what) const {
        failure f;
        f.part = part::outbound;
        f.where = options.name;
        f.receiver = endpoint;
        f.exception = std::move(what);
        report(f, options.on_failure);
    }

    void fail(const endpoint_state& to, const std::string& message) const {
        report_failure(to.where.shown, std::make_exception_ptr(transport_error(message)));
    }

    // Queues `e` for `to`, written now; returns "" or why it was refused (counted; reported
    // unless `done`).
    std::string enqueue(const std::shared_ptr<endpoint_state>& to, const event& e, std::shared_ptr<std::promise<std::string>> done = {}) {
        delivery d;
        d.to = to;
        d.id = e.id.is_nil() ? event_id::make() : e.id;
        d.done = std::move(done);
        std::string why = write(e, d);  // before `d` moves
        return admit(std::move(d), std::move(why));
    }

    // Queues the shared `e` for `to`, for the worker that takes it to write.
    void enqueue_shared(const std::shared_ptr<endpoint_state>& to, std::shared_ptr<const event> e) {
        delivery d;
        d.to = to;
        d.id = e->id.is_nil() ? event_id::make() : e->id;
        d.source = std::move(e);
        admit(std::move(d), {});
    }

    // Writes the request of `e` into `d` (a webhook's body; a mail's recipients and message);
    // returns "" or why it cannot be written (throws only when out of memory for the reason).
    static std::string write(const event& e, delivery& d) {
        try {
            if (const auto* hook = std::get_if<webhook>(&d.to->config)) {
                d.body.reserve(512);  // one allocation for a typical event, not one per doubling
                hook->format.encode(e, d.body);
            } else {
                compose(std::get<mail>(d.to->config), e, d);
            }
            return {};
        } catch (const std::exception& bad) {  // an encode_error, a host format's own, bad_alloc
            return bad.what();
        } catch (...) {
            return "unknown exception";
        }
    }

    // Queues `d` unless `refused` says why not, or the courier, its endpoint or its queue does;
    // returns "" or why it was refused (counted; reported unless `d.done`).
    std::string admit(delivery d, std::string refused) {
        const event_id id = d.id;             // for the message, once `d` is queued
        const bool told = d.done != nullptr;  // deliver() is told; consume() reports
        endpoint_state& to = *d.to;           // the caller's consumer holds it
        {
            const std::lock_guard lock(mutex);
            if (!refused.empty()) {
            } else if (stopped) {
                refused = "the courier is stopped";
            } else if (to.stats.disabled) {
                refused = "the endpoint is disabled (it answered 410 Gone)";
            } else if (queued() >= options.max_queued) {
                refused = "the queue is full (" + std::to_string(options.max_queued) + " events)";
            }
            if (refused.empty()) {
                try {
                    fresh.push_back(std::move(d));  // moves only once it has room (strong guarantee)
                    ++to.stats.queued;
                } catch (const std::bad_alloc&) {
                    refused = "out of memory";
                }
            }
            if (!refused.empty()) ++to.stats.refused;
        }
        if (refused.empty()) {
            wake.notify_one();
            return refused;
        }
        refused = "event " + id.to_string() + " refused: " + refused;
        if (!told) fail(to, refused);
        return refused;
    }

    // Ends `d` unsuccessfully: deliver() throws `message`, or the failure is reported.
    void finish(const delivery& d, const std::string& message) const {
        if (d.done) {
            d.done->set_value(message);
        } else {
            fail(*d.to, message);
        }
    }

    // The e-mail of `e`: its recipients (the configured ones, then the event's), its message.
    static void compose(const mail& m, const event& e, delivery& d) {
        d.to_addresses = m.to;
        if (!m.to_data.empty() && e.data.is_object()) {
            const auto it = e.data.find(m.to_data);
            if (it != e.data.end()) {
                const auto add = [&](const nlohmann::json& v) {
                    if (!v.is_string()) throw encode_error("/data/" + m.to_data, "a recipient is a string, not " + std::string(v.type_name()));
                    const auto& address = v.get_ref<const std::string&>();
                    if (const auto why = bad_address(address); !why.empty()) {
                        throw encode_error("/data/" + m.to_data, why + ": \"" + ::beacon::detail::excerpt(address, 40) + "\"");
                    }
                    d.to_addresses.push_back(address);
                };
                if (it->is_array()) {
                    for (const auto& v : *it) add(v);
                } else {
                    add(*it);
                }
            }
        }
        if (d.to_addresses.empty()) throw encode_error("/data/" + m.to_data, "an e-mail without a recipient");
        d.body = mail_message(m.from, d.to_addresses, m.subject.render(e), m.body.render(e), d.id.to_string());
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
        std::unique_ptr<curl_client> client;
        try {
            client = std::make_unique<curl_client>(stopping, options.connections);
        } catch (const std::exception&) {  // libcurl could not make a handle: this worker ends
            report_failure("", std::current_exception());
            return;
        }
        std::unique_lock lock(mutex);
        for (;;) {
            if (stopped) return;
            delivery d;
            const bool retry_due = !retries.empty() && retries.begin()->first <= clock::now();
            if (retry_due && (fresh.empty() || retry_next)) {
                d = std::move(retries.begin()->second);
                retries.erase(retries.begin());
                retry_next = false;
            } else if (!fresh.empty()) {
                d = std::move(fresh.front());
                fresh.pop_front();
                retry_next = true;  // neither a dead endpoint's retries nor a burst of new events starves the other
            } else if (!retries.empty()) {
                const auto due = retries.begin()->first;  // a copy: another worker may take that retry meanwhile
                wake.wait_until(lock, due);
                continue;
            } else {
                wake.wait(lock);
                continue;
            }
            if (d.to->stats.disabled) {
                ++d.to->stats.discarded;
                if (d.done) d.done->set_value("event " + d.id.to_string() + " discarded: the endpoint is disabled");
                notify_if_idle();
                continue;
            }
            ++in_flight;
            lock.unlock();
            if (d.source) {  // shared from a signal: written here, once
                std::string bad;
                try {
                    bad = write(*d.source, d);
                } catch (...) {  // out of memory for the reason itself
                    bad = "out of memory";
                }
                d.source.reset();
                if (!bad.empty()) {
                    lock.lock();
                    ++d.to->stats.discarded;  // counted before it is reported, as everywhere
                    lock.unlock();
                    try {
                        fail(*d.to, "event " + d.id.to_string() + " discarded: " + bad);
                    } catch (...) {  // no memory for the report: the count stands
                    }
                    lock.lock();
                    --in_flight;
                    notify_if_idle();
                    continue;
                }
            }
            attempt_result result;
            try {
                result = attempt(*client, d);
            } catch (const std::exception& bad) {  // signing or a header out of memory: a failed attempt
                result.what = bad.what();
            } catch (...) {
                result.what = "unknown exception";
            }
            lock.lock();
            settle(std::move(d), result, lock);  // reports a given-up event while still in flight,
            --in_flight;                         // so that wait_idle() returns after the report
            notify_if_idle();
        }
    }

    attempt_result attempt(curl_client& client, delivery& d) {
        if (const auto* m = std::get_if<mail>(&d.to->config)) {
            mail_request r;
            r.url = &m->url;
            r.ca_file = &m->ca_file;
            r.username = &m->username;
            r.password = &m->password;
            r.from = &m->from;
            r.to = &d.to_addresses;
            r.message = &d.body;
            r.timeout = m->timeout;
            r.require_tls = m->require_tls;
            r.allow_private = m->allow_private;
            return client.send_mail(r);
        }
        const auto& config = std::get<webhook>(d.to->config);
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        request r;
        r.url = &d.to->where.url;
        r.ca_file = &config.ca_file;
        r.content_type = config.format.name() == "cloudevents" ? "application/cloudevents+json" : "application/json";
        r.id = d.id.to_string();
        r.timestamp = std::to_string(now);
        r.signature = sign(config.secret, r.id, now, d.body);
        r.body = &d.body;
        r.timeout = config.timeout;
        r.allow_private = config.allow_private;
        return client.post(r);
    }

    // Events waiting, retries included (under the mutex).
    std::size_t waiting() const noexcept { return fresh.size() + retries.size(); }
    // Events waiting or under way (under the mutex).
    std::size_t queued() const noexcept { return waiting() + in_flight; }

    // Takes out of the queue the deliveries `take` picks, in queue order (under the mutex).
    template <class Pick>
    std::vector<delivery> take_if(Pick take) {
        std::vector<delivery> out;  // room made first: nothing is moved out half-way
        out.reserve(static_cast<std::size_t>(std::count_if(retries.begin(), retries.end(), [&](const auto& r) { return take(r.second); }) +
                                             std::count_if(fresh.begin(), fresh.end(), take)));
        for (auto it = retries.begin(); it != retries.end();) {
            if (take(it->second)) {
                out.push_back(std::move(it->second));
                it = retries.erase(it);
            } else {
                ++it;
            }
        }
        // The kept ones first, in order (without memory, stable_partition still works, slower).
        const auto taken = std::stable_partition(fresh.begin(), fresh.end(), [&](const delivery& d) { return !take(d); });
        std::move(taken, fresh.end(), std::back_inserter(out));
        fresh.erase(taken, fresh.end());
        return out;
    }

    // Wakes wait_idle() once nothing is queued or under way (under the mutex).
    void notify_if_idle() {
        if (queued() == 0) idle.notify_all();
    }

    // Counts the attempt and decides what becomes of the delivery (under the mutex).
    void settle(delivery d, const attempt_result& result, std::unique_lock<std::mutex>& lock) {
        auto& to = *d.to;
        auto& s = to.stats;
        ++s.attempts;
        ++d.attempts;
        switch (result.outcome) {
            case outcome::delivered:
                ++s.delivered;
                if (d.done) d.done->set_value(std::string());
                return;
            case outcome::gone: ++s.gone; break;
            case outcome::rejected: ++s.rejected; break;
            case outcome::throttled: ++s.throttled; break;
            case outcome::timed_out: ++s.timed_out; break;
            case outcome::network_error: ++s.network_errors; break;
            case outcome::address_refused: ++s.address_refused; break;
        }
        if (result.outcome == outcome::gone) {
            s.disabled = true;
            ++s.given_up;
            const std::vector<delivery> dropped = take_if([&](const delivery& other) { return other.to.get() == &to; });
            s.discarded += dropped.size();
            lock.unlock();
            const std::string gone = "HTTP 410 Gone: the endpoint is disabled";
            finish(d, "event " + d.id.to_string() + ": " + gone + "; " + std::to_string(dropped.size()) + " queued event(s) discarded, later ones refused");
            for (const auto& other : dropped) {
                if (other.done) finish(other, "event " + other.id.to_string() + " discarded: " + gone);
            }
            lock.lock();
            return;
        }
        const retry_policy& policy = std::visit([](const auto& c) -> const retry_policy& { return c.retry; }, to.config);
        if (d.attempts >= std::max<std::size_t>(policy.max_attempts, 1) || stopped) {
            ++s.given_up;
            lock.unlock();
            finish(d, "event " + d.id.to_string() + " given up after " + std::to_string(d.attempts) + " attempt(s); the last: " + result.what);
            lock.lock();
            return;
        }
        auto wait = backoff(policy, d.attempts);
        if (result.outcome == outcome::throttled && result.retry_after.count() > 0) {
            // Clamped in seconds first: a hostile Retry-After must not overflow the milliseconds.
            const auto most = std::chrono::duration_cast<std::chrono::seconds>(policy.max_delay) + std::chrono::seconds(1);
            wait = std::min<std::chrono::milliseconds>(std::min(result.retry_after, most), policy.max_delay);
        }
        retries.emplace(clock::now() + wait, std::move(d));
        wake.notify_one();
    }
};

}  // namespace detail

/// What `endpoint_consumer::receiver()` returns: a copyable receiver that queues each event it
/// gets for its endpoint, shared, for a worker to write.
class endpoint_receiver : public beacon::detail::sharing_receiver {
public:
    /// Queues `e`, shared rather than copied (the event must not change afterwards).
    void operator()(std::shared_ptr<const event> e) const {
        if (e) core_->enqueue_shared(state_, std::move(e));
    }
    /// Queues `e`, written now (as endpoint_consumer::consume).
    void operator()(const event& e) const { core_->enqueue(state_, e); }

private:
    friend class endpoint_consumer;
    endpoint_receiver(std::shared_ptr<detail::courier_core> core, std::shared_ptr<detail::endpoint_state> state)
        : core_(std::move(core)), state_(std::move(state)) {}
    std::shared_ptr<detail::courier_core> core_;
    std::shared_ptr<detail::endpoint_state> state_;
};

inline void endpoint_consumer::consume(const event& e) { core_->enqueue(state_, e); }

inline endpoint_receiver endpoint_consumer::receiver() const { return endpoint_receiver(core_, state_); }

inline void endpoint_consumer::deliver(const event& e) { deliver(std::vector<event>{e}); }

inline void endpoint_consumer::deliver(const std::vector<event>& events) {
    std::vector<std::future<std::string>> ends;
    std::string first;  // why the first event that was not delivered was not
    for (const auto& e : events) {
        auto done = std::make_shared<std::promise<std::string>>();
        ends.push_back(done->get_future());
        const std::string refused = core_->enqueue(state_, e, done);
        if (!refused.empty()) done->set_value(refused);
    }
    for (auto& end : ends) {
        std::string why = end.get();
        if (first.empty()) first = std::move(why);
    }
    if (!first.empty()) throw transport_error(first);
}

inline endpoint_stats endpoint_consumer::stats() const {
    const std::lock_guard lock(core_->mutex);
    return state_->stats;
}

/// Delivers events to endpoints on its worker threads; stopping it (or destroying it) ends the
/// attempts under way and reports, per endpoint, the events still queued.
class courier {
public:
    /// Starts `options.workers` worker threads.
    explicit courier(courier_options options = {}) : core_(std::make_shared<detail::courier_core>(std::move(options))) {
        detail::init_curl();
        const std::size_t n = std::max<std::size_t>(core_->options.workers, 1);
        for (std::size_t i = 0; i < n; ++i) workers_.emplace_back([core = core_] { core->work(); });
        for (const auto& t : workers_) worker_ids_.push_back(t.get_id());
    }
    /// Not copyable: the workers belong to one courier.
    courier(const courier&) = delete;
    /// Not copyable.
    courier& operator=(const courier&) = delete;
    /// Stops (see stop()); destroyed on one of its own workers, joins the others and detaches that one.
    ~courier() {
        stop();
        join_workers();
    }

    /// Adds the webhook `e`; returns its consumer, to register with a hub. Throws config_error
    /// (key "/url") for a URL that is not http or https, or that names an address the endpoint does
    /// not allow, and for a timeout that is not positive.
    std::shared_ptr<endpoint_consumer> add(webhook e) {
        auto where = checked(e.url, "http", "https", e.allow_private, e.timeout);
        return consumer_of(std::make_shared<detail::endpoint_state>(std::move(e), std::move(where)));
    }

    /// Adds the mail endpoint `m`; returns its consumer, to register with a hub. Throws
    /// config_error as add(webhook) does (smtp or smtps), and for a bad address in "/from" or
    /// "/to/<n>", or no recipients at all ("/to").
    std::shared_ptr<endpoint_consumer> add(mail m) {
        auto where = checked(m.url, "smtp", "smtps", m.allow_private, m.timeout);
        if (const auto why = detail::bad_address(m.from); !why.empty()) throw config_error("", "/from", why);
        for (std::size_t i = 0; i < m.to.size(); ++i) {
            if (const auto why = detail::bad_address(m.to[i]); !why.empty()) throw config_error("", "/to/" + std::to_string(i), why);
        }
        if (m.to.empty() && m.to_data.empty()) throw config_error("", "/to", "a mail endpoint needs recipients (to, or to_data)");
        return consumer_of(std::make_shared<detail::endpoint_state>(std::move(m), std::move(where)));
    }

    /// Waits until no event is queued or under way (one given up counts until it is reported), or
    /// `limit` passed; returns whether it is idle.
    bool wait_idle(std::chrono::milliseconds limit) {
        std::unique_lock lock(core_->mutex);
        return core_->idle.wait_for(lock, limit, [&] { return core_->queued() == 0; });
    }

    /// Stops: aborts the attempts under way (each then counts as given up), reports per endpoint
    /// the events still queued (counted as discarded), joins the workers. Later events are refused.
    /// From one of the courier's own workers (a failure handler) it stops without joining: the
    /// next stop() from another thread joins them, at the latest the destructor's.
    void stop() {
        std::map<detail::endpoint_state*, std::pair<std::shared_ptr<detail::endpoint_state>, std::size_t>> left;
        std::vector<detail::delivery> waiting;  // deliver()'s, told rather than reported
        bool first = false;                     // this call stopped the courier: it reports
        {
            const std::lock_guard lock(core_->mutex);
            if (!core_->stopped) {
                first = true;
                core_->stopped = true;
                core_->stopping = true;
                for (auto& d : core_->take_if([](const detail::delivery&) { return true; })) {
                    ++d.to->stats.discarded;
                    if (d.done) {
                        waiting.push_back(std::move(d));
                        continue;
                    }
                    auto& entry = left[d.to.get()];
                    entry.first = d.to;
                    ++entry.second;
                }
            }
        }
        core_->wake.notify_all();
        core_->idle.notify_all();  // nothing is queued now: a wait_idle() returns once the attempts end
        // Not from a worker: joins them, or waits for the stop() that joins them, so that no
        // thread returns from here with a worker running (nor the destructor with one joinable).
        if (std::find(worker_ids_.begin(), worker_ids_.end(), std::this_thread::get_id()) == worker_ids_.end()) join_workers();
        if (!first) return;
        for (const auto& [key, entry] : left) {
            core_->fail(*entry.first, "stopped with " + std::to_string(entry.second) + " event(s) not delivered");
        }
        for (const auto& d : waiting) core_->finish(d, "event " + d.id.to_string() + " not delivered: the courier stopped");
    }

private:
    // Joins the workers, but detaches the calling thread if it is one (it ends once its handler returns).
    void join_workers() {
        const std::lock_guard joining(join_mutex_);
        for (auto& t : workers_) {
            if (t.get_id() == std::this_thread::get_id()) {
                t.detach();
            } else {
                t.join();
            }
        }
        workers_.clear();
    }

    static detail::checked_url checked(const std::string& url, std::string_view plain, std::string_view secure, bool allow_private,
                                       std::chrono::milliseconds timeout) {
        auto where = detail::check_url(url, "", "/url", plain, secure);
        if (!allow_private) {
            if (const auto why = detail::forbidden_literal(where.host); !why.empty()) {
                throw config_error("", "/url", where.shown + ": the host is " + std::string(why) + " (endpoint option allow_private permits it)");
            }
        }
        if (timeout.count() <= 0) throw config_error("", "/timeout", "an endpoint's timeout must be positive");
        return where;
    }

    std::shared_ptr<endpoint_consumer> consumer_of(std::shared_ptr<detail::endpoint_state> state) {
        return std::shared_ptr<endpoint_consumer>(new endpoint_consumer(core_, std::move(state)));
    }

    std::shared_ptr<detail::courier_core> core_;
    std::vector<std::thread::id> worker_ids_;  // set by the constructor, then only read
    std::mutex join_mutex_;                    // held while a stop() joins the workers
    std::vector<std::thread> workers_;         // under join_mutex_ once running
};

}  // namespace beacon::outbound
