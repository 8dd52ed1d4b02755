#pragma once
/// \file
/// The inbox: where a consumer records that an event was processed, in the same transaction as
/// its receivers' effects, so that an event delivered again (a redelivery after a crash, a
/// producer's replay) has no effect twice.

#include <beacon/event.hpp>

#include <functional>

namespace beacon {

/// A store of the ids of the events processed, written in one transaction with what the event's
/// receivers did: beacon::sqlite::inbox (SQLite), beacon::postgres::inbox (PostgreSQL), or a host's
/// own over its database. A consumer given one (the `inbox` option of the Redis consumers) delivers
/// each event through `process`. Where the window and the Redis record of `dedup_options` drop most
/// duplicates, an inbox drops all of them: the record and the effects commit together or not at
/// all.
class inbox {
public:
    /// Destroys the inbox (not the store it writes to).
    virtual ~inbox() = default;

    /// In one transaction: runs `effects` (the event's delivery to its receivers) and records
    /// `e.id` as processed, then commits; returns false, running nothing, when the id was processed
    /// already. An event without an id (nil) is delivered in a transaction and recorded nowhere.
    /// An exception out of `effects` rolls back and propagates; a store that cannot commit throws
    /// a transport_error, with nothing recorded (the consumer delivers the event again later).
    virtual bool process(const event& e, const std::function<void()>& effects) = 0;

protected:
    /// For implementations.
    inbox() = default;
    /// For implementations.
    inbox(const inbox&) = default;
    /// For implementations.
    inbox& operator=(const inbox&) = default;
};

}  // namespace beacon
