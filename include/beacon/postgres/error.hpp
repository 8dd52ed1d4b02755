#pragma once
/// \file
/// The PostgreSQL part's exception: postgres_error (a transport_error). Its internals include this
/// header too: it is the part's vocabulary.

#include <beacon/error.hpp>

#include <string>

/// Events kept in the host's PostgreSQL database (optional part, CMake target beacon::postgres): the outbox, its relay and the inbox.
namespace beacon::postgres {

/// A PostgreSQL server that cannot be reached, refuses a statement or cannot commit (a lost
/// connection, a constraint that fails at commit, a deadlock, a server shutting down); the message
/// names the server (host:port/database, never the password), the statement and the server's or
/// libpq's own message.
class postgres_error : public transport_error {
public:
    /// `details` names the server and the statement, then what went wrong.
    explicit postgres_error(const std::string& details) : transport_error("postgres_error", details) {}
};

}  // namespace beacon::postgres
