#pragma once
/// \file
/// Internals of the PostgreSQL part: a PGresult that clears itself, statements run with text
/// parameters, and errors that name the server (never the password), the statement and the
/// server's or libpq's message.

#include <beacon/postgres/error.hpp>

#include <libpq-fe.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beacon::postgres::detail {

/// A PGresult, cleared on destruction (null when libpq returned none: out of memory, or no
/// connection at all).
using result = std::unique_ptr<PGresult, void (*)(PGresult*)>;

/// Takes ownership of `r`.
inline result own(PGresult* r) noexcept { return result(r, PQclear); }

/// `text` with every occurrence of the connection's password (PQpass) replaced by `***`: a
/// message built from what libpq or the server said never carries the secret, whatever echoed it.
inline std::string redact(PGconn* conn, std::string text) {
    const char* pass = conn != nullptr ? PQpass(conn) : nullptr;
    if (pass == nullptr || *pass == '\0') return text;
    const std::string_view secret(pass);
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at + 3)) {
        text.replace(at, secret.size(), "***");
    }
    return text;
}

/// The server as `host:port/database` (PQhost, PQport, PQdb: never the password nor the whole
/// connection string); `?` for what libpq does not know.
inline std::string server_name(PGconn* conn) {
    const auto or_unknown = [](const char* s) { return std::string(s != nullptr && *s != '\0' ? s : "?"); };
    return redact(conn, or_unknown(PQhost(conn)) + ":" + or_unknown(PQport(conn)) + "/" + or_unknown(PQdb(conn)));
}

/// A connection string opening another connection like `conn` (libpq's PQconninfo: every option
/// in force, password included), each value quoted as libpq's syntax wants it. It holds the
/// secret: it is for PQconnectdb only, never for a message.
inline std::string conninfo_of(PGconn* conn) {
    const std::unique_ptr<PQconninfoOption, void (*)(PQconninfoOption*)> options(PQconninfo(conn), PQconninfoFree);
    if (!options) throw postgres_error("postgres: libpq could not allocate the connection's options (PQconninfo)");
    std::string out;
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
        if (o->val == nullptr) continue;
        out += std::string(out.empty() ? "" : " ") + o->keyword + "='";
        for (const char* c = o->val; *c != '\0'; ++c) {
            if (*c == '\'' || *c == '\\') out += '\\';
            out += *c;
        }
        out += '\'';
    }
    return out;
}

/// libpq's text for a failure on one line: its lines and runs of blanks joined by one space, the
/// trailing newline gone ("ERROR:  duplicate key..." becomes "ERROR: duplicate key...").
inline std::string trimmed(const char* message) {
    std::string text;
    for (const char* c = message; c != nullptr && *c != '\0'; ++c) {
        const bool blank = *c == ' ' || *c == '\n' || *c == '\r' || *c == '\t';
        if (!blank) {
            text += *c;
        } else if (!text.empty() && text.back() != ' ') {
            text += ' ';
        }
    }
    if (!text.empty() && text.back() == ' ') text.pop_back();
    return text;
}

/// The server's own words for a failed result: its primary message and SQLSTATE, e.g. `duplicate key
/// value violates unique constraint "t_pkey" (SQLSTATE 23505)`. Not its DETAIL, which quotes the
/// rows' values (the host's data); empty when the failure is libpq's (no server message).
inline std::string server_message(const PGresult* failed) {
    if (failed == nullptr) return {};
    const char* primary = PQresultErrorField(failed, PG_DIAG_MESSAGE_PRIMARY);
    if (primary == nullptr) return trimmed(PQresultErrorMessage(failed));
    const char* state = PQresultErrorField(failed, PG_DIAG_SQLSTATE);
    return trimmed(primary) + (state != nullptr ? std::string(" (SQLSTATE ") + state + ")" : std::string());
}

/// The postgres_error for `what` (the statement that failed) on `conn`, with the server's message
/// for the result or else libpq's for the connection (PQerrorMessage), at most 500 characters; a
/// connection found lost says that the host must reset it.
inline postgres_error error_of(PGconn* conn, std::string_view what, const PGresult* failed = nullptr) {
    std::string message = server_message(failed);
    if (message.empty()) message = trimmed(PQerrorMessage(conn));
    if (message.empty()) message = "no result from libpq";
    if (message.size() > 500) message.replace(500, std::string::npos, "...");
    if (PQstatus(conn) != CONNECTION_OK) {
        message += " (the connection is lost: PQreset reconnects it; the outbox and the inbox leave that to the host, the "
                   "relay does it itself)";
    }
    return postgres_error(server_name(conn) + ": " + std::string(what) + ": " + redact(conn, std::move(message)));
}

/// Whether `r` is the success of a statement (with or without rows).
inline bool succeeded(const result& r) noexcept {
    if (!r) return false;
    const auto status = PQresultStatus(r.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

/// Runs `sql` (one or more statements, no parameters: PQexec) on `conn`; returns the last
/// statement's result, or throws postgres_error.
inline result execute(PGconn* conn, const std::string& sql) {
    auto r = own(PQexec(conn, sql.c_str()));
    if (!succeeded(r)) throw error_of(conn, sql, r.get());
    return r;
}

/// Runs one statement with text parameters `$1`, `$2`, ... (PQexecParams: parsed, bound and run
/// in one round trip, nothing named left on the connection); returns its result, or throws
/// postgres_error naming the statement (not the parameters).
inline result execute(PGconn* conn, const std::string& sql, std::initializer_list<std::string_view> params) {
    std::vector<std::string> values(params.begin(), params.end());  // NUL-terminated copies
    std::vector<const char*> pointers;
    pointers.reserve(values.size());
    for (const auto& v : values) pointers.push_back(v.c_str());
    auto r = own(PQexecParams(conn, sql.c_str(), static_cast<int>(pointers.size()), nullptr, pointers.data(), nullptr,
                              nullptr, 0));
    if (!succeeded(r)) throw error_of(conn, sql, r.get());
    return r;
}

/// The number of rows a command affected (PQcmdTuples), 0 when it says none.
inline std::int64_t rows_affected(const result& r) {
    const char* text = PQcmdTuples(r.get());
    std::int64_t n = 0;
    for (; text != nullptr && *text >= '0' && *text <= '9'; ++text) n = n * 10 + (*text - '0');
    return n;
}

}  // namespace beacon::postgres::detail
