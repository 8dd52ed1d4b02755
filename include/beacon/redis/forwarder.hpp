#pragma once
/// \file
/// The Redis bridge's sending side for lists and channels: a forwarder that writes events to a
/// Redis list (LPUSH) or channel (PUBLISH), and the configured listener types "redis" and Kinto's.

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
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::redis {

/// Where and how a forwarder writes events.
struct forwarder_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://host[:port][/db][?options] or unix:///path; redis-py's syntax
    std::string list = "beacon.events";            ///< The list events are LPUSHed to (Kinto's `listname`).
    std::string channel;  ///< When not empty, events are PUBLISHed on this channel instead.
    std::chrono::milliseconds timeout{2000};  ///< Longest wait to connect, write or read a reply; a URL's socket_timeout wins.
    /// How events are written: beacon's envelope (default), Kinto's bytes, or a host's format.
    wire_format format = wire_format::envelope();
    /// Kinto's setting: the most connections the forwarder uses at once (at least 1). Concurrent
    /// forwards from many threads are coalesced into pipelines on these connections (one round
    /// trip for many forwards).
    std::size_t pool_size = 1;
    /// An event whose text is longer than `limits.max_bytes` (default 16 MiB) or nests deeper
    /// than `limits.max_depth` is an encode_error at send time: consumer_options::limits (same
    /// name, same default) would dead-letter it. Give both sides the same limits.
    json_limits limits;
};

/// Forwards each event it receives, written in its wire format (beacon's envelope by default), to
/// a Redis list (LPUSH, Kinto's behaviour) or channel (PUBLISH). Connect it to a signal like any
/// receiver. Copies share up to `pool_size` connections, made on first use and remade when the
/// server has restarted; thread-safe: forwards from many threads at once share pipelines. A
/// forward that returns has been acknowledged by Redis; one that cannot be throws redis_error;
/// an event that cannot be written throws encode_error. Copies count into the same `stats()`.
class forwarder : public detail::forwarding_calls<forwarder> {
public:
    /// A forwarder with `options`; throws config_error for a bad URL (it does not connect yet).
    explicit forwarder(forwarder_options options = {}) : state_(std::make_shared<state>(std::move(options))) {}

    /// Pushes or publishes `e` and waits for Redis to acknowledge it (one round trip). A timestamp
    /// of 0 is sent as now (by the built-in formats). Throws encode_error (naming the event and
    /// the field) when `e` cannot be written, and then sends nothing.
    void forward(const event& e) const {
        const auto verb = state_->options.channel.empty() ? "LPUSH" : "PUBLISH";
        detail::counted(state_->counters, 1,
                        [&] { send({{verb, target(), detail::encode_one(state_->options.format, e, limit())}}); });
    }

    /// Pushes or publishes every event of `batch` that can be written, in order, in one round
    /// trip: one LPUSH of all of them (atomic) to a list, or pipelined PUBLISHes to a channel.
    /// An event that cannot be written does not hold the others back: they are sent, then the
    /// encode_error of the first event left out is thrown (its `left_out()`: the positions of all).
    void forward(const std::vector<event>& batch) const { send(detail::encode_batch(state_->options.format, batch, limit())); }

    /// Pushes or publishes the texts of `batch` (events written already: an outbox's rows, which
    /// its relay hands over) in one round trip, as the batch of events above: as they are when
    /// `batch` is in the forwarder's format, else each decoded (within `limits`) and written in
    /// it. A text longer than `limits.max_bytes`, or one that does not decode, is left out, the
    /// others sent, then its encode_error thrown (with `left_out()`).
    void forward(const encoded_events& batch) const {
        if (detail::sendable_as_they_are(state_->options.format, batch, limit())) return send_texts(batch);
        send(detail::encode_batch(state_->options.format, batch, limit(), state_->options.limits));
    }

    /// The options the forwarder was made with.
    const forwarder_options& options() const noexcept { return state_->options; }

    /// What this forwarder and its copies did so far: events published and failed, round trips.
    forwarder_stats stats() const noexcept { return state_->counters.snapshot<forwarder_stats>(); }

private:
    const std::string& target() const noexcept {
        return state_->options.channel.empty() ? state_->options.list : state_->options.channel;
    }

    detail::size_limit limit() const noexcept { return {state_->options.limits.max_bytes, "limits.max_bytes", 0}; }

    void send(const std::vector<detail::redis_command>& commands) const { state_->pool.pipeline(commands); }

    // The texts sent, then the first text's error (the texts left out counted as failures).
    void send(const detail::encoded_batch& encoded) const {
        state_->counters.count_failures(encoded.left_out.size());
        send_texts(encoded);
        encoded.throw_left_out();
    }

    // One LPUSH of every text of `texts` (atomic), or pipelined PUBLISHes; counted.
    template <class Texts>
    void send_texts(const Texts& texts) const {
        if (texts.size() == 0) return;
        detail::counted(state_->counters, texts.size(), [&] { send_all(texts); });
    }

    // The commands of send_texts, sent.
    template <class Texts>
    void send_all(const Texts& texts) const {
        std::vector<detail::redis_command> commands;
        if (state_->options.channel.empty()) {
            commands.push_back({"LPUSH", target()});
            commands.back().reserve(texts.size() + 2);
            for (std::size_t i = 0; i < texts.size(); ++i) commands.back().push_back(texts[i]);
        } else {
            commands.reserve(texts.size());
            for (std::size_t i = 0; i < texts.size(); ++i) commands.push_back({"PUBLISH", target(), texts[i]});
        }
        send(commands);
    }

