#pragma once
/// \file
/// Web push across processes (needs beacon::redis, hence hiredis): a hub's events are published
/// once on a Redis channel (Flask-Notifications' PushConsumer), and every web process subscribed
/// to it serves them on its own event stream, with the same SSE ids everywhere.

#include <beacon/hub.hpp>
#include <beacon/redis.hpp>
#include <beacon/signal.hpp>
#include <beacon/web/notification.hpp>
#include <beacon/web/sse_stream.hpp>

#include <memory>
#include <string>
#include <utility>

namespace beacon::web {

/// A hub consumer publishing each event on a Redis channel (PUBLISH, acknowledged before
/// `consume` returns; a failure throws redis_error to the hub's sender). An event without a
/// string `event_id` is given one first, so that every subscribed process streams it under the
/// same SSE id and a browser can resume on any of them.
class redis_push_consumer : public consumer {
public:
    /// Publishes on `channel` of the server at `url` (redis://[[user]:password@]host[:port][/db]);
    /// throws redis_error for a bad URL (it connects on first use).
    redis_push_consumer(std::string url, std::string channel)
        : listener_(options(std::move(url), std::move(channel))) {}

    /// Publishes `e`.
    void consume(const event& e) override {
        const auto id = e.data.find("event_id");
        if (id != e.data.end() && id->is_string()) return listener_.forward(e);
        event stamped = e;
        stamped.data["event_id"] = make_event_id();
        listener_.forward(stamped);
    }

private:
    static redis_listener_options options(std::string url, std::string channel) {
        redis_listener_options o;
        o.url = std::move(url);
        o.channel = std::move(channel);
        return o;
    }

    redis_listener listener_;
};

/// Subscribes to a Redis channel in a thread of its own and publishes every event received on
/// `stream`: run one per web process. Delivery is Redis pub/sub's, at most once: a process that
/// is away (or reconnecting) misses what is published meanwhile; its clients then resume from
/// what its replay buffer holds. A message that is not an event goes to `on_error` and is skipped.
/// Destroying it stops subscribing (within the consumer's poll timeout) and joins its thread.
class redis_fanout {
public:
    /// Starts subscribing to `options.channel` (which must be set, else config_error) and serving
    /// its events on `stream`; throws redis_error for a bad URL.
    redis_fanout(std::shared_ptr<sse_stream> stream, redis_consumer_options options, redis_error_handler on_error = {})
        : stream_(std::move(stream)),
          received_("web", "redis_fanout"),
          link_(received_.connect([s = stream_](const event& e) { s->publish(e); })),
          consumer_(received_, checked(std::move(options)), std::move(on_error)) {
        consumer_.start();
    }
    redis_fanout(const redis_fanout&) = delete;
    redis_fanout& operator=(const redis_fanout&) = delete;

    /// The stream served.
    const std::shared_ptr<sse_stream>& stream() const noexcept { return stream_; }

private:
    static redis_consumer_options checked(redis_consumer_options o) {
        if (o.channel.empty()) throw config_error("", "/channel", "redis_fanout needs a channel to subscribe to");
        return o;
    }

    std::shared_ptr<sse_stream> stream_;
    signal received_;
    scoped_connection link_;
    redis_consumer consumer_;
};

}  // namespace beacon::web
