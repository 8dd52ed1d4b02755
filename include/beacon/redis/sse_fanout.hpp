#pragma once
/// \file
/// Web push across processes (beacon::redis with beacon::web): a hub's events are published once
/// on a Redis channel by a push_forwarder (Flask-Notifications' PushConsumer), and every web
/// process subscribed to it serves them on its own event stream through an sse_fanout, with the
/// same SSE ids everywhere.

#include <beacon/failure.hpp>
#include <beacon/hub.hpp>
#include <beacon/redis/consumer.hpp>
#include <beacon/redis/forwarder.hpp>
#include <beacon/signal.hpp>
#include <beacon/web/notification.hpp>
#include <beacon/web/sse_stream.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace beacon::redis {

/// A forwarder serving as a hub consumer: publishes each event on a Redis channel (PUBLISH,
/// acknowledged before `consume` returns; a failure throws redis_error to the hub's sender). The
/// event's id travels with it (an unstamped event is stamped first), so that every subscribed
/// process streams it under the same SSE id and a browser can resume on any of them.
class push_forwarder : public beacon::consumer {
public:
    /// Publishes on `channel` of the server at `url` (a Redis URL, as forwarder_options::url);
    /// throws config_error for a bad URL (it connects on first use).
    push_forwarder(std::string url, std::string channel) : forwarder_(options(std::move(url), std::move(channel))) {}

    /// Publishes `e`.
    void consume(const event& e) override {
        if (!e.id.is_nil()) return forwarder_.forward(e);
        event stamped = e;
        stamped.stamp();
        forwarder_.forward(stamped);
    }

private:
    static forwarder_options options(std::string url, std::string channel) {
        forwarder_options o;
        o.url = std::move(url);
        o.channel = std::move(channel);
        return o;
    }

    forwarder forwarder_;
};

/// Subscribes to a Redis channel in a thread of its own and publishes every event received on
/// `stream`: run one per web process. Delivery is Redis pub/sub's, at most once: a process that
/// is away (or reconnecting) misses what is published meanwhile; its clients then resume from
/// what its replay buffer holds. An event whose id it has already served (published twice, e.g.
/// a retried publish) is dropped, as its consumer's in-memory window says (`options.dedup.window`). A message that is not an event is reported to `on_failure` (the
/// process-wide sink when empty) and skipped. Destroying it stops subscribing (within the
/// consumer's poll timeout) and joins its thread.
class sse_fanout {
public:
    /// Starts subscribing to `options.channel` (which must be set, else config_error) and serving
    /// its events on `stream`; throws config_error for a bad URL.
    sse_fanout(std::shared_ptr<web::sse_stream> stream, consumer_options options, failure_handler on_failure = {})
        : stream_(std::move(stream)),
          received_("web", "redis_fanout"),
          link_(received_.connect([s = stream_](const event& e) { s->publish(e); })),
          consumer_(received_, checked(std::move(options)), std::move(on_failure)) {
        consumer_.start();
    }
    sse_fanout(const sse_fanout&) = delete;
    sse_fanout& operator=(const sse_fanout&) = delete;

    /// The stream served.
    const std::shared_ptr<web::sse_stream>& stream() const noexcept { return stream_; }

    /// How many events were dropped as duplicates (their id already served) so far.
    std::uint64_t duplicates_dropped() const noexcept { return consumer_.duplicates_dropped(); }

private:
    static consumer_options checked(consumer_options o) {
        if (o.channel.empty()) throw config_error("", "/channel", "redis::sse_fanout needs a channel to subscribe to");
        return o;
    }

    std::shared_ptr<web::sse_stream> stream_;
    signal received_;
    scoped_connection link_;
    consumer consumer_;
};

}  // namespace beacon::redis

namespace beacon::web {
/// Deprecated: use beacon::redis::push_forwarder.
using redis_push_consumer [[deprecated("use beacon::redis::push_forwarder")]] = redis::push_forwarder;
/// Deprecated: use beacon::redis::sse_fanout.
using redis_fanout [[deprecated("use beacon::redis::sse_fanout")]] = redis::sse_fanout;
}  // namespace beacon::web
