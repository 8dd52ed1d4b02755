#pragma once
/// \file
/// The Redis bridge's receiving side for lists and channels: a consumer that reads events from a
/// Redis list or channel in another process and re-sends them into a local signal.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/inbox.hpp>
#include <beacon/redis/dedup.hpp>
#include <beacon/redis/detail/connection.hpp>
#include <beacon/redis/detail/consumer_loop.hpp>
#include <beacon/redis/detail/dedup.hpp>
#include <beacon/redis/error.hpp>
#include <beacon/redis/detail/counters.hpp>
#include <beacon/redis/stats.hpp>
#include <beacon/signal.hpp>
#include <beacon/wire_format.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace beacon::redis {

/// Where a consumer reads events from and how it recovers.
struct consumer_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://host[:port][/db][?options] or unix:///path; redis-py's syntax
    std::string list = "beacon.events";            ///< The list popped from (oldest event first).
    std::string channel;  ///< When not empty, SUBSCRIBE to this channel instead of popping a list.
    /// The list holding the event being processed (at-least-once); default "<list>.processing".
    /// Consumers of one list need distinct ones: a consumer starting moves everything in its
    /// processing list back to the list, as left by a killed predecessor.
    std::string processing_list;
    std::string dead_letter;  ///< When not empty, the list undecodable messages are moved to.
    /// How messages are read: beacon's envelope format (default), which reads the envelope and
    /// Kinto's flat payload alike, told apart by shape; `wire_format::kinto()` for Kinto's alone;
    /// `wire_format::cloudevents()` for CloudEvents JSON; or a host's format.
    wire_format format = wire_format::envelope();
    /// Bounds on each message: one longer than `limits.max_bytes` (default 16 MiB) is a
    /// decode_error before any parsing, one nesting deeper than `limits.max_depth` (default 128)
    /// one as soon as the parser reaches that depth; either goes to the dead-letter list.
    json_limits limits;
    std::chrono::milliseconds poll_timeout{500};  ///< Longest blocking wait, hence longest stop() delay.
    /// Longest wait to connect or write; on a channel, also for the answer to the PING sent after
    /// poll_timeout of silence (a silent server is reported and reconnected to within both). A
    /// URL's socket_timeout replaces it (`consumer::options()` tells the one in force).
    std::chrono::milliseconds timeout{2000};
    std::chrono::milliseconds backoff_min{50};    ///< First wait before reconnecting.
    std::chrono::milliseconds backoff_max{2000};  ///< Longest wait between reconnection attempts.
    /// How often the consumer's own thread samples the list's length (LLEN, one round trip on its
    /// connection) for `stats().backlog`, at most: between two messages or waits; 0 never does.
    std::chrono::milliseconds lag_interval{1000};
    /// Duplicates dropped by id: the in-memory window of the last ids delivered is on (4096 ids);
    /// the Redis record (`dedup.in_redis`, a list only) is off. The default prefix is "<list>.seen:".
    dedup_options dedup;
    /// When set, each event is delivered through this inbox (beacon::sqlite::inbox,
    /// beacon::postgres::inbox, or a host's own), which records its id in the same transaction as
    /// the receivers' effects: an event processed already is dropped (counted by
    /// `duplicates_dropped()`) and removed, whatever moment a previous consumer was killed at. An
    /// inbox that cannot commit (a transport_error) is reported like a lost server: the message
    /// stays and is delivered again after the backoff.
    std::shared_ptr<beacon::inbox> inbox;
};

