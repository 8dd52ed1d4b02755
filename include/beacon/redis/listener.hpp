#pragma once
/// \file
/// The Redis bridge's sending side: a listener that forwards events as JSON to a Redis list or
/// channel, and the configured listener type "redis".

#include <beacon/detail/redis_connection.hpp>
#include <beacon/detail/redis_pool.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/listener.hpp>
#include <beacon/signal.hpp>
#include <beacon/unit_of_work.hpp>
#include <beacon/wire_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace beacon {

/// Where and how a redis_listener forwards events.
struct redis_listener_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://[[user]:password@]host[:port][/db]
    std::string listname = "beacon.events";        ///< The list events are LPUSHed to.
    std::string channel;  ///< When not empty, events are PUBLISHed on this channel instead.
    std::chrono::milliseconds timeout{2000};  ///< Longest wait to connect, write or read a reply.
    /// How events are written: beacon's envelope (default), Kinto's bytes, or a host's format.
    wire_format format = wire_format::envelope();
    /// Kinto's setting: the most connections the listener uses at once (at least 1). Concurrent
    /// forwards from many threads are coalesced into pipelines on these connections (one round
    /// trip for many forwards, see detail::redis_pool).
    std::size_t pool_size = 1;
};

/// Forwards each event it receives, written in its wire format (beacon's envelope by default), to
/// a Redis list (LPUSH, Kinto's behaviour) or channel (PUBLISH). Connect it to a signal like any
/// receiver. Copies share up to `pool_size` connections, made on first use and remade when the
/// server has restarted; thread-safe: forwards from many threads at once share pipelines. A forward that returns has been acknowledged by Redis; one that
/// cannot be throws redis_error; an event that cannot be written throws encode_error.
class redis_listener {
public:
    /// A listener with `options`; throws redis_error for a bad URL (it does not connect yet).
    explicit redis_listener(redis_listener_options options = {})
        : state_(std::make_shared<state>(std::move(options))) {}

    /// Forwards `e` (so that `signal::connect(listener)` works).
    void operator()(const event& e) const { forward(e); }
    /// Forwards `batch` in one round trip (so that `resource_notifier::on_after_commit(listener)`
    /// publishes once per commit).
    void operator()(const std::vector<event>& batch) const { forward(batch); }

    /// Pushes or publishes `e` and waits for Redis to acknowledge it (one round trip). A timestamp
    /// of 0 is sent as now (by the built-in formats). Throws encode_error (naming the event and
    /// the field) when `e` cannot be written, and then sends nothing.
    void forward(const event& e) const {
        const std::string text = state_->options.format.encode(e);
        send({{state_->options.channel.empty() ? "LPUSH" : "PUBLISH", target(), text}});
    }

    /// Pushes or publishes every event of `batch` that can be written, in order, in one round
    /// trip: one LPUSH of all of them (atomic) to a list, or pipelined PUBLISHes to a channel.
    /// An event that cannot be written does not hold the others back: they are sent, then the
    /// encode_error of the first event left out is thrown.
    void forward(const std::vector<event>& batch) const {
        std::string texts;  // every encoding, one after the other
        std::vector<std::size_t> ends;
        std::optional<encode_error> first_bad;
        for (const auto& e : batch) {
            const std::size_t start = texts.size();
            try {
                state_->options.format.encode(e, texts);
                ends.push_back(texts.size());
            } catch (const encode_error& failure) {
                texts.resize(start);
                if (!first_bad) first_bad = failure;
            }
        }
        if (!ends.empty()) {
            std::vector<detail::redis_command> commands;
            const std::string_view all(texts);
            if (state_->options.channel.empty()) {
                commands.push_back({"LPUSH", target()});
                for (std::size_t i = 0, start = 0; i < ends.size(); start = ends[i++]) {
                    commands.back().push_back(all.substr(start, ends[i] - start));
                }
            } else {
                for (std::size_t i = 0, start = 0; i < ends.size(); start = ends[i++]) {
                    commands.push_back({"PUBLISH", target(), all.substr(start, ends[i] - start)});
                }
            }
            send(commands);
        }
        if (first_bad) throw *first_bad;
    }

    /// The options the listener was made with.
    const redis_listener_options& options() const noexcept { return state_->options; }

private:
    const std::string& target() const noexcept {
        return state_->options.channel.empty() ? state_->options.listname : state_->options.channel;
    }

    void send(const std::vector<detail::redis_command>& commands) const { state_->pool.pipeline(commands); }

    struct state {
        explicit state(redis_listener_options o)
            : options(std::move(o)), pool(detail::parse_redis_url(options.url), options.timeout, options.pool_size) {}
        redis_listener_options options;
        detail::redis_pool pool;
    };
    std::shared_ptr<state> state_;
};

namespace detail {

// A configured count: a number, or a string of digits as in an ini file, at least `min`.
inline std::size_t config_count(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                std::size_t min, const char* what) {
    const bool natural = value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0);
    const std::string text = value.is_string() ? value.get<std::string>() : natural ? value.dump() : "";
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min) {
        c.fail(key, std::string("expected ") + what + ", got " +
                        (value.is_string() ? "\"" + excerpt(text, 32) + "\"" : value.dump().substr(0, 32)));
    }
    return n;
}

// A configured non-empty string.
inline std::string config_string(const listener_context& c, const std::string& key, const nlohmann::json& value) {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        c.fail(key, std::string("expected a non-empty string, got ") + (value.is_string() ? "\"\"" : value.type_name()));
    }
    return value.get<std::string>();
}

