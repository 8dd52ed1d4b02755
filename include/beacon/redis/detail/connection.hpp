#pragma once
/// \file
/// Internals of the Redis bridge: a blocking hiredis connection to a parsed URL's endpoint (TCP or
/// unix socket) that throws beacon::redis::redis_error, never raises SIGPIPE, and reconnects when its socket has gone stale.

#include <beacon/redis/detail/replies.hpp>
#include <beacon/redis/detail/url.hpp>
#include <beacon/redis/error.hpp>

#include <hiredis/hiredis.h>

#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace beacon::redis::detail {

// Blocks SIGPIPE in this thread while hiredis writes (it uses write(), not send(MSG_NOSIGNAL)), and
// swallows a SIGPIPE that a write to a dead server raised meanwhile, so that the write fails with
// EPIPE instead of killing the process. The process's own signal dispositions are left alone. A
// write that raised SIGPIPE failed, and the connection threw: the pending signal is looked for
// only then, so that a command costs two system calls more, not four.
class sigpipe_guard {
public:
    sigpipe_guard() noexcept : exceptions_(std::uncaught_exceptions()) {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
        // A thread that blocks SIGPIPE itself may have one pending already: not ours to swallow.
        if (sigismember(&old_, SIGPIPE) == 1) {
            sigset_t pending;
            sigpending(&pending);
            was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        }
    }
    sigpipe_guard(const sigpipe_guard&) = delete;
    sigpipe_guard& operator=(const sigpipe_guard&) = delete;
    ~sigpipe_guard() {
        if (std::uncaught_exceptions() > exceptions_ && !was_pending_) {
            sigset_t pending;
            sigpending(&pending);
            if (sigismember(&pending, SIGPIPE) == 1) {
                const timespec zero{0, 0};
                sigtimedwait(&pipe_, nullptr, &zero);
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

private:
    int exceptions_;
    sigset_t pipe_;
    sigset_t old_;
    bool was_pending_ = false;
};

struct reply_deleter {
    void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
/// An owned hiredis reply.
using redis_reply = std::unique_ptr<redisReply, reply_deleter>;

struct context_deleter {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
};

/// One Redis command: its arguments, binary-safe.
using redis_command = std::vector<std::string_view>;

inline timeval to_timeval(std::chrono::milliseconds ms) {
    return timeval{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

// Appends a command's name and first argument (the key) to `out`, for messages; never AUTH's
// credentials.
inline void describe_to(std::string& out, const redis_command& command) {
    if (!command.empty() && command.front() == "AUTH") {
        out += "AUTH";
        return;
    }
    for (std::size_t i = 0; i < command.size() && i < 2; ++i) {
        if (i) out += ' ';
        out += command[i];
    }
}

/// A command for messages: its name and first argument (the key), never AUTH's credentials.
inline std::string describe(const redis_command& command) {
    std::string out;
    describe_to(out, command);
    return out;
}

/// The error of a command `what` that failed at `endpoint`, for `reason`.
inline redis_error command_error(const redis_endpoint& endpoint, std::string_view what, std::string_view reason) {
    return command_error(std::string_view(endpoint.url), what, reason);
}

/// A blocking connection to one Redis server; not thread-safe (callers hold a lock).
class redis_connection {
public:
    /// How many replies `post` leaves unread at most.
    static constexpr std::size_t max_posted = 1024;

    /// A connection to `endpoint`, made on first use; `io_timeout` bounds connecting, reading
    /// and writing, unless the URL's `socket_timeout` or `socket_connect_timeout` say otherwise.
    redis_connection(redis_endpoint endpoint, std::chrono::milliseconds io_timeout)
        : endpoint_(std::move(endpoint)),
          io_timeout_(endpoint_.socket_timeout.value_or(io_timeout)),
          connect_timeout_(endpoint_.connect_timeout.value_or(io_timeout_)),
          read_timeout_(io_timeout_) {}

    /// The server's endpoint.
    const redis_endpoint& endpoint() const noexcept { return endpoint_; }

    /// The I/O timeout in force: the URL's `socket_timeout`, or the one given.
    std::chrono::milliseconds io_timeout() const noexcept { return io_timeout_; }

    /// Connects unless connected to a live socket; a socket the server closed meanwhile (e.g. it
    /// restarted) is replaced. Throws redis_error when the server cannot be reached.
    void ensure_connected() {
        if (context_ && !stale()) return;
        close();
        std::unique_ptr<redisContext, context_deleter> c(
            endpoint_.socket_path.empty()
                ? redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, to_timeval(connect_timeout_))
                : redisConnectUnixWithTimeout(endpoint_.socket_path.c_str(), to_timeval(connect_timeout_)));
        if (!c) fail("connect", "out of memory");
        if (c->err) fail("connect", c->errstr);
        if (redisSetTimeout(c.get(), to_timeval(io_timeout_)) != REDIS_OK) fail("connect", c->errstr);
        context_ = std::move(c);
        // A connection whose AUTH or SELECT failed is dropped, never left on the wrong database.
        try {
            // As redis-py: a user name alone authenticates too (AUTH user "", for a nopass user).
            if (!endpoint_.password.empty() || !endpoint_.user.empty()) {
                if (endpoint_.user.empty()) {
                    command({"AUTH", endpoint_.password});
                } else {
                    command({"AUTH", endpoint_.user, endpoint_.password});
                }
            }
            if (endpoint_.db != 0) command({"SELECT", std::to_string(endpoint_.db)});
            if (read_timeout_ != io_timeout_ && redisSetTimeout(context_.get(), to_timeval(read_timeout_)) != REDIS_OK) {
                fail("set timeout", context_->errstr);
            }
        } catch (...) {
            close();
            throw;
        }
    }

    /// Drops the connection (and the replies `post` left unread); the next command reconnects.
    void close() noexcept {
        context_.reset();
        posted_names_.clear();
        posted_ends_.clear();
    }

    /// Sets how long a read may wait, e.g. longer than a blocking pop's own timeout: now, and on
    /// every later (re)connection, after AUTH and SELECT (which wait at most the I/O timeout).
    void set_read_timeout(std::chrono::milliseconds timeout) {
        read_timeout_ = timeout;
        if (context_ && redisSetTimeout(context_.get(), to_timeval(timeout)) != REDIS_OK) {
            fail("set timeout", context_->errstr);
        }
    }

    /// Runs one command and returns its reply; an error reply or an I/O error throws redis_error
    /// (an I/O error also drops the connection).
    redis_reply command(const redis_command& cmd) {
        auto replies = pipeline({cmd});
        return std::move(replies.front());
    }

    /// Sends every command, then reads every reply: one round trip. Throws redis_error on an
    /// I/O error (dropping the connection) or when any reply is an error (after reading them all).
    std::vector<redis_reply> pipeline(const std::vector<redis_command>& commands) {
        auto replies = exchange(commands);
        for (std::size_t i = 0; i < replies.size(); ++i) {
            if (replies[i]->type == REDIS_REPLY_ERROR) {
                fail(describe(commands[i]), error_text(replies[i].get()));
            }
        }
        return replies;
    }

    /// As `pipeline`, but error replies are returned, not thrown (only an I/O error throws, or a
    /// `post`ed command's error reply, read first): for a pipeline that carries several callers'
    /// commands.
    std::vector<redis_reply> exchange(const std::vector<redis_command>& commands) {
        ensure_connected();
        return exchange_connected(commands);
    }

    /// As `exchange`, right after `ensure_connected()` (the round trip alone, e.g. to time it).
    /// The replies `post` left unread are read first, in the same round trip: `commands` are
    /// written before them. When one of those is an error, it throws after `commands` ran, and the
    /// connection is dropped (their replies unread).
    std::vector<redis_reply> exchange_connected(const std::vector<redis_command>& commands) {
        for (const auto& cmd : commands) append(cmd);
        if (!posted_ends_.empty()) {
            try {
                settle();
            } catch (const redis_error&) {
                close();
                throw;
            }
        }
        std::vector<redis_reply> replies;
        replies.reserve(commands.size());
        sigpipe_guard guard;
        for (const auto& cmd : commands) {
            replies.push_back(next_reply());
            if (!replies.back()) io_failure(describe(cmd));
        }
        return replies;
    }

    /// Writes a command now and reads its reply later, at `settle()` or with the next exchange's:
    /// a command whose outcome can wait (an acknowledgement), sent without waiting a round trip
    /// for it. At most `max_posted` replies are left unread. Throws redis_error on an
    /// I/O error (dropping the connection), or when it settles and a reply was an error.
    void post(const redis_command& cmd) {
        if (posted_ends_.size() >= max_posted) settle();
        send(cmd);
        describe_to(posted_names_, cmd);
        posted_ends_.push_back(posted_names_.size());
    }

    /// Reads the replies `post` left unread. Throws redis_error on an I/O error (dropping the
    /// connection), or, after reading them all, when one of them was an error.
    void settle() {
        const std::size_t owed = posted_ends_.size();
        if (owed == 0) return;
        sigpipe_guard guard;
        std::string refused;  // the first command whose reply is an error, and that error
        std::string reason;
        for (std::size_t i = 0; i < owed; ++i) {
            const redis_reply reply = next_reply();
            if (!reply) io_failure(posted_name(i));
            if (reply->type == REDIS_REPLY_ERROR && refused.empty()) {
                refused = posted_name(i);
                reason = error_text(reply.get());
            }
        }
        posted_names_.clear();
        posted_ends_.clear();
        if (!refused.empty()) fail(refused, reason);
    }

    /// Sends a command without waiting for its reply (e.g. SUBSCRIBE, whose replies are read
    /// with `read_reply`).
    void send(const redis_command& cmd) {
        ensure_connected();
        append(cmd);
        sigpipe_guard guard;
        for (int done = 0; !done;) {
            if (redisBufferWrite(context_.get(), &done) != REDIS_OK) io_failure(describe(cmd));
        }
    }

    /// The next reply the server pushes, or nullptr when none arrives within `wait`. Throws
    /// redis_error (dropping the connection) when the connection fails.
    redis_reply read_reply(std::chrono::milliseconds wait, const char* what) {
        for (;;) {
            void* raw = nullptr;
            if (redisGetReplyFromReader(context_.get(), &raw) != REDIS_OK) io_failure(what);
            if (raw) return redis_reply(static_cast<redisReply*>(raw));
            pollfd p{context_->fd, POLLIN, 0};
            const int ready = ::poll(&p, 1, static_cast<int>(wait.count()));
            if (ready == 0) return nullptr;
            if (ready < 0 && errno == EINTR) continue;
            if (ready < 0 || redisBufferRead(context_.get()) != REDIS_OK) io_failure(what);
        }
    }

private:
    // Queues `cmd` in hiredis's output buffer; nothing is written yet. The command is written in
    // RESP (an array of bulk strings: the bytes redisFormatCommandArgv writes) into a buffer kept
    // from one command to the next, and handed over formatted: hiredis's own formatting (a
    // printf-like pass and an allocation per command) cost a batch of XADDs a third of its client
    // instructions.
    void append(const redis_command& cmd) {
        std::size_t most = count_room;
        for (auto arg : cmd) most += count_room + arg.size() + 2;
        if (resp_.size() < most) resp_.resize(most);  // grows only: written over, not filled again
        char* const begin = resp_.data();
        char* out = write_count(begin, '*', cmd.size());
        for (auto arg : cmd) {
            out = write_count(out, '$', arg.size());
            if (!arg.empty()) std::memcpy(out, arg.data(), arg.size());
            out += arg.size();
            *out++ = '\r', *out++ = '\n';
        }
        const int appended = redisAppendFormattedCommand(context_.get(), begin, static_cast<std::size_t>(out - begin));
        if (resp_.size() > kept_resp) std::string().swap(resp_);  // a large command's room is not kept
        if (appended != REDIS_OK) io_failure(describe(cmd));
    }

    // The room of a count in RESP: '*' or '$', a 64-bit count, "\r\n".
    static constexpr std::size_t count_room = 1 + 20 + 2;
    // The most room append() keeps between commands (an XADD of a large event takes more).
    static constexpr std::size_t kept_resp = std::size_t{64} << 10;

    // Writes `mark`, `n` and "\r\n" at `out` (count_room bytes at most); returns their end.
    static char* write_count(char* out, char mark, std::size_t n) noexcept {
        *out++ = mark;
        out = std::to_chars(out, out + 20, n).ptr;
        *out++ = '\r', *out++ = '\n';
        return out;
    }

    // The next reply, or nullptr when it could not be read (the caller's io_failure says why).
    redis_reply next_reply() noexcept {
        void* raw = nullptr;
        if (redisGetReply(context_.get(), &raw) != REDIS_OK) return nullptr;
        return redis_reply(static_cast<redisReply*>(raw));
    }

    // The name of the i-th command whose reply is owed.
    std::string_view posted_name(std::size_t i) const noexcept {
        const std::size_t begin = i == 0 ? 0 : posted_ends_[i - 1];
        return std::string_view(posted_names_).substr(begin, posted_ends_[i] - begin);
    }

    // A request/response socket has no bytes to read between commands, but the replies to those
    // posted: if it is readable with none owed, the server has closed it (or reset it).
    bool stale() const noexcept {
        if (context_->err != 0) return true;
        pollfd p{context_->fd, POLLIN, 0};
        return posted_ends_.empty() && ::poll(&p, 1, 0) != 0;
    }

    [[noreturn]] void io_failure(std::string_view what) {
        const std::string name(what);  // `what` may be a posted command's name, which closing clears
        const std::string reason = context_ && context_->err ? context_->errstr : "connection lost";
        close();
        fail(name, reason);
    }

    [[noreturn]] void fail(std::string_view what, std::string_view reason) const {
        throw command_error(endpoint_, what, reason);
    }

    redis_endpoint endpoint_;
    std::chrono::milliseconds io_timeout_;
    std::chrono::milliseconds connect_timeout_;
    std::chrono::milliseconds read_timeout_;
    std::unique_ptr<redisContext, context_deleter> context_;
    std::string resp_;                  // append's command in RESP: its room kept (up to kept_resp) for the next
    std::string posted_names_;          // the commands whose replies are owed, for messages: their
    std::vector<std::size_t> posted_ends_;  // names end to end, and where each one ends
};

}  // namespace beacon::redis::detail