    struct state {
        explicit state(forwarder_options o)
            : options(std::move(o)),
              pool(detail::parse_redis_url(options.url), options.timeout, options.pool_size, &counters.round_trip) {}
        forwarder_options options;
        detail::forwarder_counters counters;  // before the pool, which records into it
        detail::redis_pool pool;
    };
    std::shared_ptr<state> state_;
};

namespace detail {

/// Reads a configured forwarder's options over `options` (its type's defaults). Keys equal the
/// fields' names; Kinto's `listname` is read as `list`.
inline forwarder make_forwarder(const listener_context& c, forwarder_options options, const std::vector<wire_format>& formats) {
    for (const auto& [key, value] : c.options.items()) {
        if (forwarder_setting(key)) continue;
        if (key == "pool_size") {
            options.pool_size = config_count(c, key, value, 1, "a positive number of connections");
        } else if (key == "format") {
            options.format = config_format(c, key, value, formats);
        } else if (key == "url" || key == "list" || key == "listname" || key == "channel") {
            (key == "url" ? options.url : key == "channel" ? options.channel : options.list) = config_string(c, key, value);
        } else {
            c.fail(key, "unknown option of a redis listener (expected url, list (or Kinto's listname), channel, format, pool_size or outbox)");
        }
    }
    if (c.options.contains("list") && c.options.contains("listname")) {
        c.fail("listname", "a redis listener takes list or its alias listname, not both");
    }
    if ((c.options.contains("list") || c.options.contains("listname")) && c.options.contains("channel")) {
        c.fail("channel", "a redis listener takes either list (listname) or channel, not both");
    }
    try {
        return forwarder(options);
    } catch (const config_error& bad) {
        c.fail("url", bad.what());
    }
}

/// The factory of a forwarder listener type whose defaults are `defaults` (see add_listener_types).
inline listener_factory forwarder_factory(forwarder_options defaults, resource_notifier* notifier, std::vector<wire_format> formats) {
    return [defaults = std::move(defaults), notifier, formats = std::move(formats)](const listener_context& c) -> listener {
        return forwarding_listener(c, make_forwarder(c, defaults, formats), notifier);
    };
}

}  // namespace detail

/// Registers the listener types of the list/channel forwarder in `types`, for `load_listeners`:
/// - "redis": beacon's, writing the envelope to the list "beacon.events" by default;
/// - "kinto_redis.listeners" and "kinto.core.listeners.redis" (Kinto's module names), writing
///   Kinto's bytes (wire_format::kinto) to "kinto.core.events", pool_size 25 by default, as Kinto;
/// - "cliquet.listeners.redis" (Cliquet's), the same on "cliquet.events".
/// Each takes the options `url`, `list` (also as Kinto's `listname`) or `channel`, `format`
/// ("envelope", "kinto", or the name of one of the host's `formats`) and `pool_size` (a positive
/// number, also as a string, as Kinto's ini files give it), and `outbox` (the name of an outbox
/// the host registered with listener_types::add_outbox: the events are written into it inside the
/// host's transaction, and a relay started with the alias publishes them: docs/outbox.md,
/// "From configuration"). Without `notifier`, every event the loader passes a listener is
/// forwarded at once. With `notifier` (which must outlive the loaded
/// listeners), the events of a unit of work are published only after its commit: each
/// after-commit batch's events that the alias's filter (`listener_context::filter`) passes, in one
/// round trip per commit, failures (a redis_error, or the encode_error of an event that cannot be
/// written, the others being published) going to the notifier's failure handler; a rolled-back
/// unit publishes nothing, and a unit committed by an after-commit receiver publishes its own
/// batch. Events sent on the signals while no unit of work of `notifier` is open on the thread are
/// forwarded at once; events sent directly (not noted) while one is open are in no batch and not
/// forwarded. Bad options throw config_error.
inline void add_listener_types(listener_types& types, resource_notifier* notifier = nullptr,
                               const std::vector<wire_format>& formats = {}) {
    types.add("redis", detail::forwarder_factory({}, notifier, formats));
    forwarder_options kinto;
    kinto.format = wire_format::kinto();
    kinto.list = "kinto.core.events";
    kinto.pool_size = 25;
    types.add("kinto_redis.listeners", detail::forwarder_factory(kinto, notifier, formats));
    types.add("kinto.core.listeners.redis", detail::forwarder_factory(kinto, notifier, formats));
    kinto.list = "cliquet.events";
    types.add("cliquet.listeners.redis", detail::forwarder_factory(kinto, notifier, formats));
}

}  // namespace beacon::redis

namespace beacon {
/// Deprecated: use beacon::redis::forwarder_options.
using redis_listener_options [[deprecated("use beacon::redis::forwarder_options")]] = redis::forwarder_options;
/// Deprecated: use beacon::redis::forwarder.
using redis_listener [[deprecated("use beacon::redis::forwarder")]] = redis::forwarder;
/// Deprecated: use beacon::redis::redis_error.
using redis_error [[deprecated("use beacon::redis::redis_error")]] = redis::redis_error;
/// Deprecated: use beacon::redis::add_listener_types.
[[deprecated("use beacon::redis::add_listener_types")]] inline void add_redis_listener_type(
    listener_types& types, resource_notifier* notifier = nullptr, const std::vector<wire_format>& formats = {}) {
    redis::add_listener_types(types, notifier, formats);
}
}  // namespace beacon
