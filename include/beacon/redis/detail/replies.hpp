#pragma once
// Replies read without a connection. The error of a failed command, "<url>: <command>: <reason>"
// (command_error), and the text of an error reply as it quotes it (error_text: a short printable
// excerpt). The replies a stream_consumer reads: XREADGROUP, XCLAIM, XAUTOCLAIM and XPENDING
// replies (delivery counts, the group's lag), and a stream entry's field list. A reply is outside
// input (any server, or anything that answers on its port): every shape is checked before an
// element is read, and a reply of the wrong shape throws redis_error
// "<url>: <command> <stream>: unexpected reply shape".

#include <beacon/detail/excerpt.hpp>
#include <beacon/redis/error.hpp>

#include <hiredis/hiredis.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace beacon::redis::detail {

/// Names a reply in an error: the server's URL (without credentials) and the stream read.
struct reply_source {
    std::string_view url;
    std::string_view stream;
};

/// The error of a command `what` that failed at the server of (display) URL `url`, for `reason`
/// (the server's error reply, or the I/O error): "<url>: <what>: <reason>".
inline redis_error command_error(std::string_view url, std::string_view what, std::string_view reason) {
    std::string details(url);
    details.append(": ").append(what).append(": ").append(reason);
    return redis_error(details);
}

/// Throws the redis_error of a reply to `command` that is not of the shape expected.
[[noreturn]] inline void unexpected_reply(const reply_source& from, std::string_view command) {
    throw command_error(from.url, std::string(command) + " " + std::string(from.stream), "unexpected reply shape");
}

/// Whether `r` carries text (a bulk string or a status).
inline bool is_text(const redisReply* r) noexcept { return r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS; }
/// The text of a reply that is_text.
inline std::string_view text_view(const redisReply* r) noexcept { return {r->str, r->len}; }
/// How much of a server's error reply a message quotes.
inline constexpr std::size_t error_quote_bytes = 200;
/// The text of an error reply as a message quotes it: a short printable excerpt (a reply, like
/// anything read from the server's port, is outside input).
inline std::string error_text(const redisReply* r) { return beacon::detail::excerpt(text_view(r), error_quote_bytes); }
/// A copy of the text of a reply that is_text.
inline std::string text_of(const redisReply* r) { return std::string(r->str, r->len); }

/// One entry of a reply: its id and its field/value array (null when the entry was deleted).
struct stream_entry {
    std::string id;
    const redisReply* fields = nullptr;
};

/// The entries of `list` ([[id, fields or nil]...], an array), at most `batch` (the COUNT asked
/// for); throws redis_error for any other shape.
inline std::vector<stream_entry> entries_of(const redisReply* list, std::size_t batch, std::string_view command,
                                            const reply_source& from) {
    if (list->type != REDIS_REPLY_ARRAY || list->elements > batch) unexpected_reply(from, command);
    std::vector<stream_entry> out;
    out.reserve(list->elements);
    for (std::size_t i = 0; i < list->elements; ++i) {
        const redisReply* item = list->element[i];
        if (item->type != REDIS_REPLY_ARRAY || item->elements != 2 || !is_text(item->element[0]) ||
            (item->element[1]->type != REDIS_REPLY_ARRAY && item->element[1]->type != REDIS_REPLY_NIL)) {
            unexpected_reply(from, command);
        }
        out.push_back({text_of(item->element[0]), item->element[1]->type == REDIS_REPLY_NIL ? nullptr : item->element[1]});
    }
    return out;
}

/// The entries of an XREADGROUP reply ([[stream, [[id, fields]...]]], or nil for none).
inline std::vector<stream_entry> entries_of_read(const redisReply* reply, std::size_t batch, const reply_source& from) {
    if (reply->type == REDIS_REPLY_NIL) return {};
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 || reply->element[0]->type != REDIS_REPLY_ARRAY ||
        reply->element[0]->elements != 2 || reply->element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
        unexpected_reply(from, "XREADGROUP");
    }
    return entries_of(reply->element[0]->element[1], batch, "XREADGROUP", from);
}

/// One step of an XAUTOCLAIM ... JUSTID scan: where the next step starts, and the ids taken over.
struct autoclaim_step {
    std::string cursor;
    std::vector<std::string> ids;
};

