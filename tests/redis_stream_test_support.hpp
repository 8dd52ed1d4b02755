#pragma once
// Helpers shared by the Redis Streams tests: numbered events and a stream forwarder.
#include <beacon/redis.hpp>

#include "redis_test_support.hpp"

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace stream_test {

using namespace std::chrono_literals;

using beacon_test::numbered;  // one numbered event, as the list tests make them

inline std::vector<beacon::event> numbered(int from, int to) {
    std::vector<beacon::event> out;
    for (int n = from; n < to; ++n) out.push_back(numbered(n));
    return out;
}

inline beacon::redis::stream_forwarder stream_forwarder_for(const std::string& url, std::size_t max_length = 1000000,
                                                          std::chrono::milliseconds timeout = 2000ms) {
    beacon::redis::stream_forwarder_options options;
    options.url = url;
    options.max_length = max_length;
    options.timeout = timeout;
    return beacon::redis::stream_forwarder(options);
}

}  // namespace stream_test
