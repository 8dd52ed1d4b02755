#pragma once
/// \file
/// The outbox and its relay as the database parts implement them (beacon::sqlite,
/// beacon::postgres) and configured listeners use them: an outbox writes events inside the host's
/// storage transaction; a relay publishes its rows afterwards, to a publisher of the stored texts
/// (encoded_events) or of the events. Below, in beacon::detail, what both relays do with the rows
/// of a batch: check each text, hand the batch over, and after an encode_error try each row alone.

#include <beacon/encoded_events.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/wire_format.hpp>

#include <boost/container/small_vector.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace beacon {

/// What a relay publishes to: a function callable with `const encoded_events&` gets the rows'
/// texts (beacon's envelope) as they are (a Redis forwarder sends them without decoding); one
/// callable only with `const std::vector<event>&` gets the events decoded from them. Either
/// publishes in order, or throws when it could not (the relay retries).
class relay_publisher {
public:
    /// A publisher of events.
    using events_function = std::function<void(const std::vector<event>&)>;
    /// A publisher of stored texts.
    using texts_function = std::function<void(const encoded_events&)>;

    /// `publish`, given the texts when it takes them, else the events.
    template <class Publish, class = std::enable_if_t<std::is_invocable_v<Publish&, const encoded_events&> ||
                                                      std::is_invocable_v<Publish&, const std::vector<event>&>>>
    relay_publisher(Publish publish) {  // NOLINT(google-explicit-constructor): a function is a publisher
        if constexpr (std::is_invocable_v<Publish&, const encoded_events&>) {
            texts_ = std::move(publish);
        } else {
            events_ = std::move(publish);
        }
    }
    /// No publisher (the relays refuse it).
    relay_publisher(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

    /// Whether there is a function to call.
    explicit operator bool() const noexcept { return events_ || texts_; }
    /// The publisher of events, or an empty function.
    const events_function& events() const noexcept { return events_; }
    /// The publisher of texts, or an empty function.
    const texts_function& texts() const noexcept { return texts_; }

private:
    events_function events_;
    texts_function texts_;
};

/// What a relay did so far.
struct relay_stats {
    std::uint64_t published = 0;  ///< Events the publisher accepted (and whose rows were deleted).
    std::uint64_t failures = 0;   ///< Attempts that failed (a publisher that threw, a lost connection), each retried.
    std::uint64_t set_aside = 0;  ///< Rows moved to "<table>_dead": unreadable, or refused by the format.
    /// Rows waiting in the outbox, as the relay's thread last counted them (at most once a second
    /// while it runs; 0 before `start`).
    std::uint64_t pending = 0;
    /// How long the oldest of those rows has waited, now (0 when none waited at the last count).
    std::chrono::milliseconds oldest_age{0};
};

/// Publishes an outbox's rows in order, in batches, deleting what was published:
/// beacon::sqlite::relay, beacon::postgres::relay.
class relay {
public:
    /// Stops and joins the relay's thread.
    virtual ~relay() = default;
    /// Publishes in a new thread until `stop()`; throws misuse_error when the relay already runs.
    virtual void start() = 0;
    /// Asks the thread to return after the batch in hand; returns at once.
    virtual void stop() noexcept = 0;
    /// In the caller's thread: publishes one batch; returns how many rows it took off the outbox
    /// (published or set aside). A failure throws, with nothing deleted.
    virtual std::size_t run_once() = 0;
    /// What the relay did so far.
    virtual relay_stats stats() const noexcept = 0;

protected:
    /// For implementations.
    relay() = default;
    /// For implementations.
    relay(const relay&) = default;
    /// For implementations.
    relay& operator=(const relay&) = default;
};

/// A table of the host's own database into which events are written inside the host's storage
/// transaction (beacon::sqlite::outbox, beacon::postgres::outbox); the listener types that take
/// an `outbox` option write through this interface and publish through the relay it makes.
class outbox {
public:
    /// Destroys the outbox (not its table, nor the host's connection).
    virtual ~outbox() = default;
    /// Writes `e` as a row, in the transaction the host has open; throws misuse_error when none is
    /// open, encode_error when `e` cannot be written, the part's transport_error when the row
    /// cannot be (the host's transaction should then roll back).
    virtual void add(const event& e) = 0;
    /// A relay of this outbox's table (the part's default relay options), not started, publishing
    /// to `publish`, its failures going to `on_failure` (the process-wide sink when empty).
    virtual std::unique_ptr<relay> make_relay(relay_publisher publish, failure_handler on_failure = {}) = 0;

protected:
    /// For implementations.
    outbox() = default;
    /// For implementations.
    outbox(const outbox&) = default;
    /// For implementations.
    outbox& operator=(const outbox&) = default;
};

}  // namespace beacon

namespace beacon::detail {

/// Whether `text` is framed as one JSON object within `limits`: at most `max_bytes`, an object
/// from its first to its last byte (whitespace aside), brackets that pair up outside strings and
/// nest at most `max_depth` levels, no control character inside a string. One pass, no allocation
/// within the default depth: what a relay checks before it hands a stored text on as it is. A
/// text that passes may still not be an event (the consumers' decoder then refuses it); a
/// truncated or hand-mangled one does not pass.
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
            ++i;
            for (;;) {
                while (i <= last && (kind(i) & 1) == 0) ++i;
                if (i > last || static_cast<unsigned char>(text[i]) < 0x20) return false;
                if (text[i] == '"') break;
                i += 2;  // a backslash and the byte it escapes
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

    /// Forgets the rows taken, keeping the memory for the next batch.
    void clear() noexcept {
        seqs_.clear();
        events_.clear();
        texts_.clear();
    }

    /// Publishes every row taken, in one call. After an encode_error that tells which rows were
    /// left out (`left_out()`: a Redis forwarder sent the others), calls the publisher with each
    /// of those alone; after one that does not, with each row alone; and `refused(seq, reason)`
    /// for each it refuses again. Returns the seqs published. Any other exception propagates
    /// (nothing of the batch counts as published).
    std::vector<std::int64_t> publish(const std::function<void(std::int64_t, const std::string&)>& refused) const {
        std::vector<std::size_t> again;  // the rows to try alone
        try {
            call(0, seqs_.size());
            return seqs_;
        } catch (const encode_error& bad) {
            const auto& out = bad.left_out();  // in order, each once, within the batch: else unusable
            if (std::adjacent_find(out.begin(), out.end(), std::greater_equal<>()) == out.end() &&
                (out.empty() || out.back() < seqs_.size())) {
                again = out;
            }
            if (again.empty()) {
                for (std::size_t i = 0; i < seqs_.size(); ++i) again.push_back(i);
            }
        }
        std::vector<std::int64_t> published;
        std::size_t next = 0;  // the next row of `again`
        for (std::size_t i = 0; i < seqs_.size(); ++i) {
            if (next == again.size() || again[next] != i) {  // sent with the batch
                published.push_back(seqs_[i]);
                continue;
            }
            ++next;
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