/// Reads events from a Redis list (blocking pop) or channel and re-sends each into a local signal,
/// in its own thread (`start`) or the caller's (`run`), until `stop()`.
///
/// From a list, delivery is at-least-once: an event is moved atomically to the processing list,
/// sent to every receiver, and only then removed; what a killed consumer left there is re-queued
/// first when a consumer restarts (so an event may be delivered twice, never lost). From a
/// channel it is at-most-once: Redis keeps nothing for a subscriber that is away.
/// An event whose id was already delivered is dropped as `options.dedup` says (within the last
/// 4096 ids by default; across consumers and restarts with its Redis record), counted by
/// `duplicates_dropped()`, and removed all the same.
/// A message that is not a valid event is reported (and moved to the dead-letter list, if set)
/// and consuming goes on. A lost server is retried with exponential backoff. A consumer runs once
/// (`run` or `start`); misuse (a second start, a start after stop, a join from its own thread)
/// throws misuse_error.
///
/// Failures go to `on_failure` (the process-wide sink when empty) as a beacon::failure of
/// part::redis whose `where` names the consumer, its list or channel and the message (an excerpt):
/// a decode_error (a bad message), a redis_error (connection lost, before a reconnection), or a
/// receiver's own exception (with `receiver` and the event set). `stats()` counts what it did.
class consumer : public detail::consumer_loop {
public:
    /// A consumer re-sending into `target` (which must outlive it); failures go to `on_failure`.
    /// Throws config_error for a bad URL; does not connect yet.
    explicit consumer(signal& target, consumer_options options = {}, failure_handler on_failure = {})
        : consumer_loop("redis::consumer", options.channel.empty() ? "list " + options.list : "channel " + options.channel,
                        std::move(on_failure),
                        {[this] { prepare(); }, [this] { step(); }, [this] { connection_.close(); },
                         [this] { connection_.settle(); }},
                        options.backoff_min, options.backoff_max),
          target_(target),
          options_(with_defaults(std::move(options))),
          connection_(detail::parse_redis_url(options_.url), options_.timeout),
          dedup_(options_.dedup.window, options_.dedup.in_redis, options_.dedup.prefix, options_.dedup.ttl) {
        options_.timeout = connection_.io_timeout();  // the URL's socket_timeout, if it has one
        // A blocking pop waits up to poll_timeout for an event, then up to timeout for the reply.
        if (options_.channel.empty()) connection_.set_read_timeout(options_.poll_timeout + options_.timeout);
    }
    consumer(const consumer&) = delete;
    consumer& operator=(const consumer&) = delete;
    /// Stops and joins the thread `start` made. Destroying a consumer from the thread consuming
    /// (one of its receivers or its failure handler), which cannot wait for itself, reports that
    /// misuse_error and calls std::terminate. Throws nothing.
    ~consumer() { halt(); }

    /// The options in force (with the default processing list and dedup prefix filled in).
    const consumer_options& options() const noexcept { return options_; }

    /// How many events were dropped as duplicates (their id already delivered) so far.
    std::uint64_t duplicates_dropped() const noexcept { return dedup_.dropped(); }

    /// What the consumer did so far (delivered, redelivered, dead-lettered...) and the list's
    /// backlog its thread last sampled; from any thread.
    consumer_stats stats() const noexcept { return counters_.snapshot<consumer_stats>(dedup_.dropped()); }

private:
    static consumer_options with_defaults(consumer_options o) {
        if (o.processing_list.empty()) o.processing_list = o.list + ".processing";
        if (o.dedup.prefix.empty()) o.dedup.prefix = o.list + ".seen:";
        if (o.dedup.in_redis && !o.channel.empty()) {
            throw config_error("", "/dedup/in_redis",
                               "a channel's subscribers each get every message: no Redis record of ids is shared on one");
        }
        return o;
    }

    // After (re)connecting: move what a previous run left in the processing list back to the
    // list's tail, the oldest last, so that it is popped first and in order; or subscribe.
    void prepare() {
        connection_.ensure_connected();
        if (options_.channel.empty()) {
            while (connection_.command({"LMOVE", options_.processing_list, options_.list, "LEFT", "RIGHT"})->type !=
                   REDIS_REPLY_NIL) {
                detail::consumer_counters::add(counters_.redelivered);
            }
        } else {
            connection_.send({"SUBSCRIBE", options_.channel});
            ping_deadline_.reset();
        }
    }

    void step() {
        if (options_.channel.empty()) {
            if (counters_.sample_due(options_.lag_interval)) sample_backlog();
            pop_one();
        } else {
            read_one();
        }
    }

    // The list's length, for stats().backlog.
    void sample_backlog() {
        const auto reply = connection_.command({"LLEN", options_.list});
        if (reply->type == REDIS_REPLY_INTEGER) detail::consumer_counters::store(counters_.backlog, reply->integer);
    }

    void pop_one() {
        const std::string wait = std::to_string(static_cast<double>(options_.poll_timeout.count()) / 1000.0);
        const auto reply = connection_.command({"BLMOVE", options_.list, options_.processing_list, "RIGHT", "LEFT", wait});
        if (reply->type != REDIS_REPLY_STRING) return;  // timed out
        const std::string_view payload(reply->str, reply->len);
        event e;
        bool threw = false;
        const auto result = deliver(payload, e, threw);
        const detail::redis_command remove{"LREM", options_.processing_list, "1", payload};
        if (result == delivered) {
            // The id recorded (with the Redis record) before the message is removed.
            // Its LREM written now, its reply read with the next command's: one round trip a message.
            dedup_.acknowledge(connection_, e, remove, [&](const redis_error& refused) { report(refused, payload); });
            counters_.count_delivered(threw);
        } else if (result == duplicate || options_.dead_letter.empty()) {
            connection_.command(remove);
            if (result == undecodable) detail::consumer_counters::add(counters_.dead_lettered);  // dropped
        } else {
            // Exactly this payload, wherever it is in the processing list, atomically.
            connection_.pipeline({{"MULTI"},
                                  {"LREM", options_.processing_list, "1", payload},
                                  {"LPUSH", options_.dead_letter, payload},
                                  {"EXEC"}});
            detail::consumer_counters::add(counters_.dead_lettered);
        }
    }

