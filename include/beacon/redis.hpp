#pragma once
/// \file
/// The Redis bridge (optional, CMake target `beacon::redis`, needs hiredis): a listener that
/// forwards events as JSON to a Redis list or channel (<beacon/redis/listener.hpp>), and a
/// consumer that reads them in another process and re-sends them into a local signal
/// (<beacon/redis/consumer.hpp>). The connection and URL parsing are in
/// <beacon/detail/redis_connection.hpp>.

#include <beacon/redis/consumer.hpp>
#include <beacon/redis/listener.hpp>
#include <beacon/redis/stream.hpp>  // Redis Streams: redis_stream_listener, redis_stream_consumer
