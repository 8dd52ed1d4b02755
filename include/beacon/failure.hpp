#pragma once
/// \file
/// The failure model: one record for every failure beacon reports off the caller's stack (an
/// asynchronous receiver, an after-commit receiver, a Redis forwarder or consumer, the web server,
/// the plugin loader), one handler type, and one process-wide sink a host routes to its logger in
/// one call. beacon writes nothing to stderr except through the default sink.

#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <array>
#include <cstddef>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace beacon {

/// Which part of beacon reported a failure.
enum class part { signal, async, unit_of_work, listener, hub, plugin, redis, web, sqlite, postgres, asio, outbound };

/// The part's name: "signal", "async", "unit_of_work", "listener", "hub", "plugin", "redis", "web",
/// "sqlite", "postgres", "asio" or "outbound".
constexpr std::string_view to_string(part p) noexcept {
    constexpr std::array<std::string_view, 12> names{"signal", "async",    "unit_of_work", "listener",
                                                     "hub",    "plugin",   "redis",        "web",
                                                     "sqlite", "postgres", "asio",         "outbound"};
    return names[static_cast<std::size_t>(p)];
}

/// A failure reported off the caller's stack: which part, where in it, the event and the receiver
/// (or endpoint) when there is one, and the exception.
struct failure {
    beacon::part part = beacon::part::signal;  ///< The part that reports it.
    std::string where;             ///< The instance in that part: a signal, queue, consumer, server or file name.
    std::string receiver;          ///< The receiver, listener, consumer or endpoint that failed ("" when none).
    const event* ev = nullptr;     ///< The event being handled (valid during the handler's call only), or nullptr.
    std::exception_ptr exception;  ///< What was thrown (never null when reported by beacon).

    /// The exception's `what()`, or "unknown exception" when it is not a std::exception.
    std::string message() const { return detail::exception_message(exception); }

    /// One line: `beacon.<part>: <where>: <receiver> failed on the event from "<sender>" at <uri>: <message>`.
    std::string describe() const {
        std::string line = "beacon.";
        line += to_string(part);
        if (!where.empty()) line += ": " + where;
        line += ": ";
        line += receiver.empty() ? std::string("failed") : receiver + " failed";
        if (ev) {
            line += " on the event from \"" + ev->sender + "\"";
            if (!ev->uri.empty()) line += " at " + ev->uri;
        }
        line += ": " + message();
        return line;
    }
};

/// Gets failures; runs on the thread that failed (a worker, a consumer's thread, the server's
/// thread) and must not throw: what it throws is dropped.
using failure_handler = std::function<void(const failure&)>;

/// The default sink: `f.describe()` and a newline on stderr, in one write.
inline void write_to_stderr(const failure& f) {
    const std::string line = f.describe() + "\n";
    std::cerr.write(line.data(), static_cast<std::streamsize>(line.size()));
    std::cerr.flush();
}

namespace detail {
struct failure_sink_state {
    std::mutex mutex;
    std::shared_ptr<const failure_handler> sink = std::make_shared<const failure_handler>(write_to_stderr);
};
inline failure_sink_state& failure_sink() {
    static failure_sink_state state;
    return state;
}
}  // namespace detail

/// Routes every failure reported without a handler of its own to `sink` (empty: back to
/// write_to_stderr) and returns the previous sink. Thread-safe; process-wide (one per shared
/// library when beacon is compiled into several with hidden visibility: set it in each).
inline failure_handler set_failure_sink(failure_handler sink) {
    auto next = std::make_shared<const failure_handler>(sink ? std::move(sink) : failure_handler(write_to_stderr));
    auto& state = detail::failure_sink();
    const std::lock_guard lock(state.mutex);
    failure_handler previous = *state.sink;
    state.sink = std::move(next);
    return previous;
}

/// Reports `f` to `handler` when it is set, otherwise to the process-wide sink; never throws.
inline void report(const failure& f, const failure_handler& handler = {}) noexcept {
    try {
        if (handler) {
            handler(f);
            return;
        }
        std::shared_ptr<const failure_handler> sink;
        {
            auto& state = detail::failure_sink();
            const std::lock_guard lock(state.mutex);
            sink = state.sink;
        }
        (*sink)(f);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a handler must not throw; what it throws is dropped
    }
}

}  // namespace beacon
