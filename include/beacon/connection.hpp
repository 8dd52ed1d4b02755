#pragma once
/// \file
/// Handles on a connected receiver: connection, scoped_connection and scoped_block.

#include <boost/signals2/connection.hpp>
#include <boost/signals2/shared_connection_block.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <utility>

namespace beacon {

namespace detail {
/// Told when a receiver is disconnected through a connection (a signal's meta signals).
struct disconnect_observer {
    virtual ~disconnect_observer() = default;
    /// Receiver `id` was just disconnected.
    virtual void disconnected(std::uint64_t id) noexcept = 0;
};
}  // namespace detail

/// Blocks one receiver for as long as it lives (Boost.Signals2 `shared_connection_block`).
class scoped_block {
public:
    /// Blocks the receiver of `c` until this object is destroyed or `unblock()` is called.
    explicit scoped_block(const boost::signals2::connection& c) : block_(c, true) {}

    /// Stops blocking now; the receiver is called again by later sends.
    void unblock() noexcept { block_.unblock(); }

private:
    boost::signals2::shared_connection_block block_;
};

/// A handle on a connected receiver; copies refer to the same receiver; an empty one is inert.
class connection {
public:
    connection() = default;
    /// Wraps a Boost.Signals2 connection made for the receiver numbered `id`; `observer`, if any,
    /// is told when disconnect() disconnects it.
    connection(boost::signals2::connection native, std::uint64_t id,
               std::weak_ptr<detail::disconnect_observer> observer = {}) noexcept
        : native_(std::move(native)), id_(id), observer_(std::move(observer)) {}

    /// Disconnects the receiver; it is not called by later sends, nor later in a running one.
    /// The signal's `receiver_disconnected` is sent when this call found it connected.
    void disconnect() const noexcept {
        const auto observer = observer_.lock();
        if (!observer || !native_.connected()) {
            native_.disconnect();
            return;
        }
        native_.disconnect();
        observer->disconnected(id_);
    }
    /// Whether the receiver is still connected (false once its tracked owner has expired).
    bool connected() const noexcept { return native_.connected(); }
    /// Whether some scoped_block currently blocks the receiver.
    bool blocked() const noexcept { return native_.blocked(); }
    /// Blocks the receiver until the returned object is destroyed.
    [[nodiscard]] scoped_block block() const { return scoped_block(native_); }
    /// The receiver's number in its signal, as reported by robust sends (0 for an empty handle).
    std::uint64_t id() const noexcept { return id_; }
    /// The underlying Boost.Signals2 connection.
    const boost::signals2::connection& native() const noexcept { return native_; }

    /// Whether both handles refer to the same receiver.
    friend bool operator==(const connection& a, const connection& b) noexcept { return a.native_ == b.native_; }
    /// Whether the handles refer to different receivers.
    friend bool operator!=(const connection& a, const connection& b) noexcept { return !(a == b); }

private:
    boost::signals2::connection native_;
    std::uint64_t id_ = 0;
    std::weak_ptr<detail::disconnect_observer> observer_;
};

/// Owns a connection and disconnects it when destroyed (RAII); movable, not copyable.
class scoped_connection {
public:
    scoped_connection() = default;
    /// Takes ownership of `c`.
    scoped_connection(connection c) noexcept : connection_(std::move(c)) {}  // NOLINT: implicit by design
    scoped_connection(const scoped_connection&) = delete;
    scoped_connection& operator=(const scoped_connection&) = delete;
    /// Takes ownership from `other`, which becomes empty.
    scoped_connection(scoped_connection&& other) noexcept : connection_(other.release()) {}
    /// Disconnects the owned receiver, then takes ownership from `other`.
    scoped_connection& operator=(scoped_connection&& other) noexcept {
        if (this != &other) {
            connection_.disconnect();
            connection_ = other.release();
        }
        return *this;
    }
    ~scoped_connection() { connection_.disconnect(); }

    /// Gives up ownership without disconnecting and returns the connection.
    connection release() noexcept { return std::exchange(connection_, connection{}); }
    /// The owned connection.
    const connection& get() const noexcept { return connection_; }
    /// Disconnects the owned receiver now.
    void disconnect() const noexcept { connection_.disconnect(); }
    /// Whether the owned receiver is still connected.
    bool connected() const noexcept { return connection_.connected(); }

private:
    connection connection_;
};

/// What one receiver returned during `signal::send_collect` (blinker's `(receiver, value)`).
struct receiver_result {
    std::uint64_t receiver_id = 0;  ///< `connection::id()` of the receiver called.
    nlohmann::json value;           ///< What it returned; null when it returns nothing.
};

}  // namespace beacon
