#pragma once
/// \file
/// Asynchronous delivery: an adapter that runs a receiver, a configured listener or a hub consumer
/// on worker threads behind a bounded queue, in send order per key, with a back-pressure policy,
/// drain, counters, and failures reported as beacon::failure (part::async).

#include <beacon/detail/slot.hpp>
#include <beacon/detail/spin.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/hub.hpp>

#include <boost/core/demangle.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace beacon {

/// What an asynchronous receiver does with an event sent while its queue is full.
enum class full_policy {
    block,        ///< The sender waits for room, up to `async_options::block_timeout`; then the event is dropped.
    drop_newest,  ///< The event being sent is dropped.
    drop_oldest,  ///< The oldest event still queued is dropped to make room for the new one.
    throw_error,  ///< The send throws async_error (and the event counts as dropped).
};

/// The key events are ordered by: events with equal keys are delivered in send order.
using order_key = std::function<std::string_view(const event&)>;

/// Orders by the event's sender (the default key).
inline std::string_view by_sender(const event& e) noexcept { return e.sender; }

/// Orders by the event's uri (the resource it is about).
inline std::string_view by_uri(const event& e) noexcept { return e.uri; }

/// Deprecated: asynchronous failures are beacon::failure records (part::async).
using async_failure [[deprecated("use beacon::failure")]] = failure;

/// Deprecated: asynchronous failures go to a beacon::failure_handler (`async_options::on_failure`).
using async_error_handler [[deprecated("use beacon::failure_handler")]] = failure_handler;

/// How an asynchronous receiver queues and delivers.
struct async_options {
    /// The most worker threads (and the longest queue) an adapter accepts.
    static constexpr std::size_t max_workers = 256;
    /// The longest queue an adapter accepts.
    static constexpr std::size_t max_queue = 10'000'000;
    /// The longest shutdown timeout an adapter accepts (one hour).
    static constexpr std::chrono::milliseconds max_shutdown_timeout{3'600'000};
    /// The longest spin an adapter accepts (10 ms).
    static constexpr std::chrono::microseconds max_spin{10'000};

    std::size_t workers = 1;      ///< Worker threads (1 to max_workers); with 1, delivery is in global send order.
    std::size_t queue = 10'000;   ///< How many events may wait at once (1 to max_queue).
    full_policy on_full = full_policy::block;       ///< What a send does when the queue is full.
    std::chrono::milliseconds block_timeout{1000};  ///< full_policy::block: the longest a send waits.
    /// The longest the destructor waits for deliveries under way; then it detaches the workers
    /// still delivering, reports one failure and counts them in `async_stats::abandoned`.
    std::chrono::milliseconds shutdown_timeout{5000};
    /// How long an idle worker keeps looking for new events (every 20 us, pausing the core in
    /// between) before it sleeps: a send that finds it looking need not wake it. 0: it sleeps at once.
    std::chrono::microseconds spin{100};
    order_key order_by = by_sender;                 ///< The key of per-key order (empty: by_sender).
    std::string name;                               ///< Names the receiver in failures and errors.
    failure_handler on_failure;  ///< Gets what receivers throw, as a beacon::failure (empty: the process-wide sink).
};

/// An asynchronous receiver's counters, read together.
struct async_stats {
    std::uint64_t queued = 0;      ///< Events waiting in the queue now.
    std::uint64_t active = 0;      ///< Events a worker has taken and not delivered yet (at most 32 per worker).
    std::uint64_t delivered = 0;   ///< Events whose receiver returned.
    std::uint64_t failed = 0;      ///< Events whose receiver threw (each reported as a failure).
    std::uint64_t dropped = 0;     ///< Events lost: refused or evicted when full, or discarded at shutdown.
    std::uint64_t high_water = 0;  ///< The most events that ever waited at once.
    std::uint64_t abandoned = 0;   ///< Workers detached at shutdown, their delivery still under way after `shutdown_timeout`.
};

namespace detail {

// The queue and its workers' shared state: per-key lanes (a key always maps to the same lane, so
// its events stay in send order), a FIFO of lanes ready for a worker, and the counters. Shared
// by the adapter, its workers and the receivers connected to signals, so that each may outlive
// the others.
class async_queue {
public:
    using deliver_fn = std::function<void(const event&)>;

