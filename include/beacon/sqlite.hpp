#pragma once
/// \file
/// Events kept in the host's SQLite database (optional, CMake target `beacon::sqlite`, needs
/// libsqlite3), namespace beacon::sqlite: the transactional outbox (sqlite::outbox writes a unit
/// of work's events in the host's own transaction, sqlite::relay publishes them afterwards) and the
/// inbox (sqlite::inbox records the events a consumer processed in the same transaction as its
/// receivers' effects). A database that fails throws sqlite::sqlite_error (a transport_error), bad
/// options a config_error.

#include <beacon/sqlite/error.hpp>
#include <beacon/sqlite/inbox.hpp>
#include <beacon/sqlite/outbox.hpp>
#include <beacon/sqlite/relay.hpp>
