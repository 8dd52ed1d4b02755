#pragma once
/// \file
/// The Redis bridge's exceptions: redis_error (a transport_error) and poison_entry_error (a
/// decode_error). Its internals include this header too: it is the part's vocabulary.

#include <beacon/error.hpp>

#include <string>

/// The Redis bridge (optional part, CMake target beacon::redis): forwarders, consumers, their errors.
namespace beacon::redis {

/// A Redis server that cannot be reached, refuses a command or answers in an unexpected shape;
/// the message names the server (its URL without credentials) and the command.
class redis_error : public transport_error {
public:
    /// `details` names the server and the command, then what went wrong.
    explicit redis_error(const std::string& details) : transport_error("redis_error", details) {}
};

/// A stream entry about to be delivered more than `max_deliveries` times: it killed or hung every
/// consumer that got it, so it is taken as poison and moved to the dead-letter stream.
class poison_entry_error : public decode_error {
public:
    /// `details` names the entry and how many times it was delivered.
    explicit poison_entry_error(const std::string& details)
        : decode_error("poison_entry_error", "", details, decode_reason::shape) {}
};

}  // namespace beacon::redis