    async_queue(deliver_fn deliver, async_options options, std::string type, beacon::part reporter)
        : deliver_(std::move(deliver)),
          options_(std::move(options)),
          type_(std::move(type)),
          reporter_(reporter),
          lanes_(options_.workers == 1 ? 1 : 16 * options_.workers),
          exited_(options_.workers, false) {
        if (!options_.order_by) options_.order_by = by_sender;
        if (options_.name.empty()) options_.name = type_;
    }

    const async_options& options() const noexcept { return options_; }

    // The sender's side: queues `e` in its key's lane, or applies the policy when full.
    void push(std::shared_ptr<const event> e) {
        const std::size_t lane_index = lanes_.size() == 1 ? 0 : std::hash<std::string_view>()(options_.order_by(*e)) % lanes_.size();
        std::unique_lock lock(mutex_, std::defer_lock);
        lock_soon(lock);
        if (closed_) {
            ++dropped_;
            return;
        }
        if (depth_ >= options_.queue && !make_room(lock, *e)) return;
        lane& l = lanes_[lane_index];
        l.items.push_back({next_seq_++, std::move(e)});
        high_water_ = std::max(high_water_, ++depth_);
        if (!l.busy && !l.ready) {
            make_ready(l, lane_index);
            if (waiting_workers_ != 0) {
                lock.unlock();
                work_.notify_one();
            }
        }
    }

    // The most events a worker takes from a lane at once (one lock for all of them).
    static constexpr std::size_t batch_size = 32;

    // Worker `index`: takes the first events of the next ready lane, delivers them, until closed.
    void run(std::size_t index) {
        std::vector<item> batch;
        batch.reserve(batch_size);
        std::unique_lock lock(mutex_);
        bool watched = false;
        for (;;) {
            if (ready_.empty() && !closed_ && !watched && options_.spin.count() != 0) {
                watched = true;
                watch_for_work(lock);
                continue;
            }
            watched = false;
            ++waiting_workers_;
            work_.wait(lock, [&] { return closed_ || !ready_.empty(); });
            --waiting_workers_;
            if (closed_) {
                exited_[index] = true;
                ++exited_count_;
                exit_.notify_all();
                return;
            }
            const std::size_t lane_index = ready_.front();
            ready_.pop_front();
            lane& l = lanes_[lane_index];
            l.ready = false;
            if (l.items.empty()) continue;  // drop_oldest emptied it
            const std::size_t taken = std::min(batch_size, l.items.size());
            std::move(l.items.begin(), l.items.begin() + static_cast<std::ptrdiff_t>(taken), std::back_inserter(batch));
            l.items.erase(l.items.begin(), l.items.begin() + static_cast<std::ptrdiff_t>(taken));
            depth_ -= taken;
            active_ += taken;
            l.busy = true;
            if (blocked_senders_ != 0) space_.notify_all();
            lock.unlock();
            std::uint64_t ok = 0, failed = 0, skipped = 0;
            for (const auto& next : batch) {
                if (closing_.load(std::memory_order_relaxed)) ++skipped;  // closed meanwhile: dropped
                else ++(deliver(*next.ev) ? ok : failed);
            }
            batch.clear();  // the events are freed before relocking
            lock_soon(lock);
            active_ -= taken;
            delivered_ += ok;
            failed_ += failed;
            dropped_ += skipped;
            l.busy = false;
            if (!l.items.empty() && !closed_) {
                make_ready(l, lane_index);  // behind the other ready lanes: keys take turns
                if (ready_.size() > 1 && waiting_workers_ != 0) work_.notify_one();
            }
            if (depth_ == 0 && active_ == 0) idle_.notify_all();
        }
    }

    // Waits until nothing is queued or being delivered, or until `deadline`; true when idle.
    bool wait_idle(std::chrono::steady_clock::time_point deadline) {
        std::unique_lock lock(mutex_);
        return idle_.wait_until(lock, deadline, [&] { return depth_ == 0 && active_ == 0; });
    }

