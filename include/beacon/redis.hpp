#pragma once
/// \file
/// The Redis bridge (optional, CMake target `beacon::redis`, needs hiredis), namespace
/// beacon::redis: forwarders carry events out of the process to a Redis list or channel
/// (redis::forwarder) or stream (redis::stream_forwarder); consumers read them in another process
/// and re-send them into a local signal (redis::consumer, redis::stream_consumer). Each counts what
/// it does in `stats()` (redis::forwarder_stats, redis::consumer_stats). Their failures
/// are beacon::failure records of part::redis; a server that fails throws redis::redis_error (a
/// transport_error), a bad URL a config_error. Web push across processes (redis::push_forwarder,
/// redis::sse_fanout) is in <beacon/redis/sse_fanout.hpp>, which needs beacon::web as well.

#include <beacon/redis/consumer.hpp>
#include <beacon/redis/dedup.hpp>
#include <beacon/redis/error.hpp>
#include <beacon/redis/forwarder.hpp>
#include <beacon/redis/stats.hpp>
#include <beacon/redis/stream_consumer.hpp>
#include <beacon/redis/stream_forwarder.hpp>
