#pragma once
/// \file
/// The sending side of Redis Streams: a forwarder that appends each event to a stream with XADD,
/// bounded with `MAXLEN ~`, a batch in one round trip; and the configured listener type "redis_stream".

#include <beacon/encoded_events.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/listener.hpp>
#include <beacon/redis/detail/batch.hpp>
#include <beacon/redis/detail/config.hpp>
#include <beacon/redis/detail/connection.hpp>
#include <beacon/redis/error.hpp>
#include <beacon/redis/detail/pool.hpp>
#include <beacon/redis/detail/counters.hpp>
#include <beacon/redis/stats.hpp>
#include <beacon/unit_of_work.hpp>
#include <beacon/wire_format.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::redis {

/// The field of a stream entry that holds the event, written in the forwarder's wire format.
inline constexpr std::string_view stream_field = "event";

/// The default bound on a stream entry's size (all fields), shared by stream_forwarder_options
/// and stream_consumer_options: what the consumer would dead-letter, the forwarder refuses.
inline constexpr std::size_t default_max_entry_bytes = std::size_t{1} << 20;

/// Where and how a stream_forwarder appends events.
struct stream_forwarder_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://host[:port][/db][?options] or unix:///path; redis-py's syntax
    std::string stream = "beacon.stream";          ///< The stream events are XADDed to.
    /// Each XADD trims the stream to about this many entries (`MAXLEN ~`, whole macro nodes, so a
    /// little more may stay); 0 leaves it unbounded. Entries still pending in a group may be trimmed.
    std::size_t max_length = 1000000;
    std::chrono::milliseconds timeout{2000};  ///< Longest wait to connect, write or read a reply; a URL's socket_timeout wins.
    /// The most connections the forwarder uses at once (at least 1). Concurrent forwards from many
    /// threads are coalesced into pipelines on these connections (one round trip for many).
    std::size_t pool_size = 1;
    /// How events are written: beacon's envelope (default), Kinto's bytes, or a host's format.
    wire_format format = wire_format::envelope();
    /// An event whose text is longer than `limits.max_bytes` (or nests deeper than
    /// `limits.max_depth`) is an encode_error at send time: the consumers' setting of the same
    /// name (and default) would refuse it. Give both sides the same limits.
    json_limits limits;
    /// An entry (field `event` and the text) larger than this is an encode_error at send time;
    /// stream_consumer_options::max_entry_bytes (same default) would dead-letter it.
    std::size_t max_entry_bytes = default_max_entry_bytes;
    /// Whether a batch is one transaction (MULTI, its XADDs, EXEC): all of its entries are added
    /// or none. false: its XADDs are pipelined without one (as redis-py's
    /// `pipeline(transaction=False)`), in the same one round trip and order, and cost Redis less;
    /// when one fails the others may still be added, so a batch sent again after an error may
    /// add some entries twice (a consumer's `dedup` or inbox drops them: each has its event's id).
    bool transaction = true;
};

/// Appends each event it receives to a Redis stream, as one entry whose field `event` holds the
/// event written in the forwarder's wire format (beacon's envelope by default). Connect it to a
/// signal like any receiver, or hand it to `resource_notifier::on_after_commit` to append each
/// commit's batch in one round trip. Copies share up to `pool_size` connections, made on first use
/// and remade when the server has restarted; thread-safe: forwards from many threads at once
/// share pipelines. A forward that returns has been acknowledged by Redis; one that cannot be
/// throws redis_error. Copies count into the same `stats()`.
class stream_forwarder : public detail::forwarding_calls<stream_forwarder> {
public:
    /// A forwarder with `options`; throws config_error for a bad URL (it does not connect yet).
    explicit stream_forwarder(stream_forwarder_options options = {}) : state_(std::make_shared<state>(std::move(options))) {}

    /// Appends `e` and waits for Redis to acknowledge it (one round trip). A timestamp of 0 is
    /// sent as now (by the built-in formats). Throws encode_error (naming the event and the field)
    /// when `e` cannot be written, and then sends nothing.
    void forward(const event& e) const {
        detail::counted(state_->counters, 1,
                        [&] { state_->pool.pipeline({xadd(detail::encode_one(state_->options.format, e, limit()))}); });
    }

