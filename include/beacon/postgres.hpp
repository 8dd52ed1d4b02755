#pragma once
/// \file
/// Events kept in the host's PostgreSQL database (optional, CMake target `beacon::postgres`, needs
/// libpq), namespace beacon::postgres: postgres::outbox writes a unit of work's events in the host's
/// own transaction and postgres::relay publishes them; postgres::inbox records the events a
/// consumer processed in the same transaction as its receivers' effects. A server that fails throws
/// postgres::postgres_error (a transport_error), bad options a config_error.

#include <beacon/postgres/error.hpp>
#include <beacon/postgres/inbox.hpp>
#include <beacon/postgres/outbox.hpp>
#include <beacon/postgres/relay.hpp>
