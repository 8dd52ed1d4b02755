#pragma once
/// \file
/// Internals of the Redis bridge: what the consumers share to drop duplicates by id: the
/// in-memory window, the Redis record's check and mark, and the count of duplicates dropped.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/id_window.hpp>
#include <beacon/inbox.hpp>
#include <beacon/redis/detail/connection.hpp>
#include <beacon/redis/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

namespace beacon::redis::detail {

/// One consumer's duplicate detection: `seen` before delivering, `deliver` (through the inbox, if
/// any), then `acknowledge` (or `remember`) after the receivers returned.
class dedup {
public:
    /// Detection with a window of the last `window` ids, and when `in_redis` a record of each id
    /// in Redis under `prefix` for `ttl` (dedup_options); throws config_error for a record with no
    /// positive TTL.
    dedup(std::size_t window, bool in_redis, std::string prefix, std::chrono::milliseconds ttl)
        : in_redis_(in_redis), prefix_(std::move(prefix)), ttl_text_(std::to_string(ttl.count())), window_(window) {
        if (in_redis_ && ttl.count() <= 0) {
            throw config_error("", "/dedup/ttl", "the Redis record of ids delivered needs a positive TTL");
        }
    }

    /// Whether `e` was delivered already: in the window, or (with the Redis record) recorded on
    /// `connection`'s server. Nil ids never are. An I/O error throws redis_error (the message,
    /// not acknowledged, is delivered after reconnecting); an error reply (the server refused the
    /// lookup) is handed to `refused` and the event taken as new: delivered rather than dropped.
    template <class Refused>
    bool seen(redis_connection& connection, const event& e, Refused&& refused) {
        if (e.id.is_nil()) return false;
        if (window_.contains(e.id)) return count();
        if (!in_redis_) return false;
        const auto replies = connection.exchange({{"EXISTS", key(e)}});
        if (replies.front()->type == REDIS_REPLY_ERROR) {
            refused(command_error(connection.endpoint(), "EXISTS " + key(e),
                                  error_text(replies.front().get()) + " (delivered as a new event)"));
            return false;
        }
        if (replies.front()->type != REDIS_REPLY_INTEGER || replies.front()->integer == 0) return false;
        window_.insert(e.id);
        return count();
    }

    /// Remembers `e`'s id in the window, after its receivers returned (a channel's consumer,
    /// which acknowledges nothing).
    void remember(const event& e) { window_.insert(e.id); }

    /// After `e`'s receivers returned: remembers its id, and writes `ack` (which acknowledges the
    /// message) on `connection`, its reply read at the connection's next `settle()` or exchange.
    /// With the Redis record, `ack` follows the record's mark (SET <prefix><id> 1 NX PX <ttl>) in
    /// one round trip, so that the id is recorded before the message goes. An I/O error throws
    /// redis_error (the message stays, and is delivered again: not lost); the mark refused by the
    /// server is handed to `refused` (the message is acknowledged all the same); `ack` refused
    /// throws redis_error, when its reply is read.
    template <class Refused>
    void acknowledge(redis_connection& connection, const event& e, const redis_command& ack, Refused&& refused) {
        window_.insert(e.id);
        if (!in_redis_ || e.id.is_nil()) {
            connection.post(ack);
            return;
        }
        mark_key_ = key(e);
        const auto replies = connection.exchange({{"SET", mark_key_, "1", "NX", "PX", ttl_text_}, ack});
        if (replies[0]->type == REDIS_REPLY_ERROR) {
            refused(command_error(connection.endpoint(), "SET " + mark_key_,
                                  error_text(replies[0].get()) + " (acknowledged without a record)"));
        }
        if (replies[1]->type == REDIS_REPLY_ERROR) {
            throw command_error(connection.endpoint(), describe(ack), error_text(replies[1].get()));
        }
    }

    /// Delivers `e` by running `effects` (its receivers): through `box` when the consumer has an
    /// inbox, which runs them and records the id in one transaction, else directly. Returns false,
    /// counting a duplicate dropped, when the inbox had processed the id already (nothing ran).
    /// The inbox's own errors (a transport_error when it cannot commit) propagate.
    template <class Effects>
    bool deliver(beacon::inbox* box, const event& e, Effects&& effects) {
        if (box == nullptr) {
            effects();
            return true;
        }
        if (box->process(e, std::forward<Effects>(effects))) return true;
        window_.insert(e.id);
        count();
        return false;
    }

    /// How many duplicates were dropped.
    std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }

private:
    bool count() noexcept {
        dropped_.fetch_add(1, std::memory_order_relaxed);
        return true;
    }

    std::string key(const event& e) const { return prefix_ + e.id.to_string(); }

    bool in_redis_;
    std::string prefix_;
    std::string ttl_text_;
    id_window window_;
    std::atomic<std::uint64_t> dropped_{0};
    std::string mark_key_;
};

}  // namespace beacon::redis::detail
