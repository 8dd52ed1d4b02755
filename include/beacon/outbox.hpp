#pragma once
/// \file
/// The outbox and its relay as the database parts implement them (beacon::sqlite,
/// beacon::postgres) and configured listeners use them: an outbox writes events inside the host's
/// storage transaction; a relay publishes its rows afterwards, to a publisher of the stored texts
/// (encoded_events) or of the events.

#include <beacon/encoded_events.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
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