    /// Appends every event of `batch` that can be written, in order, in one round trip and
    /// atomically (MULTI/EXEC): either all of those entries are added or none (with the option
    /// `transaction` false, each on its own). An event that cannot be written does not hold the
    /// others back (as with forwarder): they are appended, then the encode_error of the first
    /// event left out is thrown (its `left_out()`: the positions of all).
    void forward(const std::vector<event>& batch) const { append(detail::encode_batch(state_->options.format, batch, limit())); }

    /// Appends the texts of `batch` (events written already: an outbox's rows, which its relay
    /// hands over) in one round trip and atomically, as the batch of events above: as they are
    /// when `batch` is in the forwarder's format, else each decoded (within `limits`) and written
    /// in it. A text over the limits, or one that does not decode, is left out, the others
    /// appended, then its encode_error thrown (with `left_out()`).
    void forward(const encoded_events& batch) const {
        if (detail::sendable_as_they_are(state_->options.format, batch, limit())) return append_texts(batch);
        append(detail::encode_batch(state_->options.format, batch, limit(), state_->options.limits));
    }

    /// The options the forwarder was made with.
    const stream_forwarder_options& options() const noexcept { return state_->options; }

    /// What this forwarder and its copies did so far: events appended and failed, round trips.
    forwarder_stats stats() const noexcept { return state_->counters.snapshot<forwarder_stats>(); }

private:
    // The texts appended, then the first text's error (the texts left out counted as failures).
    void append(const detail::encoded_batch& encoded) const {
        state_->counters.count_failures(encoded.left_out.size());
        append_texts(encoded);
        encoded.throw_left_out();
    }

    // One XADD, or an XADD per text of `texts` in a transaction (append_all) or pipelined without
    // one when `transaction` is false (append_pipelined); counted.
    template <class Texts>
    void append_texts(const Texts& texts) const {
        if (texts.size() > 1 && !state_->options.transaction) return append_pipelined(texts);
        if (texts.size() != 0) detail::counted(state_->counters, texts.size(), [&] { append_all(texts); });
    }

    // An XADD per text of `texts`, pipelined: each entry is added or refused on its own, and
    // counted so (published or failed); the first refusal is thrown once all are counted. An I/O
    // error counts them all failed (any of them may have been added).
    template <class Texts>
    void append_pipelined(const Texts& texts) const {
        std::vector<detail::redis_reply> replies;
        try {
            replies = state_->pool.exchange(xadds(texts, false));
        } catch (...) {
            state_->counters.count_failures(texts.size());
            throw;
        }
        std::size_t refused = 0;
        const redisReply* first = nullptr;
        for (const auto& reply : replies) {
            if (reply->type == REDIS_REPLY_ERROR && refused++ == 0) first = reply.get();
        }
        state_->counters.count_published(replies.size() - refused);
        state_->counters.count_failures(refused);
        if (first) {
            throw detail::command_error(state_->pool.endpoint(), "XADD " + state_->options.stream,
                                        detail::error_text(first) + " (" + std::to_string(refused) + " of " +
                                            std::to_string(replies.size()) + " entries refused)");
        }
    }

    // The commands of append_texts with a transaction (or a lone XADD), sent; an error inside
    // the transaction throws redis_error.
    template <class Texts>
    void append_all(const Texts& texts) const {
        if (texts.size() == 1) {
            state_->pool.pipeline({xadd(texts[0])});
        } else {
            const auto replies = state_->pool.pipeline(xadds(texts, true));
            // An error inside the transaction (e.g. the key holds another type) is in EXEC's reply.
            const auto& exec = replies.back();
            if (exec->type != REDIS_REPLY_ARRAY) throw detail::command_error(state_->pool.endpoint(), "EXEC", "the transaction was aborted");
            for (std::size_t i = 0; i < exec->elements; ++i) {
                if (exec->element[i]->type == REDIS_REPLY_ERROR) {
                    throw detail::command_error(state_->pool.endpoint(), "XADD " + state_->options.stream,
                                                detail::error_text(exec->element[i]));
                }
            }
        }
    }

    // An XADD per text of `texts`, between MULTI and EXEC when `transaction`.
    template <class Texts>
    std::vector<detail::redis_command> xadds(const Texts& texts, bool transaction) const {
        std::vector<detail::redis_command> commands;
        commands.reserve(texts.size() + 2);
        if (transaction) commands.push_back({"MULTI"});
        for (std::size_t i = 0; i < texts.size(); ++i) commands.push_back(xadd(texts[i]));
        if (transaction) commands.push_back({"EXEC"});
        return commands;
    }