    // Stops accepting events, drops (and counts) what is queued, wakes everyone; the deliveries
    // under way finish.
    void close() {
        std::vector<std::deque<item>> discarded;
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            closing_.store(true, std::memory_order_relaxed);
            dropped_ += depth_;
            depth_ = 0;
            ready_.clear();
            for (auto& l : lanes_) discarded.push_back(std::move(l.items));
        }
        work_.notify_all();
        space_.notify_all();
        idle_.notify_all();
    }

    // Once closed: waits until the first `started` workers but `own` (the caller's, or npos) have
    // returned, or until `deadline`; returns which workers have returned.
    std::vector<bool> wait_exited(std::size_t started, std::size_t own, std::chrono::steady_clock::time_point deadline) {
        const std::size_t expected = own < started ? started - 1 : started;
        std::unique_lock lock(mutex_);
        exit_.wait_until(lock, deadline, [&] { return exited_count_ >= expected; });
        return exited_;
    }

    // Counts `workers` detached while still delivering and reports it, once, as a failure.
    void abandon(std::size_t workers) noexcept {
        {
            std::lock_guard lock(mutex_);
            abandoned_ += workers;
        }
        try {
            throw async_error("async receiver \"" + options_.name + "\": " + std::to_string(workers) +
                              (workers == 1 ? " worker was" : " workers were") + " still delivering after shutdown_timeout (" +
                              std::to_string(options_.shutdown_timeout.count()) + " ms); detached, its receiver left running");
        } catch (...) {
            report({reporter_, options_.name, type_, nullptr, std::current_exception()}, options_.on_failure);
        }
    }

    // Frees the receiver once no worker can call it any more (all joined), outside the lock: its
    // destructor may send to this very queue.
    void release_receiver() {
        deliver_fn released;
        std::lock_guard lock(mutex_);
        released.swap(deliver_);
    }

    async_stats stats() const {
        std::lock_guard lock(mutex_);
        return {depth_, active_, delivered_, failed_, dropped_, high_water_, abandoned_};
    }

private:
    struct item {
        std::uint64_t seq;
        std::shared_ptr<const event> ev;
    };
    struct lane {
        std::deque<item> items;
        bool busy = false;   // a worker is delivering this lane's previous event
        bool ready = false;  // listed in ready_
    };

    // The queue is full: applies the policy; returns whether there is room for `e` now.
    bool make_room(std::unique_lock<std::mutex>& lock, const event& e) {
        switch (options_.on_full) {
            case full_policy::drop_newest:
                ++dropped_;
                return false;
            case full_policy::throw_error: {
                ++dropped_;
                lock.unlock();
                throw async_error("async receiver \"" + options_.name + "\": the queue is full (" +
                                  std::to_string(options_.queue) + " events); the event from \"" +
                                  e.sender.substr(0, 64) + "\" was not queued");
            }
            case full_policy::drop_oldest: {
                lane* oldest = nullptr;
                for (auto& l : lanes_) {
                    if (!l.items.empty() && (!oldest || l.items.front().seq < oldest->items.front().seq)) oldest = &l;
                }
                item evicted = std::move(oldest->items.front());  // depth_ >= queue >= 1: some lane holds one
                oldest->items.pop_front();
                --depth_;
                ++dropped_;
                return true;  // `evicted` is freed under the lock: rare, and only when full
            }
            case full_policy::block:
                break;
        }
        ++blocked_senders_;
        const bool room = space_.wait_for(lock, options_.block_timeout, [&] { return closed_ || depth_ < options_.queue; });
        --blocked_senders_;
        if (room && !closed_) return true;
        ++dropped_;
        return false;
    }

