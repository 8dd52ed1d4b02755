#pragma once
/// \file
/// Web push (optional, CMake target `beacon::web`, Boost.Beast/Boost.Asio): a hub's events streamed
/// to browsers as Server-Sent Events, by beacon's own small server or mounted in a host's own.
/// The Redis fan-out across web processes is in <beacon/redis/sse_fanout.hpp> (beacon::redis::sse_fanout, needs beacon::redis).

#include <beacon/web/http.hpp>
#include <beacon/web/http_error.hpp>
#include <beacon/web/notification.hpp>
#include <beacon/web/server.hpp>
#include <beacon/web/sse_stream.hpp>
