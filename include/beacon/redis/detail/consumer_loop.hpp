#pragma once
/// \file
/// Internals of the Redis bridge: what the list/channel consumer and the stream consumer share:
/// the run-once claim, the consuming thread (start, stop, join, the own-thread check), the loop
/// that reconnects with exponential backoff, and failure reports.

#include <beacon/detail/own_thread.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/redis/error.hpp>
#include <beacon/signal.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace beacon::redis::detail {

/// The base of both Redis consumers: runs a consumer's steps until `stop()`, in the caller's
/// thread (`run`) or one of its own (`start`), once. A transport_error out of a step (a
/// redis_error, or the consumer's inbox failing to commit) is reported, the connection closed, and
/// the consumer prepared again after a backoff growing from `backoff_min` to `backoff_max`. A
/// consumer's destructor calls `halt()` first, so that the thread is joined before the consumer's
/// members go.
class consumer_loop {
public:
    consumer_loop(const consumer_loop&) = delete;
    consumer_loop& operator=(const consumer_loop&) = delete;

    /// Consumes in the calling thread until `stop()`. A consumer runs once: throws misuse_error
    /// when it is already running or was started (`run` or `start`), or when it was stopped.
    void run() {
        claim("run()");
        consume();
    }

    /// Runs `run()` in a new thread; throws misuse_error as `run()` does.
    void start() {
        claim("start()");
        thread_ = std::thread([this] { consume(); });
    }

    /// Asks `run()` to return after the message or entry in hand (within `poll_timeout`); returns
    /// at once, and may be called from a receiver, or before `run()` or `start()` (which then throw).
    void stop() noexcept {
        {
            const std::lock_guard lock(stop_mutex_);
            stop_.store(true, std::memory_order_release);
        }
        stop_cv_.notify_all();
    }

    /// Waits for the thread `start` made to finish (call `stop()` first). Throws misuse_error when
    /// called from the thread consuming (a receiver or the failure handler), which cannot wait for itself.
    void join() {
        if (consumer_.is_current()) throw own_thread_error("join()");
        if (thread_.joinable()) thread_.join();
    }

protected:
    /// What a consumer does: (re)connect and set up, handle what one wait brings, drop the
    /// connection; and once stopped, when set, finish (e.g. read the replies it left unread).
    struct steps {
        std::function<void()> prepare;
        std::function<void()> step;
        std::function<void()> close;
        std::function<void()> finish = {};
    };

    /// A loop for the consumer named `name` ("redis::consumer"), whose failures go to `on_failure`
    /// (empty: the process-wide sink), described by `where` ("list beacon.events").
    consumer_loop(std::string name, std::string where, failure_handler on_failure, steps s,
                  std::chrono::milliseconds backoff_min, std::chrono::milliseconds backoff_max)
        : name_(std::move(name)),
          where_(std::move(where)),
          on_failure_(std::move(on_failure)),
          steps_(std::move(s)),
          backoff_min_(backoff_min),
          backoff_max_(backoff_max) {}
    ~consumer_loop() = default;

    /// Stops and joins the thread `start` made (the consumer's destructor calls it first); from
    /// the consuming thread itself (which cannot wait for itself) reports that misuse_error and
    /// calls std::terminate.
    void halt() noexcept {
        stop();
        consumer_.refuse_waiting_for_itself(
            [this] { report_exception(std::make_exception_ptr(own_thread_error("~" + short_name() + "()"))); });
        if (thread_.joinable()) thread_.join();  // from another thread, joining cannot fail
    }

    /// Whether `stop()` was called.
    bool stopping() const noexcept { return stop_.load(std::memory_order_acquire); }

    /// "<name> of <where>", e.g. "redis::consumer of list beacon.events".
    std::string where() const { return name_ + " of " + where_; }

    /// Reports `exception`, raised about the message or entry `about` ("" for none), by `receiver`
    /// ("" when none) on `ev` (null when none).
    void report_exception(std::exception_ptr exception, const std::string& about = {}, std::string receiver = {},
                          const event* ev = nullptr) const noexcept {
        try {
            failure f;
            f.part = part::redis;
            f.where = about.empty() ? where() : where() + ", " + about;
            f.receiver = std::move(receiver);
            f.ev = ev;
            f.exception = std::move(exception);
            report(f, on_failure_);
        } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory while reporting: dropped
        }
    }

    /// Sends `e` to every receiver of `target`, reporting each receiver that threw (its exception
    /// as itself) about `about`; returns whether one threw.
    bool dispatch(signal& target, const event& e, const std::string& about) const {
        bool threw = false;
        for (const auto& failed : target.send_robust(e)) {
            threw = true;
            report_exception(failed.exception, about,
                             "receiver #" + std::to_string(failed.receiver_id) + " (" + failed.receiver_type + ")", &e);
        }
        return threw;
    }

private:
    std::string short_name() const { return name_.substr(name_.rfind(':') + 1); }

    misuse_error own_thread_error(const std::string& call) const {
        return misuse_error(name_ + "::" + call +
                            ": called from the consumer's own thread (a receiver or the failure handler), which "
                            "cannot wait for itself; call stop() there, and join or destroy the consumer from "
                            "another thread");
    }

    // Marks the loop as running; a second run, or one after stop(), is refused.
    void claim(const char* call) {
        if (stopping()) {
            throw misuse_error(name_ + "::" + call + ": the consumer was stopped; a consumer runs once, make a new one");
        }
        if (claimed_.exchange(true)) {
            throw misuse_error(name_ + "::" + call +
                               ": the consumer is already running (run() or start() was called); a consumer runs once");
        }
    }

    // Runs the steps until stop(), reconnecting with backoff.
    void consume() {
        const auto consuming = consumer_.enter();
        auto backoff = backoff_min_;
        bool ready = false;
        while (!stopping()) {
            try {
                if (!ready) {
                    steps_.prepare();
                    ready = true;
                    backoff = backoff_min_;
                }
                steps_.step();
            } catch (const transport_error&) {  // the server, or the inbox's store
                report_exception(std::current_exception());
                steps_.close();
                ready = false;
                std::unique_lock lock(stop_mutex_);
                stop_cv_.wait_for(lock, backoff, [this] { return stopping(); });
                backoff = std::min(backoff * 2, backoff_max_);
            }
        }
        if (!ready || !steps_.finish) return;
        try {
            steps_.finish();
        } catch (const transport_error&) {
            report_exception(std::current_exception());
            steps_.close();
        }
    }

    std::string name_;
    std::string where_;
    failure_handler on_failure_;
    steps steps_;
    std::chrono::milliseconds backoff_min_;
    std::chrono::milliseconds backoff_max_;
    std::atomic<bool> claimed_{false};
    beacon::detail::own_thread consumer_;  // the thread in consume(), while there
    std::atomic<bool> stop_{false};
    std::mutex stop_mutex_;
    std::condition_variable stop_cv_;
    std::thread thread_;
};

}  // namespace beacon::redis::detail
