#pragma once
/// \file
/// The exceptions beacon throws: one base class, five groups by kind of failure, a subclass per case.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon {

/// Base of every exception beacon throws; `what()` reads "[beacon.<kind>] <where>: <what was wrong>".
/// Every exception belongs to one of five groups, each a class of its own that a host can catch:
/// decode_error (bad input), encode_error (an event that cannot be written), config_error (bad
/// configuration), transport_error (a server, queue or socket that failed to carry an event) and
/// misuse_error (an API called the wrong way). docs/errors.md lists when each is thrown.
class error : public std::runtime_error {
protected:
    /// Builds the message from the error kind (the leaf class's name) and the details.
    error(std::string_view kind, const std::string& details)
        : std::runtime_error("[beacon." + std::string(kind) + "] " + details) {}
};

/// An API called the wrong way: a bad name, an unknown sealed name, a call in the wrong state or
/// from the wrong thread, a null argument. Fix the calling code; retrying does not help.
class misuse_error : public error {
public:
    /// `details` names the call and what was wrong.
    explicit misuse_error(const std::string& details) : error("misuse_error", details) {}

protected:
    /// For subclasses: `kind` is the subclass's name.
    misuse_error(std::string_view kind, const std::string& details) : error(kind, details) {}
};

/// A server, queue, socket or file that failed to carry or keep an event (unreachable, refused,
/// full, timed out). Retrying later may help.
class transport_error : public error {
public:
    /// `details` names the server, queue or file, then what went wrong.
    explicit transport_error(const std::string& details) : error("transport_error", details) {}

protected:
    /// For subclasses: `kind` is the subclass's name.
    transport_error(std::string_view kind, const std::string& details) : error(kind, details) {}
};

/// A signal or namespace name that is empty, too long or holds control characters.
class name_error : public misuse_error {
public:
    /// `details` says which name and why.
    explicit name_error(const std::string& details) : misuse_error("name_error", details) {}
};

/// A lookup of a name that a sealed namespace does not declare.
class unknown_signal_error : public misuse_error {
public:
    /// `details` names the namespace and the signal.
    explicit unknown_signal_error(const std::string& details)
        : misuse_error("unknown_signal_error", details) {}
};

/// Why a decode_error was raised, for a consumer that treats the cases apart (e.g. dead-letters an
/// oversized message without retrying it).
enum class decode_reason {
    syntax,     ///< Not JSON: a syntax error, invalid UTF-8, a number out of range.
    shape,      ///< JSON, but not an event: a wrong type, an unknown key or action, a missing payload.
    too_large,  ///< Longer than json_limits::max_bytes; not parsed at all.
    too_deep,   ///< Nests deeper than json_limits::max_depth; parsing stopped there.
};

/// Bad input from outside (event JSON, a Redis message, an HTTP request); the message starts with
/// where in it (the JSON pointer of the bad value, or what the subclass names).
class decode_error : public error {
public:
    /// `path` is a JSON pointer ("/payload/action"), `details` what was wrong there.
    decode_error(const std::string& path, const std::string& details, decode_reason why = decode_reason::shape)
        : decode_error("decode_error", path, details, why) {}

    /// The JSON pointer of the offending value ("" for the document itself).
    const std::string& path() const noexcept { return path_; }
    /// Which kind of failure this is.
    decode_reason reason() const noexcept { return reason_; }

protected:
    /// For subclasses: `kind` is the subclass's name.
    decode_error(std::string_view kind, const std::string& path, const std::string& details, decode_reason why)
        : error(kind, (path.empty() ? std::string("/") : path) + ": " + details), path_(path), reason_(why) {}

private:
    std::string path_;
    decode_reason reason_;
};

/// An event that cannot be written in the wire shape (e.g. a `data` key that shadows a payload field).
class encode_error : public error {
public:
    /// `path` is a JSON pointer into the event ("/data/uri"), `details` what was wrong there.
    encode_error(const std::string& path, const std::string& details)
        : error("encode_error", path + ": " + details) {}
    /// `first` (about the first event of a batch left out), thrown after the others were sent:
    /// `left_out` lists the positions in the batch of every event left out.
    encode_error(const encode_error& first, std::vector<std::size_t> left_out)
        : encode_error(first) {
        left_out_ = std::make_shared<const std::vector<std::size_t>>(std::move(left_out));
    }

    /// For a batch whose other events were sent (a Redis forwarder's), the positions of the
    /// events left out; empty when nothing of the call was sent.
    const std::vector<std::size_t>& left_out() const noexcept {
        static const std::vector<std::size_t> none;
        return left_out_ ? *left_out_ : none;
    }

private:
    std::shared_ptr<const std::vector<std::size_t>> left_out_;  // shared: copying stays noexcept
};

/// A unit of work misused: a call in the wrong state or from a thread that does not own it, an
/// event without an action, or a cascade of events that never ends.
class unit_of_work_error : public misuse_error {
public:
    /// `details` names the call, the unit of work's state and what was wrong.
    explicit unit_of_work_error(const std::string& details) : misuse_error("unit_of_work_error", details) {}
};

/// Bad configuration (of a listener, a hub, a filter): names the alias and the JSON pointer of the key.
class config_error : public error {
public:
    /// `alias` names what is configured ("" when nothing has a name), `key` is the JSON pointer
    /// of the offending value ("/event_listeners/tracker/actions/0"), `details` what was wrong.
    config_error(std::string alias, std::string key, const std::string& details)
        : error("config_error", (key.empty() ? std::string("/") : key) +
                                    (alias.empty() ? std::string() : " (alias \"" + alias + "\")") + ": " + details),
          alias_(std::move(alias)),
          key_(std::move(key)),
          details_(details) {}

    /// The alias of the listener (or name of the hub) being configured; may be empty.
    const std::string& alias() const noexcept { return alias_; }
    /// The JSON pointer of the offending value ("" for the document itself).
    const std::string& key() const noexcept { return key_; }
    /// What was wrong, without the key and alias (to report it under another key).
    const std::string& details() const noexcept { return details_; }

private:
    std::string alias_;
    std::string key_;
    std::string details_;
};

/// A plugin host misuse: a plugin name loaded twice, unloading one that is not loaded, a bad
/// subscription table, or a plugin connecting after it was unloaded.
class plugin_error : public misuse_error {
public:
    /// `details` names the plugin and what was wrong.
    explicit plugin_error(const std::string& details) : misuse_error("plugin_error", details) {}
};

/// An asynchronous receiver's full queue (policy `throw_error`); the message names the receiver.
class async_error : public transport_error {
public:
    /// `details` names the asynchronous receiver and what went wrong.
    explicit async_error(const std::string& details) : transport_error("async_error", details) {}
};

namespace detail {
// The `what()` of what `failure` holds, or "unknown exception" when it is not a std::exception.
inline std::string exception_message(const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}
}  // namespace detail

/// An exception a receiver threw during `signal::send_robust`, with the receiver's identity.
struct receiver_error {
    std::uint64_t receiver_id = 0;  ///< `connection::id()` of the receiver that threw.
    std::string receiver_type;      ///< The receiver's demangled C++ type.
    std::exception_ptr exception;   ///< What it threw, to rethrow or inspect.

    /// The exception's `what()`, or "unknown exception" when it is not a std::exception.
    std::string message() const { return detail::exception_message(exception); }
};

}  // namespace beacon
