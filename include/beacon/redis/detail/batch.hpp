#pragma once
/// \file
/// Internals of the Redis bridge: encoding events for the forwarders, one at a time or a batch
/// into one buffer, each text within the size the consumers accept.

#include <beacon/encoded_events.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/wire_format.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace beacon::redis::detail {

/// The most bytes a forwarder writes for one event, and the name of the setting that says so.
struct size_limit {
    std::size_t max_bytes = static_cast<std::size_t>(-1);  ///< Longest text (plus `overhead`) accepted.
    const char* name = "";                                 ///< The option, e.g. "limits.max_bytes".
    std::size_t overhead = 0;  ///< Bytes written with each text (a stream entry's field name).
};

/// Appends `e` in `format` to `out`; throws encode_error (leaving `out` as it was) when it cannot
/// be written, or when its text is longer than `limit` (which the consumers would refuse).
inline void encode_within(const wire_format& format, const event& e, std::string& out, const size_limit& limit) {
    const std::size_t start = out.size();
    try {
        format.encode(e, out);
    } catch (...) {
        out.resize(start);
        throw;
    }
    if (const std::size_t bytes = out.size() - start + limit.overhead; bytes > limit.max_bytes) {
        out.resize(start);
        throw encode_error("", "event " + beacon::detail::describe_event(e) + " is " + std::to_string(bytes) +
                                   " bytes in the wire format \"" + format.name() + "\", more than " + limit.name +
                                   " (" + std::to_string(limit.max_bytes) + "), which the consumers refuse");
    }
}

/// The text of `e` in `format`; throws encode_error as encode_within.
inline std::string encode_one(const wire_format& format, const event& e, const size_limit& limit) {
    std::string text;
    encode_within(format, e, text, limit);
    return text;
}

/// The texts of a batch's events that can be written, one after the other in one buffer, and
/// the encode_error of the first event left out.
struct encoded_batch {
    std::string texts;                    ///< Every text, concatenated.
    std::vector<std::size_t> ends;        ///< Where each text ends in `texts`.
    std::optional<encode_error> first_bad;  ///< The first event that could not be written.
    std::vector<std::size_t> left_out;      ///< The positions in the batch of those left out.

    /// How many texts there are.
    std::size_t size() const noexcept { return ends.size(); }
    /// Throws, when events were left out, the first one's encode_error with their positions.
    void throw_left_out() const {
        if (first_bad) throw encode_error(*first_bad, left_out);
    }
    /// The `i`th text (valid while the batch lives).
    std::string_view operator[](std::size_t i) const noexcept {
        const std::size_t start = i == 0 ? 0 : ends[i - 1];
        return std::string_view(texts).substr(start, ends[i] - start);
    }
};

/// The most bytes encode_batch reserves for a batch's texts at once (more grow as written).
constexpr std::size_t reserve_cap = std::size_t(4) << 20;

/// Encodes every event of `batch` that can be written, in order; one that cannot does not hold
/// the others back (its position is kept in `left_out`). The buffer is sized once, after the first
/// text, for as many texts of that size and a quarter more (up to reserve_cap), so that it does
/// not grow (and move the texts written) a dozen times.
inline encoded_batch encode_batch(const wire_format& format, const std::vector<event>& batch, const size_limit& limit) {
    encoded_batch out;
    out.ends.reserve(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
            encode_within(format, batch[i], out.texts, limit);
            if (i == 0) out.texts.reserve(std::min(out.texts.size() * batch.size() * 5 / 4, reserve_cap));
            out.ends.push_back(out.texts.size());
        } catch (const encode_error& failure) {
            if (!out.first_bad) out.first_bad = failure;
            out.left_out.push_back(i);
        }
    }
    return out;
}

/// Whether every text of `batch` can be sent as it is in `format`: `batch` is in `format` (formats
/// are told apart by name) and no text is over `limit` (then no copy of the texts is needed).
inline bool sendable_as_they_are(const wire_format& format, const encoded_events& batch, const size_limit& limit) {
    if (batch.format().name() != format.name()) return false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (batch[i].size() + limit.overhead > limit.max_bytes) return false;
    }
    return true;
}

/// The texts of `batch` (events written already: an outbox's rows) that can be sent in
/// `format`: as they are when `batch` is in `format` (formats are told apart by name), else each
/// decoded within `limits` and written in `format`. A text over `limit`, or one that does not
/// decode, is left out without holding the others back; the first one's encode_error is kept.
inline encoded_batch encode_batch(const wire_format& format, const encoded_events& batch, const size_limit& limit,
                                  const json_limits& limits) {
    encoded_batch out;
    out.ends.reserve(batch.size());
    const bool as_they_are = batch.format().name() == format.name();
    for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
            if (as_they_are) {
                if (const std::size_t bytes = batch[i].size() + limit.overhead; bytes > limit.max_bytes) {
                    throw encode_error("", "text " + std::to_string(i) + " of the batch is " + std::to_string(bytes) +
                                               " bytes, more than " + limit.name + " (" +
                                               std::to_string(limit.max_bytes) + "), which the consumers refuse");
                }
                out.texts.append(batch[i]);
            } else {
                event e;
                try {
                    e = batch.decode(i, limits);
                } catch (const decode_error& bad) {
                    throw encode_error("", "text " + std::to_string(i) + " of the batch does not decode in the wire format \"" +
                                               batch.format().name() + "\": " + bad.what());
                }
                encode_within(format, e, out.texts, limit);
            }
            out.ends.push_back(out.texts.size());
        } catch (const encode_error& failure) {
            if (!out.first_bad) out.first_bad = failure;
            out.left_out.push_back(i);
        }
    }
    return out;
}

/// The calls a forwarder takes as a receiver: one event, or a batch in one round trip.
template <class Forwarder>
class forwarding_calls {
public:
    /// Forwards `e` (so that `signal::connect(forwarder)` works).
    void operator()(const event& e) const { static_cast<const Forwarder&>(*this).forward(e); }
    /// Forwards `batch` in one round trip (so that `resource_notifier::on_after_commit(forwarder)`
    /// writes once per commit).
    void operator()(const std::vector<event>& batch) const { static_cast<const Forwarder&>(*this).forward(batch); }
    /// Forwards the texts of `batch` in one round trip (so that an outbox's relay hands it its
    /// rows as they are).
    void operator()(const encoded_events& batch) const { static_cast<const Forwarder&>(*this).forward(batch); }
};

}  // namespace beacon::redis::detail