/// Reads an XAUTOCLAIM ... COUNT `batch` JUSTID reply ([next cursor, [ids...]] (Redis 6.2), then
/// [deleted ids...] (Redis 7)); throws redis_error for any other shape.
inline autoclaim_step autoclaim_of(const redisReply* reply, std::size_t batch, const reply_source& from) {
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 || !is_text(reply->element[0]) ||
        reply->element[1]->type != REDIS_REPLY_ARRAY || reply->element[1]->elements > batch) {
        unexpected_reply(from, "XAUTOCLAIM");
    }
    autoclaim_step out{text_of(reply->element[0]), {}};
    out.ids.reserve(reply->element[1]->elements);
    for (std::size_t i = 0; i < reply->element[1]->elements; ++i) {
        if (!is_text(reply->element[1]->element[i])) unexpected_reply(from, "XAUTOCLAIM");
        out.ids.push_back(text_of(reply->element[1]->element[i]));
    }
    return out;
}

/// Reads an XPENDING (extended form) reply ([[id, consumer, idle, deliveries]...]): each id's
/// delivery count; throws redis_error for any other shape.
inline std::map<std::string, std::size_t> delivery_counts_of(const redisReply* reply, const reply_source& from) {
    if (reply->type != REDIS_REPLY_ARRAY) unexpected_reply(from, "XPENDING");
    std::map<std::string, std::size_t> counts;
    for (std::size_t i = 0; i < reply->elements; ++i) {
        const redisReply* row = reply->element[i];
        if (row->type != REDIS_REPLY_ARRAY || row->elements != 4 || !is_text(row->element[0]) ||
            row->element[3]->type != REDIS_REPLY_INTEGER || row->element[3]->integer < 0) {
            unexpected_reply(from, "XPENDING");
        }
        counts[text_of(row->element[0])] = static_cast<std::size_t>(row->element[3]->integer);
    }
    return counts;
}

/// A group's lag: its pending entries, and how long the oldest (lowest id) has been idle.
struct group_lag {
    long long pending = 0;         ///< Entries delivered to a consumer of the group, not acknowledged.
    long long oldest_idle_ms = 0;  ///< Milliseconds since the oldest pending entry was last delivered; 0 when none.
};

/// Reads the replies of XPENDING <stream> <group> (the summary: [count, lowest id, highest id,
/// consumers]) and XPENDING <stream> <group> - + 1 ([[id, consumer, idle, deliveries]] or []);
/// throws redis_error for any other shape.
inline group_lag lag_of(const redisReply* summary, const redisReply* oldest, const reply_source& from) {
    if (summary->type != REDIS_REPLY_ARRAY || summary->elements < 1 || summary->element[0]->type != REDIS_REPLY_INTEGER ||
        oldest->type != REDIS_REPLY_ARRAY || oldest->elements > 1) {
        unexpected_reply(from, "XPENDING");
    }
    group_lag out;
    out.pending = summary->element[0]->integer;
    if (oldest->elements == 1) {
        const redisReply* row = oldest->element[0];
        if (row->type != REDIS_REPLY_ARRAY || row->elements != 4 || row->element[2]->type != REDIS_REPLY_INTEGER) {
            unexpected_reply(from, "XPENDING");
        }
        out.oldest_idle_ms = row->element[2]->integer;
    }
    return out;
}

/// A stream entry's event text, or what is wrong with the entry (empty when nothing), and
/// whether it is within bounds (then its fields may be copied to the dead-letter stream).
struct checked_entry {
    std::string_view payload;
    std::string problem;
    bool bounded = false;
};

/// Checks a stream entry's field list (an array of field/value texts): at most `max_fields`
/// pairs of at most `max_entry_bytes` in all, with a field named `field` (its last value is the
/// payload). Throws nothing but bad_alloc: the problem is returned, worded for a decode_error.
inline checked_entry check_entry(const redisReply& fields, std::string_view field, std::size_t max_fields,
                                 std::size_t max_entry_bytes) {
    checked_entry out;
    if (fields.type != REDIS_REPLY_ARRAY || fields.elements % 2 != 0) {
        out.problem = "malformed stream entry";
        return out;
    }
    if (fields.elements / 2 > max_fields) {
        out.problem = "stream entry of " + std::to_string(fields.elements / 2) + " fields, more than max_fields (" +
                      std::to_string(max_fields) + ")";
        return out;
    }
    std::size_t bytes = 0;
    bool found = false;
    for (std::size_t i = 0; i < fields.elements; ++i) {
        if (!is_text(fields.element[i])) {
            out.problem = "malformed stream entry";
            return out;
        }
        bytes += fields.element[i]->len;
        if (i % 2 == 0 && text_view(fields.element[i]) == field) {
            out.payload = text_view(fields.element[i + 1]);
            found = true;
        }
    }
    if (bytes > max_entry_bytes) {
        out.problem = "stream entry of " + std::to_string(bytes) + " bytes, more than max_entry_bytes (" +
                      std::to_string(max_entry_bytes) + ")";
        return out;
    }
    out.bounded = true;
    if (!found) out.problem = "stream entry without a field \"" + std::string(field) + "\"";
    return out;
}

}  // namespace beacon::redis::detail
