#pragma once
/// \file
/// The receiving side of Redis Streams: a consumer in a consumer group that re-sends each entry
/// into a local signal, acknowledges it after every receiver returned, takes over entries a dead
/// consumer left pending, and dead-letters an entry delivered too many times.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/inbox.hpp>
#include <beacon/redis/dedup.hpp>
#include <beacon/redis/detail/connection.hpp>
#include <beacon/redis/detail/consumer_loop.hpp>
#include <beacon/redis/detail/dedup.hpp>
#include <beacon/redis/detail/replies.hpp>
#include <beacon/redis/error.hpp>
#include <beacon/redis/detail/counters.hpp>
#include <beacon/redis/stats.hpp>
#include <beacon/redis/stream_forwarder.hpp>  // stream_field
#include <beacon/signal.hpp>
#include <beacon/wire_format.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::redis {

/// Which stream and group a stream_consumer reads, and how it recovers.
struct stream_consumer_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://host[:port][/db][?options] or unix:///path; redis-py's syntax
    std::string stream = "beacon.stream";          ///< The stream read.
    /// The consumer group: one per service; every group gets every event, the consumers of one
    /// group share its events. Created (with the stream, if missing) when it does not exist.
    std::string group = "beacon";
    /// This consumer's name in the group; default "<host name>-<process id>". A consumer restarted
    /// under its old name first gets the entries it had not acknowledged.
    std::string name;
    /// Where a group this consumer creates starts: "0" (everything the stream holds) or "$"
    /// (only entries added from now on).
    std::string start_id = "0";
    /// New entries read per round trip (XREADGROUP COUNT); each is acknowledged (XACK written) as
    /// soon as its receivers returned, so that a crash on one leaves the entries handled before it
    /// done, and the replies of a batch's XACKs are read at its end: one round trip a batch.
    std::size_t batch = 16;
    /// An entry pending with a consumer (of this group) for longer than this is taken over
    /// (XAUTOCLAIM): its consumer is presumed dead. Must exceed the time a batch takes to handle.
    std::chrono::milliseconds claim_idle{30000};
    /// An entry about to be delivered more than this many times (it killed or hung every
    /// consumer that got it) is moved to the dead-letter stream instead.
    std::size_t max_deliveries = 5;
    std::string dead_letter;  ///< The dead-letter stream; default "<stream>.dead".
    /// How entries are read: beacon's envelope format (default), which reads the envelope and
    /// Kinto's flat payload alike; `wire_format::kinto()` for Kinto's alone; or a host's format.
    wire_format format = wire_format::envelope();
    /// Bounds on each event's text (size before parsing, nesting depth while parsing); a
    /// stream_forwarder with the same limits refuses to write what they refuse.
    json_limits limits;
    /// A larger entry (all fields) is dead-lettered undecoded; a stream_forwarder with the same
    /// setting (the same default) refuses to write one.
    std::size_t max_entry_bytes = default_max_entry_bytes;
    std::size_t max_fields = 16;            ///< An entry with more field/value pairs is dead-lettered.
    std::chrono::milliseconds poll_timeout{500};  ///< Longest blocking wait, hence longest stop() delay.
    std::chrono::milliseconds timeout{2000};      ///< Longest wait to connect or write; a URL's socket_timeout wins.
    std::chrono::milliseconds backoff_min{50};    ///< First wait before reconnecting.
    std::chrono::milliseconds backoff_max{2000};  ///< Longest wait between reconnection attempts.
    /// How often the consumer's own thread samples its group's lag (XPENDING, one round trip on
    /// its connection) for `stats().pending` and `stats().oldest_pending_idle`, at most: between
    /// two reads; 0 never does.
    std::chrono::milliseconds lag_interval{1000};
    /// Duplicates dropped by id: the in-memory window of the last ids delivered is on (4096 ids);
    /// the Redis record (`dedup.in_redis`), shared by the group's consumers, is off. The default
    /// prefix is "<stream>.<group>.seen:".
    dedup_options dedup;
    /// When set, each event is delivered through this inbox (beacon::sqlite::inbox,
    /// beacon::postgres::inbox, or a host's own), which records its id in the same transaction as
    /// the receivers' effects: an entry whose event was processed already is acknowledged without
    /// delivering it (counted by `duplicates_dropped()`). An inbox that cannot commit (a
    /// transport_error) is reported like a lost server: the entry stays pending with this consumer
    /// and is delivered again after the backoff.
    std::shared_ptr<beacon::inbox> inbox;
};