    // Lists lane `l` as ready for a worker (the lock held).
    void make_ready(lane& l, std::size_t lane_index) {
        l.ready = true;
        ready_.push_back(lane_index);
        readied_.store(readied_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // written under the lock only
    }

    // Before a worker sleeps, it looks for a ready lane every `look` for `async_options::spin`,
    // without the lock, pausing the core in between; one worker at a time. A sender that finds it
    // awake need not wake it (a futex call, microseconds), and what arrives meanwhile is taken in
    // batches. Looking more often makes the worker and the sender pass the queue's cache lines back
    // and forth at every event.
    void watch_for_work(std::unique_lock<std::mutex>& lock) {
        constexpr auto look = std::chrono::microseconds(20);
        if (watching_) return;
        watching_ = true;
        const std::uint64_t seen = readied_.load(std::memory_order_relaxed);
        lock.unlock();
        const auto start = std::chrono::steady_clock::now();
        auto next_look = start + look;
        for (;;) {
            for (int i = 0; i < 16; ++i) cpu_pause();
            const auto now = std::chrono::steady_clock::now();
            if (now < next_look) continue;
            if (readied_.load(std::memory_order_relaxed) != seen || closing_.load(std::memory_order_relaxed) ||
                now - start >= options_.spin) {
                break;
            }
            next_look = now + look;
        }
        lock.lock();
        watching_ = false;
    }

    // Calls the receiver; what it throws is reported as a failure. Returns whether it returned.
    bool deliver(const event& e) noexcept {
        const detail::frame_guard handling(&e.trace, &e.id);  // as in the sending thread (see signal)
        try {
            deliver_(e);
            return true;
        } catch (...) {
            report({reporter_, options_.name, type_, &e, std::current_exception()}, options_.on_failure);
            return false;
        }
    }

    deliver_fn deliver_;
    async_options options_;
    std::string type_;
    beacon::part reporter_;
    mutable std::mutex mutex_;
    std::condition_variable work_;   // workers wait for a ready lane
    std::condition_variable space_;  // blocked senders wait for room
    std::condition_variable idle_;   // drain waits for an empty queue
    std::condition_variable exit_;   // the destructor waits for the workers to return
    std::vector<lane> lanes_;
    std::deque<std::size_t> ready_;  // lanes with events and no worker, in the order they became ready
    bool closed_ = false;
    std::atomic<bool> closing_{false};  // closed_, read by workers between the events of a batch
    alignas(64) std::atomic<std::uint64_t> readied_{0};  // lanes made ready so far, read by watching workers
    std::size_t waiting_workers_ = 0;
    std::size_t blocked_senders_ = 0;
    bool watching_ = false;  // a worker is in watch_for_work
    std::uint64_t next_seq_ = 0;
    std::uint64_t depth_ = 0;
    std::uint64_t active_ = 0;
    std::uint64_t delivered_ = 0;
    std::uint64_t failed_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t high_water_ = 0;
    std::uint64_t abandoned_ = 0;
    std::vector<bool> exited_;  // per worker: returned from run()
    std::size_t exited_count_ = 0;
};

// A shared copy of `e` for the queue; an event too deep to copy safely is an encode_error first.
inline std::shared_ptr<const event> shared_copy(const event& e) {
    check_depth(e);
    return std::make_shared<const event>(e);
}

// Throws config_error (on `alias` and the key `key_of(option)`) for options out of bounds.
template <class KeyOf>
void check_async_options(const async_options& o, const std::string& alias, KeyOf&& key_of) {
    if (o.workers < 1 || o.workers > async_options::max_workers) {
        throw config_error(alias, key_of("workers"),
                           "expected 1 to " + std::to_string(async_options::max_workers) + " workers, got " + std::to_string(o.workers));
    }
    if (o.queue < 1 || o.queue > async_options::max_queue) {
        throw config_error(alias, key_of("queue"),
                           "expected a queue of 1 to " + std::to_string(async_options::max_queue) + " events, got " + std::to_string(o.queue));
    }
    if (o.block_timeout.count() < 0) {
        throw config_error(alias, key_of("block_timeout"), "expected a non-negative block timeout");
    }
    if (o.spin.count() < 0 || o.spin > async_options::max_spin) {
        throw config_error(alias, key_of("spin"),
                           "expected a spin of 0 to " + std::to_string(async_options::max_spin.count()) + " us, got " +
                               std::to_string(o.spin.count()));
    }
    if (o.shutdown_timeout.count() < 0 || o.shutdown_timeout > async_options::max_shutdown_timeout) {
        throw config_error(alias, key_of("shutdown_timeout"),
                           "expected a shutdown timeout of 0 to " + std::to_string(async_options::max_shutdown_timeout.count()) +
                               " ms, got " + std::to_string(o.shutdown_timeout.count()));
    }
}

}  // namespace detail

/// What `async_receiver::receiver()` returns: a copyable receiver that queues each event it gets.
class async_entry : public detail::sharing_receiver {
public:
    /// Queues a copy of `e` (applying the full-queue policy); after the adapter is gone, drops it.
    void operator()(const event& e) const { queue_->push(detail::shared_copy(e)); }

