#pragma once
/// \file
/// The SQLite part's exception: sqlite_error (a transport_error). Its internals include this
/// header too: it is the part's vocabulary.

#include <beacon/error.hpp>

#include <string>

/// Events kept in the host's SQLite database (optional part, CMake target beacon::sqlite): the outbox, its relay, the inbox.
namespace beacon::sqlite {

/// A SQLite database that cannot be read or written (locked past the busy timeout, a full disk,
/// a read-only or corrupt file); the message names the database file, the statement and SQLite's
/// own message.
class sqlite_error : public transport_error {
public:
    /// `details` names the database and the statement, then what went wrong.
    explicit sqlite_error(const std::string& details) : transport_error("sqlite_error", details) {}
};

}  // namespace beacon::sqlite
