#pragma once
/// \file
/// The Redis bridge's sending side: a listener that forwards events as JSON to a Redis list or
/// channel, and the configured listener type "redis".

#include <beacon/detail/redis_connection.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/listener.hpp>
#include <beacon/signal.hpp>
#include <beacon/unit_of_work.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace beacon {

/// Where and how a redis_listener forwards events.
struct redis_listener_options {
    std::string url = "redis://127.0.0.1:6379/0";  ///< redis://[[user]:password@]host[:port][/db]
    std::string listname = "beacon.events";        ///< The list events are LPUSHed to.
    std::string channel;  ///< When not empty, events are PUBLISHed on this channel instead.
    std::chrono::milliseconds timeout{2000};  ///< Longest wait to connect, write or read a reply.
};

/// Forwards each event it receives as JSON (the wire shape of `to_json`) to a Redis list (LPUSH,
/// Kinto's behaviour) or channel (PUBLISH). Connect it to a signal like any receiver. Copies share
/// one connection, made on first use and remade when the server has restarted; thread-safe.
/// A forward that returns has been acknowledged by Redis; one that cannot be throws redis_error.
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
    /// of 0 is sent as now.
    void forward(const event& e) const {
        const std::string text = encode(e);
        send({{state_->options.channel.empty() ? "LPUSH" : "PUBLISH", target(), text}});
    }

    /// Pushes or publishes every event of `batch`, in order, in one round trip: one LPUSH of all
    /// of them (atomic) to a list, or pipelined PUBLISHes to a channel. Every event is encoded
    /// before anything is sent, so an encode_error sends nothing.
    void forward(const std::vector<event>& batch) const {
        if (batch.empty()) return;
        std::vector<std::string> texts;
        texts.reserve(batch.size());
        for (const auto& e : batch) texts.push_back(encode(e));
        std::vector<detail::redis_command> commands;
        if (state_->options.channel.empty()) {
            detail::redis_command lpush{"LPUSH", target()};
            lpush.insert(lpush.end(), texts.begin(), texts.end());
            commands.push_back(std::move(lpush));
        } else {
            for (const auto& text : texts) commands.push_back({"PUBLISH", target(), text});
        }
        send(commands);
    }

    /// The options the listener was made with.
    const redis_listener_options& options() const noexcept { return state_->options; }

private:
    static std::string encode(const event& e) {
        if (e.timestamp != 0) return nlohmann::json(e).dump();
        event stamped = e;
        stamped.stamp();
        return nlohmann::json(stamped).dump();
    }

    const std::string& target() const noexcept {
        return state_->options.channel.empty() ? state_->options.listname : state_->options.channel;
    }

    void send(const std::vector<detail::redis_command>& commands) const {
        std::lock_guard lock(state_->mutex);
        state_->connection.pipeline(commands);
    }

    struct state {
        explicit state(redis_listener_options o)
            : options(std::move(o)), connection(detail::parse_redis_url(options.url), options.timeout) {}
        redis_listener_options options;
        std::mutex mutex;
        detail::redis_connection connection;
    };
    std::shared_ptr<state> state_;
};

/// Registers the listener type "redis" in `types`, for `load_listeners`: options `url`, and
/// `listname` (default "beacon.events") or `channel`. Without `notifier`, every event the loader
/// passes it is forwarded at once. With `notifier` (which must outlive the loaded listeners), the
/// events of a unit of work are published only after its commit: each after-commit batch's events
/// that the alias's filter (`listener_context::filter`) passes, in one round trip per commit,
/// failures going to the notifier's error handler; a rolled-back unit publishes nothing, and a
/// unit committed by an after-commit receiver publishes its own batch. Events sent on the signals
/// while no unit of work of `notifier` is open on the thread are forwarded at once; events sent
/// directly (not noted) while one is open are in no batch and not forwarded. Bad options throw
/// config_error.
inline void add_redis_listener_type(listener_types& types, resource_notifier* notifier = nullptr) {
    types.add("redis", [notifier](const listener_context& c) -> listener {
        redis_listener_options options;
        for (const auto& [key, value] : c.options.items()) {
            if (key == "use" || key == "actions" || key == "resources") continue;
            std::string* field = key == "url" ? &options.url
                                 : key == "listname" ? &options.listname
                                 : key == "channel" ? &options.channel
                                                    : nullptr;
            if (!field) c.fail(key, "unknown option of a redis listener (expected url, listname or channel)");
            if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
                c.fail(key, std::string("expected a non-empty string, got ") + (value.is_string() ? "\"\"" : value.type_name()));
            }
            *field = value.get<std::string>();
        }
        if (c.options.contains("listname") && c.options.contains("channel")) {
            c.fail("channel", "a redis listener takes either listname or channel, not both");
        }
        std::optional<redis_listener> forwarder;
        try {
            forwarder.emplace(options);
        } catch (const redis_error& bad) {
            c.fail("url", bad.what());
        }
        if (!notifier) return *forwarder;

        // Each commit's after-commit batch carries everything its unit of work sent: publish
        // what the alias's filter passes, in one round trip. Nothing is remembered between the
        // signals and the observer, so a unit of work committed by an after-commit receiver
        // (nested) publishes its own batch, and a rolled-back one leaves nothing behind.
        c.keep(notifier->on_after_commit([forwarder = *forwarder, pass = c.filter](const std::vector<event>& batch) {
            std::vector<event> selected;
            std::copy_if(batch.begin(), batch.end(), std::back_inserter(selected), pass);
            forwarder.forward(selected);
        }));
        // An event sent outside any unit of work of the notifier is in no batch: forward it now.
        return [forwarder = *forwarder, notifier](const event& e) {
            if (!notifier->current()) forwarder.forward(e);
        };
    });
}

}  // namespace beacon