    /// Queues `e`, shared rather than copied (the event must not change afterwards).
    void operator()(std::shared_ptr<const event> e) const {
        if (e) queue_->push(std::move(e));
    }

    /// The counters of the adapter this receiver feeds; still readable once the adapter is gone.
    async_stats stats() const { return queue_->stats(); }

private:
    friend class async_receiver;
    explicit async_entry(std::shared_ptr<detail::async_queue> queue) noexcept : queue_(std::move(queue)) {}
    std::shared_ptr<detail::async_queue> queue_;
};

/// Runs a receiver on worker threads: connect `receiver()` to signals (or call it) and each event
/// is shared into a bounded queue (sent as a shared_ptr: that event; else one copy per send, shared
/// by every receiver that keeps it); the send returns and a worker delivers it. Events with equal
/// keys (`async_options::order_by`) are delivered one at a time, in send order; events with
/// different keys may be delivered concurrently and in any order (with one worker: in send order).
///
/// Destroying it without `drain` drops what is still queued (counted in `dropped`), waits for the
/// deliveries under way (at most one per worker) up to `async_options::shutdown_timeout`, and joins
/// the workers; a worker whose delivery is still under way then is detached (it keeps the queue
/// and the receiver alive until its delivery returns), counted in `abandoned` and reported as one
/// failure. Receivers connected elsewhere stay valid and count what they get afterwards as dropped.
class async_receiver {
public:
    /// Starts `options.workers` threads delivering to `receiver` (callable with `const event&`).
    /// Throws config_error (alias `options.name`) for a worker count, queue size or timeout out of bounds.
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, async_receiver>>>
    explicit async_receiver(F&& receiver, async_options options = {})
        : async_receiver(wrap(std::forward<F>(receiver)), std::move(options),
                         boost::core::demangle(typeid(std::decay_t<F>).name())) {}

    /// A receiver whose failures name it `type` and come from part `reporter` (for adapters such
    /// as async_consumer and configured listeners). Throws misuse_error for an empty receiver.
    async_receiver(detail::async_queue::deliver_fn receiver, async_options options, std::string type,
                   beacon::part reporter = beacon::part::async) {
        detail::check_async_options(options, options.name, [](std::string_view key) { return "/" + std::string(key); });
        if (!receiver) throw misuse_error("async_receiver \"" + options.name + "\": empty receiver");
        queue_ = std::make_shared<detail::async_queue>(std::move(receiver), std::move(options), std::move(type), reporter);
        try {
            for (std::size_t i = 0; i < queue_->options().workers; ++i) {
                workers_.emplace_back([queue = queue_, i] { queue->run(i); });
            }
        } catch (...) {
            shut_down();
            throw;
        }
    }

    async_receiver(const async_receiver&) = delete;
    async_receiver& operator=(const async_receiver&) = delete;

    /// Drops what is queued (counted), waits for the deliveries under way (up to `shutdown_timeout`:
    /// then detaches the stuck workers, counts and reports them), joins the workers. From one of its
    /// own workers (a receiver destroying its adapter), that worker is detached instead.
    ~async_receiver() { shut_down(); }

    /// The receiver to connect to signals (or to call): queues each event (see async_entry).
    async_entry receiver() const noexcept { return async_entry(queue_); }

    /// Queues a copy of `e`, as `receiver()` does.
    void operator()(const event& e) const { queue_->push(detail::shared_copy(e)); }

    /// Queues `e`, shared rather than copied (the event must not change afterwards).
    void operator()(std::shared_ptr<const event> e) const {
        if (e) queue_->push(std::move(e));
    }

