// A library of the consumer project that wraps beacon: its interface shows a beacon type.
#pragma once
#include <beacon/beacon.hpp>

/// Connects a receiver to `reg`'s core "user_created" that counts the users it greets.
beacon::connection greet_users(beacon::registry& reg, int& greeted);
