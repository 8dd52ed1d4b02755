#pragma once
/// \file
/// Duplicates dropped by id: how the Redis consumers (list, channel, stream) tell an event they
/// have already delivered (a redelivery after a crash, a retried publish) and drop it.

#include <beacon/id_window.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace beacon::redis {

/// How a consumer drops an event whose id it has already delivered. An event without an id (nil:
/// a producer that sends none, Kinto's format, which carries none) is never dropped. A duplicate
/// dropped is counted (`duplicates_dropped()` of the consumer), not delivered, and acknowledged
/// (removed from the processing list, XACKed) so that it is not redelivered again.
struct dedup_options {
    /// How many of the last ids delivered the consumer remembers in memory (an id_window; about
    /// 24 to 32 bytes each); 0 turns the window off. It sees the duplicates this consumer itself
    /// gets while it lives: a redelivered message, an event published twice.
    std::size_t window = id_window::default_capacity;
    /// Also record each id delivered in Redis, with `SET <prefix><id> 1 NX PX <ttl>` sent with
    /// the message's acknowledgement (after every receiver returned), and look it up (EXISTS)
    /// before delivering: then a restarted consumer, and every consumer using the same prefix,
    /// sees it too. Lists and streams only (a channel's subscribers each get every message).
    /// The mark travels with the acknowledgement: a consumer killed after its receivers returned
    /// and before both reached the server delivers that one event again, record or not.
    bool in_redis = false;
    /// The keys' prefix; default "<list>.seen:" for a list consumer, "<stream>.<group>.seen:" for
    /// a stream consumer (the consumers of one group share it; another group gets every event).
    std::string prefix;
    /// How long a record lives: a message redelivered later than this is delivered again.
    std::chrono::milliseconds ttl{std::chrono::hours(24)};
};

}  // namespace beacon::redis