/// Reads events from a Redis stream as one consumer of a consumer group and re-sends each into a
/// local signal, in its own thread (`start`) or the caller's (`run`), until `stop()`.
///
/// Delivery is at-least-once per group: an entry is acknowledged (XACK) only after every receiver
/// returned (a receiver's exception is reported, as with lists). An entry left pending by a
/// consumer that died (or hangs) is taken over by another consumer of the group after
/// `claim_idle`; a consumer restarted under its old name takes its own back at once. An entry
/// that is not a valid event (decode_error), or that would be delivered more than
/// `max_deliveries` times (poison_entry_error), is moved to the dead-letter stream (fields `id`,
/// `group`, `reason`, then the entry's own) and reported. A lost server is retried with
/// exponential backoff; a group that vanished (e.g. the server restarted without persistence) is
/// created again. An entry whose event's id was already delivered is dropped as `options.dedup`
/// says, counted by `duplicates_dropped()`, and acknowledged. A consumer runs once; misuse throws
/// misuse_error.
///
/// Failures go to `on_failure` (the process-wide sink when empty) as a beacon::failure of
/// part::redis whose `where` names the consumer, its stream and group, and the entry id.
/// `stats()` counts what it did.
class stream_consumer : public detail::consumer_loop {
public:
    /// A consumer re-sending into `target` (which must outlive it); failures go to `on_failure`.
    /// Throws config_error for a bad URL; does not connect yet.
    explicit stream_consumer(signal& target, stream_consumer_options options = {}, failure_handler on_failure = {})
        : consumer_loop("redis::stream_consumer", "stream " + options.stream + " group " + options.group,
                        std::move(on_failure), {[this] { prepare(); }, [this] { step(); }, [this] { connection_.close(); }},
                        options.backoff_min, options.backoff_max),
          target_(target),
          options_(with_defaults(std::move(options))),
          connection_(detail::parse_redis_url(options_.url), options_.timeout),
          batch_text_(std::to_string(options_.batch)),
          dedup_(options_.dedup.window, options_.dedup.in_redis, options_.dedup.prefix, options_.dedup.ttl) {
        options_.timeout = connection_.io_timeout();  // the URL's socket_timeout, if it has one
        // A blocking read waits up to poll_timeout for entries, then up to timeout for the reply.
        connection_.set_read_timeout(options_.poll_timeout + options_.timeout);
    }
    stream_consumer(const stream_consumer&) = delete;
    stream_consumer& operator=(const stream_consumer&) = delete;
    /// Stops and joins the thread `start` made; from the consuming thread itself (which cannot
    /// wait for itself) it reports that misuse_error and calls std::terminate.
    ~stream_consumer() { halt(); }

    /// The options in force (with the defaults filled in).
    const stream_consumer_options& options() const noexcept { return options_; }

    /// How many entries were dropped as duplicates (their event's id already delivered) so far.
    std::uint64_t duplicates_dropped() const noexcept { return dedup_.dropped(); }

    /// What the consumer did so far (delivered, redelivered, dead-lettered...) and its group's
    /// pending entries as its thread last sampled them; from any thread.
    consumer_stats stats() const noexcept { return counters_.snapshot<consumer_stats>(dedup_.dropped()); }

private:
    using entry = detail::stream_entry;

    static stream_consumer_options with_defaults(stream_consumer_options o) {
        if (o.dead_letter.empty()) o.dead_letter = o.stream + ".dead";
        if (o.name.empty()) {
            char host[256] = {};
            if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
            o.name = std::string(host[0] ? host : "consumer") + "-" + std::to_string(::getpid());
        }
        if (o.batch == 0) o.batch = 1;
        if (o.dedup.prefix.empty()) o.dedup.prefix = o.stream + "." + o.group + ".seen:";
        return o;
    }

    void step() {
        if (counters_.sample_due(options_.lag_interval)) sample_lag();
        if (std::chrono::steady_clock::now() >= next_claim_) take_over_abandoned();
        read_new();
    }

