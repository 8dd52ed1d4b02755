#pragma once
/// \file
/// Internals of the PostgreSQL part: the outbox's tables, created by the outbox and the relay alike
/// (whichever starts first).

#include <beacon/postgres/detail/connection.hpp>

#include <libpq-fe.h>

#include <string>

namespace beacon::postgres::detail {

/// Creates, when missing, the outbox table `table` (seq bigserial: the order the rows were
/// written; id uuid, null for an event without one; created_at; payload: beacon's envelope) and
/// "<table>_dead", where the relay sets aside rows it cannot publish; returns `conn`. Throws
/// postgres_error.
inline PGconn* create_outbox_tables(PGconn* conn, const std::string& table) {
    // One implicit transaction (a multi-statement PQexec, or inside the host's transaction when one
    // is open): the advisory lock keeps an outbox and a relay starting together from racing on
    // CREATE TABLE IF NOT EXISTS, and the "already exists" notices stay unsaid.
    execute(conn, "SET LOCAL client_min_messages = warning; "
                  "SELECT pg_advisory_xact_lock(hashtext('beacon.outbox." + table + "')); "
                  "CREATE TABLE IF NOT EXISTS " + table +
                  " (seq bigserial PRIMARY KEY, id uuid, created_at timestamptz NOT NULL DEFAULT now(), "
                  "payload text NOT NULL); "
                  "CREATE TABLE IF NOT EXISTS " + table +
                  "_dead (seq bigint PRIMARY KEY, id uuid, created_at timestamptz, payload text, reason text NOT NULL)");
    return conn;
}

}  // namespace beacon::postgres::detail