    // XADD <stream> [MAXLEN ~ <n>] * event <text>; the views point into `state_` and `text`.
    detail::redis_command xadd(std::string_view text) const {
        if (state_->max_length.empty()) return {"XADD", state_->options.stream, "*", stream_field, text};
        return {"XADD", state_->options.stream, "MAXLEN", "~", state_->max_length, "*", stream_field, text};
    }

    // The tighter of the two bounds on an event's text.
    detail::size_limit limit() const noexcept {
        const auto& o = state_->options;
        if (o.limits.max_bytes + stream_field.size() < o.max_entry_bytes) return {o.limits.max_bytes, "limits.max_bytes", 0};
        return {o.max_entry_bytes, "max_entry_bytes", stream_field.size()};
    }

    struct state {
        explicit state(stream_forwarder_options o)
            : options(std::move(o)),
              max_length(options.max_length ? std::to_string(options.max_length) : std::string()),
              pool(detail::parse_redis_url(options.url), options.timeout, options.pool_size, &counters.round_trip) {}
        stream_forwarder_options options;
        std::string max_length;  // as text, empty when unbounded
        detail::forwarder_counters counters;  // before the pool, which records into it
        detail::redis_pool pool;
    };
    std::shared_ptr<state> state_;
};

/// Registers the listener type "redis_stream" in `types`, for `load_listeners`: options `url`,
/// `stream` (default "beacon.stream"), `max_length` (a number, 0 for unbounded), `pool_size`
/// (a positive number), `format` ("envelope", "kinto", or the name of one of the host's
/// `formats`), `transaction` (true or false) and `outbox` (as for the type "redis": written into
/// the host's outbox, appended by its relay); numbers and flags may be given as strings, as in
/// an ini file. Without `notifier` every event the loader passes it is appended at once; with
/// `notifier` (which must outlive the loaded listeners) the events of a unit of work are
/// appended after its commit, what the alias's filter passes in one round trip per commit,
/// exactly as the type "redis" does (see add_listener_types). Bad options throw config_error.
inline void add_stream_listener_type(listener_types& types, resource_notifier* notifier = nullptr,
                                     std::vector<wire_format> formats = {}) {
    types.add("redis_stream", [notifier, formats = std::move(formats)](const listener_context& c) -> listener {
        stream_forwarder_options options;
        for (const auto& [key, value] : c.options.items()) {
            if (detail::forwarder_setting(key)) continue;
            if (key == "url" || key == "stream") {
                (key == "url" ? options.url : options.stream) = detail::config_string(c, key, value);
            } else if (key == "max_length") {
                options.max_length = detail::config_count(c, key, value, 0, "a number of entries (0: unbounded)");
            } else if (key == "pool_size") {
                options.pool_size = detail::config_count(c, key, value, 1, "a positive number of connections");
            } else if (key == "format") {
                options.format = detail::config_format(c, key, value, formats);
            } else if (key == "transaction") {
                options.transaction = detail::config_flag(c, key, value);
            } else {
                c.fail(key, "unknown option of a redis_stream listener (expected url, stream, max_length, pool_size, format, "
                            "transaction or outbox)");
            }
        }
        std::optional<stream_forwarder> forwarder;
        try {
            forwarder.emplace(options);
        } catch (const config_error& bad) {
            c.fail("url", bad.what());
        }
        return detail::forwarding_listener(c, *forwarder, notifier);
    });
}

}  // namespace beacon::redis

namespace beacon {
/// Deprecated: use beacon::redis::stream_forwarder_options.
using redis_stream_listener_options [[deprecated("use beacon::redis::stream_forwarder_options")]] =
    redis::stream_forwarder_options;
/// Deprecated: use beacon::redis::stream_forwarder.
using redis_stream_listener [[deprecated("use beacon::redis::stream_forwarder")]] = redis::stream_forwarder;
/// Deprecated: use beacon::redis::add_stream_listener_type.
[[deprecated("use beacon::redis::add_stream_listener_type")]] inline void add_redis_stream_listener_type(
    listener_types& types, resource_notifier* notifier = nullptr, std::vector<wire_format> formats = {}) {
    redis::add_stream_listener_type(types, notifier, std::move(formats));
}
}  // namespace beacon