    // The group's pending entries, and the idle time of the oldest, in one round trip.
    void sample_lag() {
        const auto replies = connection_.pipeline({{"XPENDING", options_.stream, options_.group},
                                                   {"XPENDING", options_.stream, options_.group, "-", "+", "1"}});
        const auto lag = detail::lag_of(replies[0].get(), replies[1].get(), source());
        detail::consumer_counters::store(counters_.pending, lag.pending);
        detail::consumer_counters::store(counters_.oldest_pending_idle_ms, lag.oldest_idle_ms);
    }

    // Creates the group when missing, then handles what this consumer (by name) left pending.
    void prepare() {
        try {
            connection_.command({"XGROUP", "CREATE", options_.stream, options_.group, options_.start_id, "MKSTREAM"});
        } catch (const redis_error& e) {
            if (std::string_view(e.what()).find("BUSYGROUP") == std::string_view::npos) throw;
        }
        next_claim_ = std::chrono::steady_clock::time_point();
        claim_cursor_ = "0-0";
        // Own history, one entry at a time: XREADGROUP from an id returns our pending entries after
        // it and counts a delivery for each it returns, so that asking for one charges only the
        // entry handled next. After a crash on one entry, those read with it are not charged.
        std::string after = "0-0";
        while (!stopping()) {
            const auto reply = connection_.command({"XREADGROUP", "GROUP", options_.group, options_.name, "COUNT",
                                                    "1", "STREAMS", options_.stream, after});
            const auto entries = entries_of_read(reply.get());
            if (entries.empty()) return;
            after = entries.back().id;
            handle(entries, delivery_counts(entries));
        }
    }

    // New entries, waiting up to poll_timeout; each is on its first delivery.
    void read_new() {
        const std::string block = std::to_string(options_.poll_timeout.count());
        const auto reply = connection_.command({"XREADGROUP", "GROUP", options_.group, options_.name, "COUNT",
                                                batch_text_, "BLOCK", block, "STREAMS", options_.stream, ">"});
        const auto entries = entries_of_read(reply.get());
        if (!entries.empty()) handle(entries, {});
    }

    // Takes over entries idle for claim_idle in any consumer of the group, one XAUTOCLAIM step
    // (resumed from where the last one ended); due again at once while the scan goes on. The
    // step takes their ids only (JUSTID counts no delivery); each is then claimed again and
    // handled one at a time (XCLAIM counts a delivery for it alone), so that a poison entry
    // charges none of the entries taken over with it.
    void take_over_abandoned() {
        const auto reply = connection_.command({"XAUTOCLAIM", options_.stream, options_.group, options_.name,
                                                std::to_string(options_.claim_idle.count()), claim_cursor_, "COUNT",
                                                batch_text_, "JUSTID"});
        auto step = detail::autoclaim_of(reply.get(), options_.batch, source());
        claim_cursor_ = std::move(step.cursor);
        const auto& ids = step.ids;
        const bool scan_done = claim_cursor_ == "0-0";
        next_claim_ = scan_done ? std::chrono::steady_clock::now() + std::max(options_.claim_idle / 2, std::chrono::milliseconds(1))
                                : std::chrono::steady_clock::time_point();
        for (const auto& id : ids) {
            if (stopping()) return;  // the rest stays pending with this consumer
            const auto claimed = connection_.command({"XCLAIM", options_.stream, options_.group, options_.name, "0", id});
            // None when it was deleted meanwhile.
            const auto entries = detail::entries_of(claimed.get(), options_.batch, "XCLAIM", source());
            if (!entries.empty()) handle(entries, delivery_counts(entries));
        }
    }

    // How many times each of `entries` (pending with this consumer) has been delivered, this
    // delivery included.
    std::map<std::string, std::size_t> delivery_counts(const std::vector<entry>& entries) {
        const auto reply = connection_.command({"XPENDING", options_.stream, options_.group, entries.front().id,
                                                entries.back().id, std::to_string(entries.size()), options_.name});
        return detail::delivery_counts_of(reply.get(), source());
    }

