#pragma once
/// \file
/// What the Redis bridge counts, as snapshots: forwarder_stats (redis::forwarder and
/// redis::stream_forwarder: events published and failed, round-trip durations) and consumer_stats
/// (redis::consumer and redis::stream_consumer: events delivered, redelivered, dead-lettered,
/// and the lag their own thread samples). beacon::metrics exports them; a host may read them itself.

#include <beacon/duration_histogram.hpp>

#include <chrono>
#include <cstdint>

namespace beacon::redis {

/// What a forwarder (redis::forwarder or redis::stream_forwarder) did since it was made, counted
/// by all its copies together. Every event handed to it is counted once, in `published` or in
/// `failures`, when its forward returns or throws.
struct forwarder_stats {
    /// Events Redis acknowledged (pushed, published or appended).
    std::uint64_t published = 0;
    /// Events not published: the event that could not be written (an encode_error, e.g. over the
    /// limits), and every event of a forward that failed in Redis (a redis_error: server down or
    /// lost, a timeout, an error reply), which counts the whole batch (its LPUSH, pipelined
    /// PUBLISHes or MULTI/EXEC), whether or not some of it reached Redis before the failure.
    std::uint64_t failures = 0;
    /// The duration of each round trip Redis answered (one command, or one pipeline: a batch, or
    /// the forwards of several threads coalesced into one), from writing the first command to
    /// reading the last reply; connecting is not included, a round trip that failed is not counted.
    duration_histogram round_trip;
};

/// What a consumer (redis::consumer or redis::stream_consumer) did since it was made, and the
/// lag its own thread last sampled (every `lag_interval`, one round trip on its own connection).
/// The counters are read in relaxed atomics, from any thread, and may be a few events apart.
struct consumer_stats {
    /// Events handed to the local signal and acknowledged (removed from the processing list, or
    /// XACKed; on a channel, once the receivers returned), a receiver's exception included.
    std::uint64_t delivered = 0;
    /// Of `delivered`, the events on which at least one receiver threw (each exception is
    /// reported to the failure handler; the event is acknowledged all the same).
    std::uint64_t failed = 0;
    /// Stream: of `delivered`, the entries delivered again (delivery count above 1): taken over
    /// from a consumer presumed dead, or re-read from this consumer's own pending entries when it
    /// (re)starts. List: the messages a previous run (or this one, before a reconnection) left in
    /// the processing list, moved back to the list to be delivered again. Channel: 0.
    std::uint64_t redelivered = 0;
    /// Messages or entries set aside as poison, each reported: not a valid event, over the
    /// limits, or (stream) past `max_deliveries`; moved to the dead-letter list or stream (a list
    /// or channel consumer with no dead-letter list drops them).
    std::uint64_t dead_lettered = 0;
    /// Events dropped as duplicates (their id delivered already), as `duplicates_dropped()` says.
    std::uint64_t duplicates_dropped = 0;
    /// List: the list's length (LLEN) at the last sample, the events waiting; channel and stream: 0.
    std::uint64_t backlog = 0;
    /// Stream: the group's pending entries (XPENDING: read by one of its consumers, not yet
    /// acknowledged) at the last sample; list and channel: 0.
    std::uint64_t pending = 0;
    /// Stream: how long the group's oldest pending entry (the lowest id) had waited since it was
    /// last delivered, at the last sample; 0 when none is pending. List and channel: 0.
    std::chrono::milliseconds oldest_pending_idle{0};
};

}  // namespace beacon::redis
