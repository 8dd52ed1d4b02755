#pragma once
/// \file
/// The Redis bridge's forwarders and consumers as Prometheus metrics (needs beacon::redis too):
/// watch a redis::forwarder or stream_forwarder, a redis::consumer or stream_consumer by name.

#include <beacon/metrics/collector.hpp>
#include <beacon/metrics/detail/families.hpp>
#include <beacon/redis/stats.hpp>

#include <string>

namespace beacon::metrics {

/// A Redis forwarder (redis::forwarder, redis::stream_forwarder), label `forwarder`.
template <>
struct exporter<redis::forwarder_stats> {
    /// What errors call it.
    static constexpr const char* kind = "Redis forwarder";
    /// Adds `s` as the samples of the forwarder `name`.
    static void add(detail::families& f, const std::string& name, const redis::forwarder_stats& s) {
        const detail::labels l{{"forwarder", name}};
        f.counter("beacon_redis_forwarder_published_total", "Events Redis acknowledged.", l, s.published);
        f.counter("beacon_redis_forwarder_failures_total",
                  "Events not published: unwritable, or in a forward that failed in Redis.", l, s.failures);
        f.histogram("beacon_redis_forwarder_round_trip_seconds",
                    "Round trips Redis answered: one command or one pipelined batch.", l, s.round_trip);
    }
};

/// A Redis consumer (redis::consumer, redis::stream_consumer), label `consumer`.
template <>
struct exporter<redis::consumer_stats> {
    /// What errors call it.
    static constexpr const char* kind = "Redis consumer";
    /// Adds `s` as the samples of the consumer `name`.
    static void add(detail::families& f, const std::string& name, const redis::consumer_stats& s) {
        const detail::labels l{{"consumer", name}};
        f.counter("beacon_redis_consumer_delivered_total", "Events delivered to the local signal and acknowledged.",
                  l, s.delivered);
        f.counter("beacon_redis_consumer_failed_total", "Delivered events on which a receiver threw.", l, s.failed);
        f.counter("beacon_redis_consumer_redelivered_total",
                  "Delivered events delivered before (taken over, or left by a previous run).", l, s.redelivered);
        f.counter("beacon_redis_consumer_dead_lettered_total",
                  "Messages or entries set aside as poison (invalid, too large, past max deliveries).", l,
                  s.dead_lettered);
        f.counter("beacon_redis_consumer_duplicates_dropped_total", "Events dropped as duplicates of one delivered.",
                  l, s.duplicates_dropped);
        f.gauge("beacon_redis_consumer_backlog", "List: its length at the last sample (events waiting).", l, s.backlog);
        f.gauge("beacon_redis_consumer_pending", "Stream: the group's pending entries at the last sample.", l, s.pending);
        f.gauge_seconds("beacon_redis_consumer_oldest_pending_idle_seconds",
                        "Stream: how long the group's oldest pending entry had waited, at the last sample.", l,
                        s.oldest_pending_idle);
    }
};

}  // namespace beacon::metrics