    /// Waits until everything queued, including events sent meanwhile, is delivered, or until
    /// `deadline`; returns whether the queue is empty and idle. Throws misuse_error when called from
    /// one of its own workers (which would wait for itself).
    bool drain(std::chrono::steady_clock::time_point deadline) {
        for (const auto& w : workers_) {
            if (w.get_id() == std::this_thread::get_id()) {
                throw misuse_error("async receiver \"" + queue_->options().name + "\": drain() called from its own worker");
            }
        }
        return queue_->wait_idle(deadline);
    }

    /// Drains for at most `timeout` (see the deadline overload).
    template <class Rep, class Period>
    bool drain(std::chrono::duration<Rep, Period> timeout) {
        return drain(std::chrono::steady_clock::now() + timeout);
    }

    /// The counters, read together.
    async_stats stats() const { return queue_->stats(); }

    /// The options in force (the name filled in, the defaults for empty functions).
    const async_options& options() const noexcept { return queue_->options(); }

private:
    template <class F>
    static detail::async_queue::deliver_fn wrap(F&& receiver) {
        static_assert(std::is_invocable_v<std::decay_t<F>&, const event&>,
                      "beacon::async_receiver: the receiver must be callable with (const beacon::event&)");
        return detail::async_queue::deliver_fn(std::forward<F>(receiver));
    }

    void shut_down() noexcept {
        queue_->close();
        constexpr std::size_t none = static_cast<std::size_t>(-1);
        std::size_t own = none;
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            if (workers_[i].get_id() == std::this_thread::get_id()) own = i;
        }
        const auto exited = queue_->wait_exited(workers_.size(), own,
                                                std::chrono::steady_clock::now() + queue_->options().shutdown_timeout);
        std::size_t stuck = 0;
        for (std::size_t i = 0; i < workers_.size(); ++i) {
            if (i == own || !exited[i]) {
                workers_[i].detach();  // it holds the queue and returns once its delivery does
                stuck += i == own ? 0 : 1;
            } else {
                workers_[i].join();
            }
        }
        if (stuck != 0) queue_->abandon(stuck);
        if (own == none && stuck == 0) queue_->release_receiver();
    }

    std::shared_ptr<detail::async_queue> queue_;
    std::vector<std::thread> workers_;
};

/// A hub consumer that runs another consumer's hooks (before_consume, consume, after_consume) on
/// worker threads: `consume` queues the event and returns. What the hooks throw is reported as a
/// failure of part::hub (`where`: the options' name; `receiver`: the wrapped consumer's type).
class async_consumer : public consumer {
public:
    /// Wraps `inner` with `options`; throws misuse_error for a null `inner`, config_error for bad options.
    explicit async_consumer(std::shared_ptr<consumer> inner, async_options options = {})
        : inner_(checked(std::move(inner))),
          async_(
              [c = inner_](const event& e) {
                  c->before_consume(e);
                  c->consume(e);
                  c->after_consume(e);
              },
              std::move(options), type_of(*inner_), beacon::part::hub) {}

    /// Queues `e` for the wrapped consumer.
    void consume(const event& e) override { async_(e); }

    /// The wrapped consumer.
    const std::shared_ptr<consumer>& inner() const noexcept { return inner_; }

    /// Waits until everything queued is consumed, or until `deadline` (see async_receiver::drain).
    bool drain(std::chrono::steady_clock::time_point deadline) { return async_.drain(deadline); }

    /// Drains for at most `timeout`.
    template <class Rep, class Period>
    bool drain(std::chrono::duration<Rep, Period> timeout) {
        return async_.drain(timeout);
    }

    /// The counters, read together.
    async_stats stats() const { return async_.stats(); }

private:
    static std::string type_of(const consumer& c) { return boost::core::demangle(typeid(c).name()); }

    static std::shared_ptr<consumer> checked(std::shared_ptr<consumer> c) {
        if (!c) throw misuse_error("async_consumer: null consumer");
        return c;
    }

    std::shared_ptr<consumer> inner_;
    async_receiver async_;
};

}  // namespace beacon