    // Delivers `entries` in order (or dead-letters them), acknowledging each as soon as its
    // receivers returned: its XACK is written then, and the replies of them all read at the end,
    // one round trip a batch. A crash on one entry leaves that one (and those not yet handled)
    // pending, and those before it acknowledged as far as their XACKs written reach the server
    // (the kernel sends what a dead process wrote). `counts` maps ids to delivery counts; an id
    // missing from it is on its first.
    void handle(const std::vector<entry>& entries, const std::map<std::string, std::size_t>& counts) {
        for (const auto& item : entries) {
            if (stopping()) break;  // the rest stays pending with this consumer
            if (!item.fields) {           // deleted (trimmed) while pending: nothing to deliver
                acknowledge(item.id);
                continue;
            }
            const auto entry_text = detail::check_entry(*item.fields, stream_field, options_.max_fields, options_.max_entry_bytes);
            if (!entry_text.problem.empty()) {
                dead_letter(item, decode_error("", entry_text.problem), entry_text.bounded);
                continue;
            }
            const auto count = counts.find(item.id);
            const std::size_t deliveries = count == counts.end() ? 1 : count->second;
            if (deliveries > options_.max_deliveries) {
                dead_letter(item,
                            poison_entry_error("delivered " + std::to_string(deliveries) +
                                               " times, more than max_deliveries (" +
                                               std::to_string(options_.max_deliveries) + ")"),
                            true);
                continue;
            }
            event e;
            try {
                e = options_.format.decode(entry_text.payload, options_.limits);
            } catch (const decode_error& bad) {
                dead_letter(item, bad, true);
                continue;
            }
            const std::string about = "entry " + item.id;
            const auto refused = [&](const redis_error& refusal) { report_exception(std::make_exception_ptr(refusal), about); };
            if (dedup_.seen(connection_, e, refused)) {  // delivered already: acknowledged, not delivered
                acknowledge(item.id);
                continue;
            }
            bool threw = false;
            if (!dedup_.deliver(options_.inbox.get(), e, [&] { threw = dispatch(target_, e, about); })) {
                acknowledge(item.id);  // processed already, as the inbox says
                continue;
            }
            // The id recorded (with the Redis record) before the entry is acknowledged.
            dedup_.acknowledge(connection_, e, {"XACK", options_.stream, options_.group, item.id}, refused);
            counters_.count_delivered(threw, deliveries > 1);
        }
        connection_.settle();
    }

    void acknowledge(const std::string& id) { connection_.post({"XACK", options_.stream, options_.group, id}); }

    // Moves an entry to the dead-letter stream and acknowledges it, atomically (its fields are
    // copied when `copy_fields`), then reports `why`.
    template <class Why>
    void dead_letter(const entry& item, const Why& why, bool copy_fields) {
        detail::redis_command xadd{"XADD", options_.dead_letter, "*", "id", item.id, "group", options_.group, "reason", why.what()};
        if (copy_fields) {
            for (std::size_t i = 0; i + 1 < item.fields->elements; i += 2) {
                xadd.push_back(detail::text_view(item.fields->element[i]));
                xadd.push_back(detail::text_view(item.fields->element[i + 1]));
            }
        }
        const auto replies = connection_.pipeline(
            {{"MULTI"}, xadd, {"XACK", options_.stream, options_.group, item.id}, {"EXEC"}});
        if (replies.back()->type != REDIS_REPLY_ARRAY) detail::unexpected_reply(source(), "EXEC");
        detail::consumer_counters::add(counters_.dead_lettered);
        report_exception(std::make_exception_ptr(why), "entry " + item.id);
    }

    std::vector<entry> entries_of_read(const redisReply* reply) const {
        return detail::entries_of_read(reply, options_.batch, source());
    }

    // Names this consumer's server and stream in a redis_error about a reply.
    detail::reply_source source() const noexcept { return {connection_.endpoint().url, options_.stream}; }

    signal& target_;
    stream_consumer_options options_;
    detail::redis_connection connection_;
    std::string batch_text_;
    std::string claim_cursor_ = "0-0";
    std::chrono::steady_clock::time_point next_claim_{};
    detail::dedup dedup_;
    detail::consumer_counters counters_;
};

}  // namespace beacon::redis

namespace beacon {
/// Deprecated: use beacon::redis::stream_consumer_options.
using redis_stream_consumer_options [[deprecated("use beacon::redis::stream_consumer_options")]] =
    redis::stream_consumer_options;
/// Deprecated: use beacon::redis::stream_consumer.
using redis_stream_consumer [[deprecated("use beacon::redis::stream_consumer")]] = redis::stream_consumer;
}  // namespace beacon
