#pragma once
/// \file
/// Internals: what the outbox relays of the database parts (SQLite, PostgreSQL) share: the
/// publishing thread (start, stop, join), the wait when the outbox is drained, the capped
/// exponential backoff with jitter after a failure, the counters and the failure reports: what
/// both implement of beacon::relay alike.

#include <beacon/detail/own_thread.hpp>
#include <beacon/error.hpp>
#include <beacon/failure.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>

namespace beacon::detail {

/// The base of both relays: calls the relay's `run_once` in a thread of its own until `stop()`.
/// After a batch smaller than `batch` (the outbox drained, or held by another relay) it waits
/// `poll_interval`; after a failure (reported) a wait that doubles from `backoff_min` up to
/// `backoff_max`, each drawn at random between half and all of it. A relay's destructor calls
/// `halt()` first, so that the thread is joined before the relay's members go.
class relay_loop {
public:
    relay_loop(const relay_loop&) = delete;
    relay_loop& operator=(const relay_loop&) = delete;

    /// Publishes in a new thread until `stop()`. Throws misuse_error when the relay already runs.
    void start() {
        if (thread_.joinable()) throw misuse_error(name_ + "::start: the relay is already running");
        thread_ = std::thread([this] { run(); });
    }

    /// Asks the thread to return after the batch in hand; returns at once.
    void stop() noexcept {
        {
            const std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
    }

protected:
    /// How the loop paces itself (the relay's options).
    struct pacing {
        std::size_t batch;
        std::chrono::milliseconds poll_interval;
        std::chrono::milliseconds backoff_min;
        std::chrono::milliseconds backoff_max;
    };

    /// A loop for the relay named `name` ("sqlite::relay") calling `run_once` (how many rows it
    /// took; throws on failure); failures are beacon::failure records of `reporter` whose `where`
    /// is "<where>, <about>", given to `on_failure` (the process-wide sink when empty).
    relay_loop(std::string name, part reporter, failure_handler on_failure, pacing p, std::function<std::size_t()> run_once)
        : name_(std::move(name)),
          part_(reporter),
          on_failure_(std::move(on_failure)),
          pacing_(p),
          run_once_(std::move(run_once)),
          random_(std::random_device{}()) {
        if (pacing_.batch == 0) pacing_.batch = 1;
    }
    ~relay_loop() = default;

    /// Stops and joins the thread (the relay's destructor calls it first); from the relay's own
    /// thread (its publisher), which cannot wait for itself, reports that misuse_error and calls
    /// std::terminate, as a consumer does.
    void halt() noexcept {
        stop();
        publisher_.refuse_waiting_for_itself([this] {
            report(std::make_exception_ptr(misuse_error(
                       name_ + "::~relay(): called from the relay's own thread (its publisher), which cannot "
                               "wait for itself; call stop() there, and destroy the relay from another thread")),
                   "stopping");
        });
        if (thread_.joinable()) thread_.join();  // from another thread, joining cannot fail
    }

    /// What the relay reports in: "sqlite::relay of <database> table <table>".
    void set_where(std::string where) { where_ = std::move(where); }

    /// Reports `exception` about `about` ("row 12", "publishing").
    void report(std::exception_ptr exception, const std::string& about) const noexcept {
        try {
            failure f;
            f.part = part_;
            f.where = where_ + ", " + about;
            f.exception = std::move(exception);
            beacon::report(f, on_failure_);
        } catch (...) {  // NOLINT(bugprone-empty-catch): out of memory while reporting: dropped
        }
    }

    /// Counts the outbox's rows and the creation time of the oldest (ms since the epoch; 0 when
    /// empty) on the relay's connection: the loop calls it at most once a second (pending, oldest_age).
    void set_backlog(std::function<std::pair<std::uint64_t, std::int64_t>()> count) { backlog_ = std::move(count); }

    /// The backlog as last counted: rows waiting, and how long the oldest has waited now.
    std::pair<std::uint64_t, std::chrono::milliseconds> backlog() const noexcept {
        const auto rows = pending_.load(std::memory_order_relaxed);
        const auto oldest = oldest_ms_.load(std::memory_order_relaxed);
        if (rows == 0 || oldest == 0) return {rows, std::chrono::milliseconds(0)};
        const auto now =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
        return {rows, std::max(std::chrono::milliseconds(0), now - std::chrono::milliseconds(oldest))};
    }

    std::atomic<std::uint64_t> published_{0};        ///< Events the publisher accepted.
    std::atomic<std::uint64_t> failures_{0};         ///< Attempts that failed (each retried).
    std::atomic<std::uint64_t> set_aside_count_{0};  ///< Rows moved to the dead table.

private:
    void run() {
        const auto publishing = publisher_.enter();
        auto backoff = pacing_.backoff_min;
        auto next_count = std::chrono::steady_clock::now();
        while (!stopped()) {
            if (backlog_ && std::chrono::steady_clock::now() >= next_count) {
                count_backlog();
                next_count = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            }
            std::size_t taken = 0;
            try {
                taken = run_once_();
                backoff = pacing_.backoff_min;
            } catch (...) {
                failures_.fetch_add(1, std::memory_order_relaxed);
                report(std::current_exception(), "publishing");
                std::uniform_int_distribution<std::int64_t> jitter(backoff.count() / 2, backoff.count());
                wait(std::chrono::milliseconds(jitter(random_)));
                backoff = std::min(backoff * 2, pacing_.backoff_max);
                continue;
            }
            if (taken < pacing_.batch) wait(pacing_.poll_interval);
        }
    }

    // A database that cannot be read now keeps the last count: publishing reports the failure.
    void count_backlog() noexcept {
        try {
            const auto [rows, oldest] = backlog_();
            pending_.store(rows, std::memory_order_relaxed);
            oldest_ms_.store(oldest, std::memory_order_relaxed);
        } catch (...) {  // NOLINT(bugprone-empty-catch): the publishing attempt reports it
        }
    }

    bool stopped() {
        const std::lock_guard lock(mutex_);
        return stopping_;
    }

    void wait(std::chrono::milliseconds how_long) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, how_long, [this] { return stopping_; });
    }

    std::string name_;
    std::string where_;
    part part_;
    failure_handler on_failure_;
    pacing pacing_;
    std::function<std::size_t()> run_once_;
    std::function<std::pair<std::uint64_t, std::int64_t>()> backlog_;
    std::atomic<std::uint64_t> pending_{0};
    std::atomic<std::int64_t> oldest_ms_{0};
    std::mt19937_64 random_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    own_thread publisher_;  // marked by the thread itself, first thing
    std::thread thread_;  // last
};

}  // namespace beacon::detail