// A configured wire format by name: "envelope", "kinto", or one of the host's `formats`.
inline wire_format config_format(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                 const std::vector<wire_format>& formats) {
    const std::string name = config_string(c, key, value);
    if (name == "envelope") return wire_format::envelope();
    if (name == "kinto") return wire_format::kinto();
    const auto it = std::find_if(formats.begin(), formats.end(), [&](const wire_format& f) { return f.name() == name; });
    if (it == formats.end()) {
        std::string known = "envelope, kinto";
        for (const auto& f : formats) known += ", " + f.name();
        c.fail(key, "unknown wire format \"" + excerpt(name, 64) + "\" (known: " + known + ")");
    }
    return *it;
}

// Reads a configured redis listener's options over `options` (its type's defaults).
inline redis_listener make_redis_listener(const listener_context& c, redis_listener_options options,
                                          const std::vector<wire_format>& formats) {
    for (const auto& [key, value] : c.options.items()) {
        // The loader's own settings (the filter, and async delivery: "async" or flat "async.<option>").
        if (key == "use" || key == "actions" || key == "resources" || key == "async" || key.rfind("async.", 0) == 0) continue;
        if (key == "pool_size") {
            options.pool_size = config_count(c, key, value, 1, "a positive number of connections");
        } else if (key == "format") {
            options.format = config_format(c, key, value, formats);
        } else if (key == "url" || key == "listname" || key == "channel") {
            (key == "url" ? options.url : key == "listname" ? options.listname : options.channel) = config_string(c, key, value);
        } else {
            c.fail(key, "unknown option of a redis listener (expected url, listname, channel, format or pool_size)");
        }
    }
    if (c.options.contains("listname") && c.options.contains("channel")) {
        c.fail("channel", "a redis listener takes either listname or channel, not both");
    }
    try {
        return redis_listener(options);
    } catch (const redis_error& bad) {
        c.fail("url", bad.what());
    }
}

// The listener a configured Redis forwarder (a redis_listener or redis_stream_listener) becomes.
// Without `notifier`, every event the loader passes it is forwarded at once. With it, each
// commit's after-commit batch carries everything its unit of work sent: what the alias's filter
// passes is forwarded in one round trip. Nothing is remembered between the signals and the
// observer, so a unit of work committed by an after-commit receiver (nested) publishes its own
// batch, and a rolled-back one leaves nothing behind.
template <class Forwarder>
listener forward_after_commit(const listener_context& c, Forwarder forwarder, resource_notifier* notifier) {
    if (!notifier) return forwarder;
    c.keep(notifier->on_after_commit([forwarder, pass = c.filter](const std::vector<event>& batch) {
        std::vector<event> selected;
        std::copy_if(batch.begin(), batch.end(), std::back_inserter(selected), pass);
        forwarder.forward(selected);
    }));
    // An event sent outside any unit of work of the notifier is in no batch: forward it now.
    return [forwarder, notifier](const event& e) {
        if (!notifier->current()) forwarder.forward(e);
    };
}

// The factory of a redis listener type whose defaults are `defaults` (see add_redis_listener_type).
inline listener_factory redis_listener_factory(redis_listener_options defaults, resource_notifier* notifier,
                                               std::vector<wire_format> formats) {
    return [defaults = std::move(defaults), notifier, formats = std::move(formats)](const listener_context& c) -> listener {
        return forward_after_commit(c, make_redis_listener(c, defaults, formats), notifier);
    };
}

}  // namespace detail

/// Registers the Redis listener types in `types`, for `load_listeners`:
/// - "redis": beacon's, writing the envelope to the list "beacon.events" by default;
/// - "kinto_redis.listeners" and "kinto.core.listeners.redis" (Kinto's module names), writing
///   Kinto's bytes (wire_format::kinto) to "kinto.core.events", pool_size 25 by default, as Kinto;
/// - "cliquet.listeners.redis" (Cliquet's), the same on "cliquet.events".
/// Each takes the options `url`, `listname` or `channel`, `format` ("envelope", "kinto", or the
/// name of one of the host's `formats`) and `pool_size` (a positive number, also as a string, as
/// Kinto's ini files give it; see redis_listener_options::pool_size). Without `notifier`, every
/// event the loader passes a listener is forwarded at once. With `notifier` (which must outlive
/// the loaded listeners), the events of a unit of work are published only after its commit: each
/// after-commit batch's events that the alias's filter (`listener_context::filter`) passes, in one
/// round trip per commit, failures (a redis_error, or the encode_error of an event that cannot
/// be written, the others being published) going to the notifier's error handler; a rolled-back
/// unit publishes nothing, and a unit committed by an after-commit receiver publishes its own
/// batch. Events sent on the signals while no unit of work of `notifier` is open on the thread are
/// forwarded at once; events sent directly (not noted) while one is open are in no batch and not
/// forwarded. Bad options throw config_error.
inline void add_redis_listener_type(listener_types& types, resource_notifier* notifier = nullptr,
                                    const std::vector<wire_format>& formats = {}) {
    types.add("redis", detail::redis_listener_factory({}, notifier, formats));
    redis_listener_options kinto;
    kinto.format = wire_format::kinto();
    kinto.listname = "kinto.core.events";
    kinto.pool_size = 25;
    types.add("kinto_redis.listeners", detail::redis_listener_factory(kinto, notifier, formats));
    types.add("kinto.core.listeners.redis", detail::redis_listener_factory(kinto, notifier, formats));
    kinto.listname = "cliquet.events";
    types.add("cliquet.listeners.redis", detail::redis_listener_factory(kinto, notifier, formats));
}

}  // namespace beacon
