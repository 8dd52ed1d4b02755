#pragma once
/// \file
/// Internals of the Redis bridge: connections to one server shared by many sending threads, whose
/// concurrent requests are coalesced into pipelines (group commit).

#include <beacon/duration_histogram.hpp>
#include <beacon/redis/detail/connection.hpp>
#include <beacon/redis/error.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::redis::detail {

/// Up to `size` connections to one server, shared by any number of threads. A thread with a
/// request takes an idle connection (or makes one, up to `size`) and becomes its leader: it sends
/// every request queued meanwhile, its own among them, in one pipeline (one round trip),
/// hands each caller its replies, and goes on while its own request is not answered. A thread
/// that finds every connection busy queues its request and waits; a leader sending the queue
/// answers it, or it becomes a leader itself when a connection comes back. Each caller gets
/// exactly its own replies or failure, as with a connection of its own: concurrent senders cost
/// one round trip per pipeline instead of one each.
class redis_pool {
public:
    /// A pool of at most `size` (at least 1) connections to `endpoint`, made on first use;
    /// `io_timeout` bounds connecting, reading and writing. When `round_trips` is not null (it
    /// must outlive the pool), the duration of each pipeline Redis answered is recorded in it.
    redis_pool(redis_endpoint endpoint, std::chrono::milliseconds io_timeout, std::size_t size,
               duration_recorder* round_trips = nullptr)
        : endpoint_(std::move(endpoint)), io_timeout_(io_timeout), size_(size ? size : 1), round_trips_(round_trips) {}
    redis_pool(const redis_pool&) = delete;
    redis_pool& operator=(const redis_pool&) = delete;

    /// The server's endpoint.
    const redis_endpoint& endpoint() const noexcept { return endpoint_; }
    /// The most connections the pool makes.
    std::size_t size() const noexcept { return size_; }

    /// Sends `commands` in order, on one connection, in one pipeline that may carry other
    /// threads' commands too, and returns their replies. Throws redis_error on an I/O error
    /// (which fails every request of that pipeline: each may or may not have reached Redis) or
    /// when one of its own replies is an error (after reading them all).
    std::vector<redis_reply> pipeline(const std::vector<redis_command>& commands) {
        auto replies = exchange(commands);
        for (std::size_t i = 0; i < replies.size(); ++i) {
            if (replies[i]->type == REDIS_REPLY_ERROR) {
                throw command_error(endpoint_, describe(commands[i]), error_text(replies[i].get()));
            }
        }
        return replies;
    }

    /// As `pipeline`, but error replies are returned, not thrown (only an I/O error throws): for
    /// commands that each succeed or fail on their own.
    std::vector<redis_reply> exchange(const std::vector<redis_command>& commands) {
        request own;
        own.commands = &commands;
        std::unique_lock lock(mutex_);
        // cppcheck-suppress danglingLifetime ; a leader pops `own` before setting own.done, and this
        // function returns only once own.done is set, so queue_ never holds it past this frame.
        queue_.push_back(&own);
        while (!own.done) {
            // Lead only while the request is queued: once another leader has taken it, waiting
            // (not spinning with the lock held) lets that leader hand the replies over.
            std::unique_ptr<redis_connection> connection;
            if (own.queued) connection = take_connection();
            if (connection) {
                lead(lock, *connection, own);
                idle_.push_back(std::move(connection));
                if (!queue_.empty()) queue_.front()->wake.notify_one();  // its caller may lead now
            } else {
                own.wake.wait(lock);
            }
        }
        lock.unlock();
        if (!own.failure.empty()) throw redis_error(own.failure.substr(error_prefix.size()));
        if (own.other_failure) std::rethrow_exception(own.other_failure);
        return std::move(own.replies);
    }

private:
    // One caller's commands, and what became of them; lives on the caller's stack, which waits.
    struct request {
        const std::vector<redis_command>* commands = nullptr;
        std::vector<redis_reply> replies;
        // What failed its round: a redis_error's message, for the caller to throw an exception of its
        // own. One exception object shared by several threads is freed by the last to drop it,
        // which ThreadSanitizer cannot see ordered after the others' reads (the count lives in the
        // uninstrumented libstdc++).
        std::string failure;
        std::exception_ptr other_failure;  // anything else (out of memory)
        bool queued = true;  // false once a leader has taken it into a pipeline
        bool done = false;
        std::condition_variable wake;
    };

    // What redis_error's constructor puts before the details.
    static constexpr std::string_view error_prefix = "[beacon.redis_error] ";

    // A pipeline carries whole requests, and more than one only up to this many commands.
    static constexpr std::size_t max_pipeline = 1024;

    std::unique_ptr<redis_connection> take_connection() {
        if (!idle_.empty()) {
            auto connection = std::move(idle_.back());
            idle_.pop_back();
            return connection;
        }
        if (made_ == size_) return nullptr;
        ++made_;
        return std::make_unique<redis_connection>(endpoint_, io_timeout_);
    }

    // Sends queued requests on `connection`, a pipeline at a time, until `own` is answered or the
    // queue is empty (`own` then being in another leader's pipeline). Called and returns locked.
    void lead(std::unique_lock<std::mutex>& lock, redis_connection& connection, const request& own) {
        std::vector<request*> round;
        std::vector<redis_command> commands;
        while (!own.done && !queue_.empty()) {
            round.clear();
            commands.clear();
            std::size_t count = 0;
            while (!queue_.empty() && (round.empty() || count + queue_.front()->commands->size() <= max_pipeline)) {
                count += queue_.front()->commands->size();
                round.push_back(queue_.front());
                round.back()->queued = false;
                queue_.pop_front();
            }
            if (round.size() > 1) {
                for (const request* r : round) commands.insert(commands.end(), r->commands->begin(), r->commands->end());
            }
            lock.unlock();
            // A lone request's commands are sent as they are, not copied.
            const std::vector<redis_command>& sent = round.size() == 1 ? *round.front()->commands : commands;
            std::vector<redis_reply> replies;
            std::string failure;
            std::exception_ptr other_failure;
            try {
                if (round_trips_) {
                    connection.ensure_connected();  // connecting is no part of the round trip
                    const auto start = std::chrono::steady_clock::now();
                    replies = connection.exchange_connected(sent);
                    round_trips_->record(std::chrono::steady_clock::now() - start);
                } else {
                    replies = connection.exchange(sent);
                }
            } catch (const redis_error& e) {
                failure = e.what();  // never empty: it starts with error_prefix
            } catch (...) {
                other_failure = std::current_exception();
            }
            lock.lock();
            auto next = replies.begin();
            for (request* r : round) {
                if (!failure.empty() || other_failure) {
                    r->failure = failure;
                    r->other_failure = other_failure;
                } else {
                    const auto n = static_cast<std::ptrdiff_t>(r->commands->size());
                    r->replies.assign(std::make_move_iterator(next), std::make_move_iterator(next + n));
                    next += n;
                }
                r->done = true;
                r->wake.notify_one();  // under the lock: its caller cannot return (and free it) before
            }
        }
    }

    redis_endpoint endpoint_;
    std::chrono::milliseconds io_timeout_;
    std::size_t size_;
    duration_recorder* round_trips_;
    std::mutex mutex_;
    std::deque<request*> queue_;
    std::vector<std::unique_ptr<redis_connection>> idle_;
    std::size_t made_ = 0;
};

}  // namespace beacon::redis::detail