    // Waits up to poll_timeout for a message. A subscriber gets nothing from a server that has
    // stopped (SIGSTOP, a hung host) or from a peer that is not a Redis server, and its socket
    // stays open: after poll_timeout of silence it sends a PING, and a server that has answered
    // nothing within `timeout` of it is lost (redis_error; the loop reconnects).
    void read_one() {
        using clock = std::chrono::steady_clock;
        auto wait = options_.poll_timeout;
        if (ping_deadline_) {
            wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(*ping_deadline_ - clock::now()) +
                                      std::chrono::milliseconds(1));
            wait = std::max(wait, std::chrono::milliseconds(0));
        }
        const auto reply = connection_.read_reply(wait, "SUBSCRIBE");
        if (!reply) {
            if (!ping_deadline_) {
                connection_.send({"PING"});
                ping_deadline_ = clock::now() + options_.timeout;
            } else if (clock::now() >= *ping_deadline_) {
                const auto channel = detail::excerpt(options_.channel, detail::url_quote_bytes);
                throw detail::command_error(connection_.endpoint(), "SUBSCRIBE " + channel,
                                            "no reply to PING within " + std::to_string(options_.timeout.count()) +
                                                " ms (the server is stopped, hung, or not a Redis server)");
            }
            return;
        }
        ping_deadline_.reset();  // the server answered something: it is alive
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
            std::string_view(reply->element[0]->str, reply->element[0]->len) != "message") {
            return;  // the subscription's confirmation, or a PING's answer
        }
        const std::string_view payload(reply->element[2]->str, reply->element[2]->len);
        event e;
        bool threw = false;
        const auto result = deliver(payload, e, threw);
        if (result == delivered) {
            dedup_.remember(e);
            counters_.count_delivered(threw);
        }
        if (result == undecodable) {
            if (!options_.dead_letter.empty()) {
                if (!dead_letters_) dead_letters_ = std::make_unique<detail::redis_connection>(connection_.endpoint(), options_.timeout);
                dead_letters_->command({"LPUSH", options_.dead_letter, payload});
            }
            detail::consumer_counters::add(counters_.dead_lettered);
        }
    }

    enum outcome { delivered, duplicate, undecodable };

    static std::string about(std::string_view payload) { return "message \"" + detail::excerpt(payload, 64) + "\""; }

    void report(const redis_error& refused, std::string_view payload) const {
        report_exception(std::make_exception_ptr(refused), about(payload));
    }

    // Decodes one message into `e` and re-sends it, unless it is not a valid event or a duplicate;
    // `threw` tells whether a receiver threw.
    outcome deliver(std::string_view payload, event& e, bool& threw) {
        try {
            if (payload.size() > options_.limits.max_bytes) {  // whatever the format, never parsed
                throw decode_error("", "message of " + std::to_string(payload.size()) + " bytes exceeds the limit of " +
                                           std::to_string(options_.limits.max_bytes) + " bytes (json_limits::max_bytes)",
                                   decode_reason::too_large);
            }
            e = options_.format.decode(payload, options_.limits);
        } catch (const decode_error&) {
            report_exception(std::current_exception(), about(payload));
            return undecodable;
        }
        if (dedup_.seen(connection_, e, [&](const redis_error& refused) { report(refused, payload); })) return duplicate;
        if (!dedup_.deliver(options_.inbox.get(), e, [&] { threw = dispatch(target_, e, about(payload)); })) return duplicate;
        return delivered;
    }

    signal& target_;
    consumer_options options_;
    detail::redis_connection connection_;
    detail::dedup dedup_;
    std::unique_ptr<detail::redis_connection> dead_letters_;
    std::optional<std::chrono::steady_clock::time_point> ping_deadline_;  // of the PING awaiting an answer
    detail::consumer_counters counters_;
};

}  // namespace beacon::redis

namespace beacon {
/// Deprecated: use beacon::redis::consumer_options.
using redis_consumer_options [[deprecated("use beacon::redis::consumer_options")]] = redis::consumer_options;
/// Deprecated: use beacon::redis::consumer.
using redis_consumer [[deprecated("use beacon::redis::consumer")]] = redis::consumer;
}  // namespace beacon
