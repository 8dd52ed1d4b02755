#pragma once
/// \file
/// Redis Streams, next to lists and channels: redis_stream_listener appends events with XADD,
/// redis_stream_consumer reads them as one consumer of a consumer group.

#include <beacon/redis/stream_consumer.hpp>
#include <beacon/redis/stream_listener.hpp>
