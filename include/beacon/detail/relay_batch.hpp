#pragma once
/// \file
/// Internals: what the outbox relays of the database parts (SQLite, PostgreSQL) do with the rows
/// of one batch: check each stored text (beacon's envelope), hand the batch to the relay_publisher
/// (decoded events, or the texts as they are), and after an encode_error try each row alone.

#include <beacon/encoded_events.hpp>
#include <beacon/outbox.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/wire_format.hpp>

#include <boost/container/small_vector.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::detail {

/// Whether `text` is framed as one JSON object within `limits`: at most `max_bytes`, an object
/// from its first to its last byte (whitespace aside), brackets that pair up outside strings and
/// nest at most `max_depth` levels, no control character inside a string. One pass, no
/// allocation within the default depth: what a relay checks before it hands a stored text on as it is. A text that passes
/// may still not be an event (the consumers' decoder then refuses it); a truncated or hand-mangled
/// one does not pass.
inline bool framed_as_object(std::string_view text, const json_limits& limits) {
    // 1: a byte that ends a run inside a string (quote, backslash, control); 2: a byte that
    // matters outside strings (quote, brackets).
    static constexpr auto kinds = [] {
        std::array<unsigned char, 256> k{};
        for (int c = 0; c < 0x20; ++c) k[static_cast<std::size_t>(c)] = 1;
        k['\\'] = 1;
        k['"'] = 3;
        k['{'] = k['}'] = k['['] = k[']'] = 2;
        return k;
    }();
    const auto kind = [&](std::size_t i) { return kinds[static_cast<unsigned char>(text[i])]; };
    if (text.size() > limits.max_bytes) return false;
    const std::size_t first = text.find_first_not_of(" \t\r\n");
    const std::size_t last = text.find_last_not_of(" \t\r\n");
    if (first == std::string_view::npos || text[first] != '{' || text[last] != '}') return false;
    // The open brackets, one bit each (1: an array), 64 to a word: up to max_depth levels.
    boost::container::small_vector<std::uint64_t, 4> arrays((limits.max_depth + 63) / 64 + 1, 0);
    std::size_t depth = 0;
    for (std::size_t i = first; i <= last; ++i) {
        if ((kind(i) & 2) == 0) continue;
        const char c = text[i];
        if (c == '"') {
            for (++i;; ++i) {
                while (i <= last && (kind(i) & 1) == 0) ++i;
                if (i > last || static_cast<unsigned char>(text[i]) < 0x20) return false;
                if (text[i] == '"') break;
                ++i;  // a backslash: the next byte is escaped
            }
        } else if (c == '{' || c == '[') {
            if (++depth > limits.max_depth) return false;
            const std::uint64_t bit = std::uint64_t{1} << (depth % 64);
            auto& word = arrays[depth / 64];
            word = c == '[' ? word | bit : word & ~bit;
        } else {
            if (depth == 0 || ((arrays[depth / 64] >> (depth % 64)) & 1U) != (c == ']' ? 1U : 0U)) return false;
            if (--depth == 0 && i != last) return false;
        }
    }
    return depth == 0;
}

/// The rows of one batch a relay read, oldest first, checked for `publisher` and handed to it.
class relay_batch {
public:
    /// A batch for `publisher`, whose rows are checked within `limits`.
    relay_batch(const relay_publisher& publisher, const json_limits& limits) : publisher_(publisher), limits_(limits) {}

    /// Takes row `seq`'s text; returns why it cannot be published when it cannot (the row is
    /// then to be set aside). For a publisher of events the text is decoded; for one of texts
    /// its framing is checked (framed_as_object), and only a text refused there is decoded,
    /// for the decoder's message (and passed on if the decoder takes it after all).
    std::optional<std::string> add(std::int64_t seq, std::string_view text) {
        try {
            if (publisher_.events()) {
                events_.push_back(wire_format::envelope().decode(text, limits_));
            } else {
                if (!framed_as_object(text, limits_)) (void)wire_format::envelope().decode(text, limits_);
                texts_.push_back(text);
            }
        } catch (const decode_error& bad) {
            return std::string(bad.what());
        }
        seqs_.push_back(seq);
        return std::nullopt;
    }

    /// Whether no row was taken.
    bool empty() const noexcept { return seqs_.empty(); }

    /// Publishes every row taken, in one call; after an encode_error, calls the publisher with
    /// each row alone, and `refused(seq, reason)` for each it refuses again. Returns the seqs
    /// published. Any other exception propagates (nothing of the batch counts as published).
    std::vector<std::int64_t> publish(const std::function<void(std::int64_t, const std::string&)>& refused) const {
        try {
            call(0, seqs_.size());
            return seqs_;
        } catch (const encode_error&) {  // each alone below
        }
        std::vector<std::int64_t> published;
        for (std::size_t i = 0; i < seqs_.size(); ++i) {
            try {
                call(i, i + 1);
            } catch (const encode_error& bad) {
                refused(seqs_[i], bad.what());
                continue;
            }
            published.push_back(seqs_[i]);
        }
        return published;
    }

private:
    // Calls the publisher with the rows [from, to).
    void call(std::size_t from, std::size_t to) const {
        if (publisher_.events()) {
            if (from == 0 && to == events_.size()) return publisher_.events()(events_);
            return publisher_.events()(std::vector<event>(events_.begin() + static_cast<std::ptrdiff_t>(from),
                                                         events_.begin() + static_cast<std::ptrdiff_t>(to)));
        }
        if (from == 0 && to == texts_.size()) return publisher_.texts()(texts_);
        encoded_events part(texts_.format());
        for (std::size_t i = from; i < to; ++i) part.push_back(texts_[i]);
        publisher_.texts()(part);
    }

    const relay_publisher& publisher_;
    json_limits limits_;
    std::vector<std::int64_t> seqs_;
    std::vector<event> events_;
    encoded_events texts_;
};

}  // namespace beacon::detail
