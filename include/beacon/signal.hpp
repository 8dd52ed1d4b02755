#pragma once
/// \file
/// A named signal: receivers for any sender or for one sender, synchronous keyed dispatch.

#include <beacon/connection.hpp>
#include <beacon/detail/origin.hpp>
#include <beacon/detail/send_counters.hpp>
#include <beacon/detail/slot.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <boost/core/demangle.hpp>
#include <boost/signals2/signal.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <unordered_map>
#include <utility>
#include <vector>

namespace beacon {

/// What a signal counted since signal::enable_stats (a snapshot; zeros before).
struct signal_stats {
    std::uint64_t sends = 0;            ///< Sends that reached at least one receiver (sends to nobody cost nothing and are not counted).
    std::uint64_t receiver_calls = 0;   ///< Receivers called by those sends.
    std::uint64_t receiver_errors = 0;  ///< Exceptions receivers threw (a plain send stops at the first).
};

/// Mutes a signal for as long as it lives: sends on a muted signal call nobody and build nothing.
class scoped_mute {
public:
    /// Raises the mute depth `depth` until destruction; mutes nest.
    explicit scoped_mute(std::atomic<int>& depth) noexcept : depth_(&depth) { depth_->fetch_add(1); }
    scoped_mute(const scoped_mute&) = delete;
    scoped_mute& operator=(const scoped_mute&) = delete;
    /// Takes over `other`'s mute.
    scoped_mute(scoped_mute&& other) noexcept : depth_(std::exchange(other.depth_, nullptr)) {}
    scoped_mute& operator=(scoped_mute&&) = delete;
    ~scoped_mute() {
        if (depth_) depth_->fetch_sub(1);
    }

private:
    std::atomic<int>* depth_;
};

class signal;

namespace detail {

/// A signal's meta signals (blinker's `receiver_connected` / `receiver_disconnected`), made on
/// first use; connections tell it of their disconnects.
class signal_meta final : public disconnect_observer {
public:
    explicit signal_meta(std::string full_name) : full_name_(std::move(full_name)) {}
    ~signal_meta() override;

    ::beacon::signal& connected() { return get(connected_, connected_storage_, "receiver_connected"); }
    ::beacon::signal& disconnected() { return get(disconnected_, disconnected_storage_, "receiver_disconnected"); }

    void report_connected(std::uint64_t id, const std::string_view* sender, const std::type_info& type) noexcept;
    void disconnected(std::uint64_t id) noexcept override;

private:
    ::beacon::signal& get(std::atomic<::beacon::signal*>& ready, std::unique_ptr<::beacon::signal>& storage,
                          const char* what);
    void report(std::atomic<::beacon::signal*>& ready, nlohmann::json data) noexcept;

    std::string full_name_;  // "<namespace>/<name>": the sender of the meta signals' events
    std::mutex mutex_;
    std::atomic<::beacon::signal*> connected_{nullptr};
    std::atomic<::beacon::signal*> disconnected_{nullptr};
    std::unique_ptr<::beacon::signal> connected_storage_;
    std::unique_ptr<::beacon::signal> disconnected_storage_;
};

}  // namespace detail

/// A named signal carrying `event`s to receivers, synchronously, in the sending thread.
///
/// Call order: first the receivers connected for any sender, then those bound to the event's
/// sender, each group in connection order. A receiver disconnected or blocked before its turn is
/// skipped; one connected during a send is first called by the next send.
class signal {
public:
    /// A signal called `name` in the namespace called `namespace_name`, whose events' type is
    /// "<namespace_name>.<name>" and whose source is the registry's (`origin`; none: the process's).
    signal(std::string namespace_name, std::string name, std::shared_ptr<detail::event_origin> origin = nullptr)
        : namespace_name_(std::move(namespace_name)),
          name_(std::move(name)),
          type_(namespace_name_ + "." + name_),
          origin_(origin ? std::move(origin) : std::shared_ptr<detail::event_origin>(detail::process_origin())) {}
    signal(const signal&) = delete;
    signal& operator=(const signal&) = delete;

    /// The signal's name inside its namespace.
    const std::string& name() const noexcept { return name_; }
    /// The name of the namespace holding the signal.
    const std::string& namespace_name() const noexcept { return namespace_name_; }
    /// The type its events carry unless they name their own: "<namespace>.<name>".
    const std::string& type() const noexcept { return type_; }

    /// Stamps `e` as a send from this signal does: event::stamp (id, timestamp, trace, cause),
    /// then the signal's type and the registry's source where the event has none. A host stamps an
    /// event itself to know its id before sending it (e.g. to store it first).
    void stamp(event& e) const {
        e.stamp();
        if (e.type.empty()) e.type = type_;
        if (e.source.empty()) e.source = origin_->source();
    }

    /// Whether sending `e` stamps it (on a copy, when `e` is const): its id, timestamp, type or source is unset.
    static bool needs_stamp(const event& e) noexcept {
        return e.id.is_nil() || e.timestamp == 0 || e.type.empty() || e.source.empty();
    }

    /// Connects `receiver` (callable with `const event&`) for every sender.
    template <class F>
    connection connect(F&& receiver) {
        return announce(connect_to(any_signal_, std::forward<F>(receiver), any_, nullptr), nullptr,
                        typeid(std::decay_t<F>));
    }

    /// Connects `receiver` for sends whose event's sender is `sender` only.
    template <class F>
    connection connect(std::string_view sender, F&& receiver) {
        return announce(connect_bound(sender, std::forward<F>(receiver), nullptr), &sender, typeid(std::decay_t<F>));
    }

    /// Refuses `connect(receiver, sender)`: the sender comes first, as in `connect("admin", f)`.
    template <class F, class S, class = std::enable_if_t<detail::is_sender_v<S> && !detail::is_sender_v<F>>>
    connection connect(F&&, S&&) {
        static_assert(detail::always_false<F, S>,
                      "beacon::signal::connect: the sender comes first: write connect(\"sender\", receiver)");
        return {};
    }

    /// Connects `receiver` for every sender while `owner` lives; a member function pointer is
    /// called on `owner`. The receiver is disconnected once `owner` has expired.
    template <class F, class T>
    connection connect(F&& receiver, const std::shared_ptr<T>& owner) {
        return announce(connect_to(any_signal_, bind_owner(std::forward<F>(receiver), owner), any_, owner), nullptr,
                        typeid(std::decay_t<F>));
    }

    /// Connects `receiver` for `sender` only, while `owner` lives (see the tracked overload above).
    template <class F, class T>
    connection connect(std::string_view sender, F&& receiver, const std::shared_ptr<T>& owner) {
        return announce(connect_bound(sender, bind_owner(std::forward<F>(receiver), owner), owner), &sender,
                        typeid(std::decay_t<F>));
    }

    // Three entry points take the same six forms (an event by reference, by value, shared mutable
    // or shared const, a sender with data, a sender with a builder) and share one implementation,
    // `deliver`: they differ only in what they return. Every form stamps an unstamped event (see
    // needs_stamp; a const event on a copy) and builds nothing when the signal is muted or nobody
    // listens.

    /// Sends `e` to the receivers for any sender and those for `e.sender`; returns how many were
    /// called. A receiver's exception propagates and the remaining receivers are not called.
    /// An unstamped event (see needs_stamp) is stamped (on a copy, since `e` is const); an event too deep
    /// to copy safely (see check_depth) then throws encode_error before any receiver is called.
    std::size_t send(const event& e) { return deliver<std::size_t>(e); }
    /// Sends `e`, stamping it in place when it is unstamped (see needs_stamp).
    std::size_t send(event&& e) { return deliver<std::size_t>(std::move(e)); }
    /// Sends `*e` as `send(const event&)` does (nothing when `e` is null), and lets receivers that
    /// keep events (async_receiver) share `e` instead of copying the event: it must not change
    /// after the send. An unstamped event is stamped on a copy (see send(const event&)).
    std::size_t send(std::shared_ptr<const event> e) { return deliver<std::size_t>(std::move(e)); }
    /// Sends `*e` as `send(shared_ptr<const event>)` does, stamping it in place when unstamped: the
    /// receivers that keep events share `e` itself, stamped or not (`std::make_shared<event>(...)`).
    std::size_t send(std::shared_ptr<event> e) { return deliver<std::size_t>(std::move(e)); }
    /// CKAN's `send(sender, **kwargs)`: builds the event only when someone listens for `sender`.
    std::size_t send(std::string_view sender, nlohmann::json data = nlohmann::json::object()) {
        return deliver<std::size_t>(sender, data_builder{sender, data});
    }
    /// Calls `make()` to build the event only when a receiver may want `sender`'s event, then
    /// sends it with its sender set to `sender`. When nobody listens to `sender` it costs a few
    /// atomic loads and a hash of `sender`: no lock, no allocation. A receiver connected while
    /// `make()` runs is not called by this send.
    template <class Make, class = std::enable_if_t<detail::is_event_builder_v<Make>>>
    std::size_t send(std::string_view sender, Make&& make) {
        return deliver<std::size_t>(sender, make);
    }
    /// `send(sender, make)` under its former name.
    template <class Make>
    std::size_t send_lazy(std::string_view sender, Make&& make) {
        static_assert(detail::is_event_builder_v<Make>, "beacon::signal::send_lazy: make() must return a beacon::event");
        return deliver<std::size_t>(sender, make);
    }

    /// Sends `e` to every receiver even when some throw; returns what each thrower threw.
    std::vector<receiver_error> send_robust(const event& e) { return deliver<std::vector<receiver_error>>(e); }
    /// `send_robust` of `e`, stamped in place when unstamped.
    std::vector<receiver_error> send_robust(event&& e) { return deliver<std::vector<receiver_error>>(std::move(e)); }
    /// `send_robust` of `*e`, shared with the receivers that keep events (see send(shared_ptr)).
    std::vector<receiver_error> send_robust(std::shared_ptr<const event> e) {
        return deliver<std::vector<receiver_error>>(std::move(e));
    }
    /// `send_robust` of `*e`, stamped in place when unstamped and shared (see send(shared_ptr<event>)).
    std::vector<receiver_error> send_robust(std::shared_ptr<event> e) {
        return deliver<std::vector<receiver_error>>(std::move(e));
    }
    /// `send_robust` of the event from `sender` carrying `data`, built only when someone listens.
    std::vector<receiver_error> send_robust(std::string_view sender, nlohmann::json data = nlohmann::json::object()) {
        return deliver<std::vector<receiver_error>>(sender, data_builder{sender, data});
    }
    /// `send_robust` of the event `make()` builds, only when someone listens (see send(sender, make)).
    template <class Make, class = std::enable_if_t<detail::is_event_builder_v<Make>>>
    std::vector<receiver_error> send_robust(std::string_view sender, Make&& make) {
        return deliver<std::vector<receiver_error>>(sender, make);
    }

    /// Sends `e` as `send` does and returns, for every receiver called, its id and what it
    /// returned (null for a receiver returning nothing), in call order: blinker's `send`.
    std::vector<receiver_result> send_collect(const event& e) { return deliver<std::vector<receiver_result>>(e); }
    /// `send_collect` of `e`, stamped in place when unstamped.
    std::vector<receiver_result> send_collect(event&& e) { return deliver<std::vector<receiver_result>>(std::move(e)); }
    /// `send_collect` of `*e`, shared with the receivers that keep events (see send(shared_ptr)).
    std::vector<receiver_result> send_collect(std::shared_ptr<const event> e) {
        return deliver<std::vector<receiver_result>>(std::move(e));
    }
    /// `send_collect` of `*e`, stamped in place when unstamped and shared (see send(shared_ptr<event>)).
    std::vector<receiver_result> send_collect(std::shared_ptr<event> e) {
        return deliver<std::vector<receiver_result>>(std::move(e));
    }
    /// `send_collect` of the event from `sender` carrying `data`, built only when someone listens.
    std::vector<receiver_result> send_collect(std::string_view sender, nlohmann::json data = nlohmann::json::object()) {
        return deliver<std::vector<receiver_result>>(sender, data_builder{sender, data});
    }
    /// `send_collect` of the event `make()` builds, only when someone listens (see send(sender, make)).
    template <class Make, class = std::enable_if_t<detail::is_event_builder_v<Make>>>
    std::vector<receiver_result> send_collect(std::string_view sender, Make&& make) {
        return deliver<std::vector<receiver_result>>(sender, make);
    }

    /// Whether a send from `sender` would call a receiver (blocked receivers count).
    bool has_receivers_for(std::string_view sender) const {
        const auto to = targets_for(sender);  // one bucket lookup, as a send makes
        return (to.any && !any_signal_.empty()) || (to.bound && !to.bound->signal.empty());
    }

    /// Whether any receiver is connected, for any sender or bound to one.
    bool has_receivers() const { return receiver_count() != 0; }

    /// How many receivers are connected in all: any-sender and sender-bound ones.
    std::size_t receiver_count() const {
        std::size_t n = any_signal_.num_slots();
        std::shared_lock lock(buckets_mutex_);
        for (const auto& [sender, b] : buckets_) n += b->signal.num_slots();
        return n;
    }

    /// How many receivers a send from `sender` would reach: any-sender plus those bound to it.
    std::size_t receiver_count(std::string_view sender) const {
        const auto b = find_bucket(sender);
        return any_signal_.num_slots() + (b ? b->signal.num_slots() : 0);
    }

    /// How many senders the signal keeps a receiver list for. Lists whose receivers have all gone
    /// (disconnected, out of scope, owner expired) are dropped by sweeps as senders are connected,
    /// so this stays under twice the senders with live receivers, plus 16.
    std::size_t sender_count() const {
        std::shared_lock lock(buckets_mutex_);
        return buckets_.size();
    }

    /// Disconnects every receiver of this signal.
    void disconnect_all() {
        any_signal_.disconnect_all_slots();
        std::shared_lock lock(buckets_mutex_);
        for (const auto& [sender, b] : buckets_) b->signal.disconnect_all_slots();
    }

    /// blinker's `receiver_connected`: sent after each connect, from the connecting thread, with
    /// sender "<namespace>/<name>" and data {"receiver_id", "sender" (null for any sender),
    /// "receiver_type"}. Made on first use; its receivers' exceptions are dropped.
    ::beacon::signal& receiver_connected() { return meta().connected(); }
    /// blinker's `receiver_disconnected`: sent when `connection::disconnect` (or a scoped_connection,
    /// or a plugin unload) disconnects a receiver, with sender "<namespace>/<name>" and data
    /// {"receiver_id"}. Not sent by disconnect_all nor when a tracked owner expires.
    ::beacon::signal& receiver_disconnected() { return meta().disconnected(); }

    /// Starts counting the signal's sends, receiver calls and receiver errors (stats()), in a
    /// counter slot per sending thread (no locked instruction per send; 1 KiB per signal); nothing
    /// until then. Idempotent.
    void enable_stats() {
        if (counters_.load(std::memory_order_acquire) != nullptr) return;
        std::unique_lock lock(buckets_mutex_);
        if (!counters_storage_) {
            counters_storage_ = std::make_unique<counters>();
            counters_.store(counters_storage_.get(), std::memory_order_release);
        }
    }
    /// What the signal counted since enable_stats() (zeros before).
    signal_stats stats() const noexcept {
        const auto* c = counters_.load(std::memory_order_acquire);
        if (c == nullptr) return {};
        const auto t = c->read();
        return {t.sends, t.calls, t.errors};
    }

    /// Mutes the signal until the returned object is destroyed; mutes nest.
    [[nodiscard]] scoped_mute mute() noexcept { return scoped_mute(mute_depth_); }
    /// Whether a scoped_mute currently mutes the signal.
    bool muted() const noexcept { return mute_depth_.load(std::memory_order_relaxed) != 0; }

private:
    using native_signal = boost::signals2::signal<void(const detail::delivery&)>;

    struct bucket {
        bucket(std::string s, std::atomic<std::size_t>& total, std::atomic<std::uint32_t>& bin)
            : sender(std::move(s)) {
            count.total = &total;
            count.bin = &bin;
        }
        std::string sender;
        detail::slot_count count;
        native_signal signal;
    };

    using counters = detail::send_counters;

    // Whom one send reaches, looked up once as the send begins.
    struct targets {
        std::uint64_t last_id;          // receivers numbered above were connected after the send began
        bool any;                       // whether receivers for any sender may be live
        std::shared_ptr<bucket> bound;  // the receivers bound to the sender, when some are live
        explicit operator bool() const noexcept { return any || bound; }
    };

    template <class F, class T>
    static auto bind_owner(F&& receiver, const std::shared_ptr<T>& owner) {
        if constexpr (std::is_member_function_pointer_v<std::decay_t<F>>) {
            static_assert(detail::method_takes_event<std::decay_t<F>>(),
                          "beacon::signal::connect: the member function must take (const beacon::event&): "
                          "write void on_event(const beacon::event& e)");
            return [method = receiver, raw = owner.get()](const event& e) -> decltype(auto) {
                return std::invoke(method, raw, e);
            };
        } else if constexpr (std::is_base_of_v<detail::deferred_receiver, std::decay_t<F>>) {
            std::decay_t<F> deferred(std::forward<F>(receiver));
            deferred.track(std::weak_ptr<void>(owner));
            return deferred;
        } else {
            return std::forward<F>(receiver);
        }
    }

    // Sends receiver_connected for `c`, outside every lock of this signal.
    connection announce(connection c, const std::string_view* sender, const std::type_info& type) {
        meta().report_connected(c.id(), sender, type);
        return c;
    }

    // The meta signals' holder, made by the first connect (its connections report their
    // disconnects to it) or the first use of a meta signal: a signal nobody connects to costs none.
    detail::signal_meta& meta() {
        if (auto* made = meta_ready_.load(std::memory_order_acquire)) return *made;
        std::unique_lock lock(buckets_mutex_);
        if (!meta_) {
            meta_ = std::make_shared<detail::signal_meta>(namespace_name_ + "/" + name_);
            meta_ready_.store(meta_.get(), std::memory_order_release);
        }
        return *meta_;
    }

    template <class F, class Owner>
    connection connect_to(native_signal& target, F&& receiver, detail::slot_count& count, const Owner& owner) {
        using receiver_type = std::decay_t<F>;
        if constexpr (!std::is_base_of_v<detail::delivery_receiver, receiver_type>) {
            if constexpr (!detail::check_receiver<receiver_type>()) return {};
        }
        (void)meta();  // the connection reports its disconnect to it (connect_bound made it already)
        const std::uint64_t id = next_id_.fetch_add(1, std::memory_order_acq_rel) + 1;
        native_signal::slot_type slot(detail::slot<receiver_type>(std::forward<F>(receiver), count, id));
        if constexpr (!std::is_same_v<Owner, std::nullptr_t>) {
            slot.track_foreign(std::weak_ptr<void>(owner));
        }
        return connection(target.connect(slot), id, meta_);
    }

    template <class F, class Owner>
    connection connect_bound(std::string_view sender, F&& receiver, const Owner& owner) {
        (void)meta();  // takes buckets_mutex_ the first time: before the lock below
        std::unique_lock lock(buckets_mutex_);
        if (buckets_.size() >= 2 * buckets_after_sweep_ + 16) sweep_buckets(lock);
        auto it = buckets_.find(sender);
        if (it == buckets_.end()) {
            auto* bins = bins_.load(std::memory_order_relaxed);
            if (bins == nullptr) {
                bins_storage_ = std::make_unique<detail::sender_bins>();
                bins = bins_storage_.get();
                bins_.store(bins, std::memory_order_release);
            }
            auto b = std::make_shared<bucket>(std::string(sender), bound_total_, bins->bin(sender));
            it = buckets_.emplace(std::string_view(b->sender), b).first;
        }
        return connect_to(it->second->signal, std::forward<F>(receiver), it->second->count, owner);
    }

    // Buckets of senders whose receivers have all gone are dropped once they could make up half
    // the map, so that a stream of one-off senders does not grow it without bound. A receiver
    // whose tracked owner expired stays in Boost's list, and counted live, until Boost is asked
    // whether it is connected (a send from its sender asks): the sweep asks every bucket that
    // still counts a live receiver (num_slots drops the expired ones). Dropping them runs the
    // receivers' destructors, which may call into this signal: that part runs unlocked.
    void sweep_buckets(std::unique_lock<std::shared_mutex>& lock) {
        std::vector<std::shared_ptr<bucket>> counted_live;
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            if (it->second->count.live.load(std::memory_order_acquire) == 0) {
                it = buckets_.erase(it);
            } else {
                counted_live.push_back(it->second);
                ++it;
            }
        }
        buckets_after_sweep_ = buckets_.size();  // no second sweep starts meanwhile
        lock.unlock();
        for (const auto& b : counted_live) (void)b->signal.num_slots();
        counted_live.clear();
        lock.lock();
        for (auto it = buckets_.begin(); it != buckets_.end();) {
            it = it->second->count.live.load(std::memory_order_acquire) == 0 ? buckets_.erase(it) : std::next(it);
        }
        buckets_after_sweep_ = buckets_.size();
    }

    std::shared_ptr<bucket> find_bucket(std::string_view sender) const {
        std::shared_lock lock(buckets_mutex_);
        const auto it = buckets_.find(sender);
        return it == buckets_.end() ? nullptr : it->second;
    }

    // The bucket of `sender` when it has live receivers; lock-free when no live receiver is
    // bound to `sender` or to a sender sharing its bin.
    std::shared_ptr<bucket> live_bucket(std::string_view sender) const {
        if (bound_total_.load(std::memory_order_acquire) == 0) return nullptr;
        const auto* bins = bins_.load(std::memory_order_acquire);
        if (bins == nullptr || !bins->may_have(sender)) return nullptr;
        auto b = find_bucket(sender);
        return b && b->count.live.load(std::memory_order_acquire) != 0 ? std::move(b) : nullptr;
    }

    targets targets_for(std::string_view sender) const {
        return {next_id_.load(std::memory_order_acquire), any_.live.load(std::memory_order_acquire) != 0,
                live_bucket(sender)};
    }

    // What one send returns: the count of receivers called (send), their exceptions
    // (send_robust) or what they returned (send_collect).
    template <class Result>
    struct outcome {
        Result value{};
        std::vector<receiver_error>* errors() noexcept {
            if constexpr (std::is_same_v<Result, std::vector<receiver_error>>) return &value;
            else return nullptr;
        }
        std::vector<receiver_result>* results() noexcept {
            if constexpr (std::is_same_v<Result, std::vector<receiver_result>>) return &value;
            else return nullptr;
        }
        Result finish(std::size_t calls) noexcept {
            if constexpr (std::is_same_v<Result, std::size_t>) value = calls;
            return std::move(value);
        }
    };

    // The builder of the event from `sender` carrying `data` (moved into the event).
    struct data_builder {
        std::string_view sender;
        nlohmann::json& data;
        event operator()() const { return event(std::string(sender), std::move(data)); }
    };

    template <class Result>
    Result deliver(const event& e) {
        outcome<Result> out;
        if (muted()) return out.finish(0);
        const auto to = targets_for(e.sender);
        if (!to) return out.finish(0);
        return out.finish(!needs_stamp(e) ? dispatch(e, to, out.errors(), nullptr, out.results())
                                          : dispatch_stamped_copy(e, to, out.errors(), out.results()));
    }

    template <class Result>
    Result deliver(event&& e) {
        outcome<Result> out;
        if (muted()) return out.finish(0);
        const auto to = targets_for(e.sender);
        if (!to) return out.finish(0);
        stamp(e);
        return out.finish(dispatch(e, to, out.errors(), nullptr, out.results()));
    }

    // A shared event: a mutable one is stamped in place, a const one on a copy when unstamped.
    template <class Result, class Event>
    Result deliver(std::shared_ptr<Event> e) {
        outcome<Result> out;
        if (!e || muted()) return out.finish(0);
        const auto to = targets_for(e->sender);
        if (!to) return out.finish(0);
        std::shared_ptr<const event> shared;
        if constexpr (!std::is_const_v<Event>) {
            stamp(*e);
            shared = std::move(e);
        } else if (needs_stamp(*e)) {
            check_depth(*e);
            auto stamped = std::make_shared<event>(*e);
            stamp(*stamped);
            shared = std::move(stamped);
        } else {
            shared = std::move(e);
        }
        return out.finish(dispatch(*shared, to, out.errors(), &shared, out.results()));
    }

    template <class Result, class Make>
    Result deliver(std::string_view sender, Make&& make) {
        if (muted()) return outcome<Result>{}.finish(0);
        const auto to = targets_for(sender);
        if (!to) return outcome<Result>{}.finish(0);
        return build_and_dispatch<Result>(sender, make, to);
    }

    // The rest of a lazy send, once someone listens. Kept out of line: inlined, its frame (the
    // event, the outcome) slows down the send nobody listens to (P2) by a fifth.
    template <class Result, class Make>
    [[gnu::noinline]] Result build_and_dispatch(std::string_view sender, Make& make, const targets& to) {
        outcome<Result> out;
        event e = std::invoke(make);
        if (e.sender != sender) e.sender.assign(sender.data(), sender.size());
        stamp(e);
        return out.finish(dispatch(e, to, out.errors(), nullptr, out.results()));
    }

    // Sends a copy of `e` stamped with the current time (the caller's `e` is const). Kept out of
    // line: inlined, the copy's frame slows down every send of an already stamped event. Copying
    // nlohmann::json recurses once per level, so a too deep event is an encode_error first.
    [[gnu::noinline]] std::size_t dispatch_stamped_copy(const event& e, const targets& to,
                                                        std::vector<receiver_error>* errors,
                                                        std::vector<receiver_result>* results) {
        check_depth(e);
        event stamped = e;
        stamp(stamped);
        return dispatch(stamped, to, errors, nullptr, results);
    }

    std::size_t dispatch(const event& e, const targets& to, std::vector<receiver_error>* errors,
                         const std::shared_ptr<const event>* shared, std::vector<receiver_result>* results) {
        std::size_t calls = 0;
        const detail::frame_guard handling(&e.trace, &e.id);  // events the receivers send name `e` their cause
        const detail::delivery d{e, to.last_id, errors, &calls, shared, results};
        if (auto* c = counters_.load(std::memory_order_acquire)) return counted_dispatch(*c, d, to);
        if (to.any) any_signal_(d);
        if (to.bound) to.bound->signal(d);
        return calls;
    }

    // dispatch once enable_stats() was called; a receiver's exception is counted on its way out.
    [[gnu::noinline]] std::size_t counted_dispatch(counters& c, const detail::delivery& d, const targets& to) {
        const std::size_t errors_before = d.errors ? d.errors->size() : 0;
        try {
            if (to.any) any_signal_(d);
            if (to.bound) to.bound->signal(d);
        } catch (...) {
            c.count(*d.calls, 1);
            throw;
        }
        c.count(*d.calls, d.errors ? d.errors->size() - errors_before : 0);
        return *d.calls;
    }

    std::string namespace_name_;
    std::string name_;
    std::string type_;
    std::shared_ptr<detail::event_origin> origin_;
    std::atomic<std::uint64_t> next_id_{0};
    std::atomic<int> mute_depth_{0};
    // The counts outlive the Boost signals below, whose slots decrement them when destroyed.
    detail::slot_count any_;
    std::atomic<std::size_t> bound_total_{0};
    std::unique_ptr<detail::sender_bins> bins_storage_;  // made by the first sender-bound connect
    std::atomic<detail::sender_bins*> bins_{nullptr};     // the same, for lock-free reads
    native_signal any_signal_;
    mutable std::shared_mutex buckets_mutex_;
    std::unordered_map<std::string_view, std::shared_ptr<bucket>> buckets_;
    std::size_t buckets_after_sweep_ = 0;
    std::shared_ptr<detail::signal_meta> meta_;  // see meta(); read by connects only: kept off the send path's lines
    std::atomic<detail::signal_meta*> meta_ready_{nullptr};  // the same, for lock-free reads
    std::unique_ptr<counters> counters_storage_;  // made by enable_stats()
    std::atomic<counters*> counters_{nullptr};    // the same, for lock-free reads
};

namespace detail {

inline signal_meta::~signal_meta() = default;

inline ::beacon::signal& signal_meta::get(std::atomic<::beacon::signal*>& ready,
                                          std::unique_ptr<::beacon::signal>& storage, const char* what) {
    if (auto* made = ready.load(std::memory_order_acquire)) return *made;
    std::lock_guard lock(mutex_);
    if (!storage) {
        storage = std::make_unique<::beacon::signal>("meta", full_name_ + "." + what);
        ready.store(storage.get(), std::memory_order_release);
    }
    return *storage;
}

inline void signal_meta::report(std::atomic<::beacon::signal*>& ready, nlohmann::json data) noexcept {
    auto* meta = ready.load(std::memory_order_acquire);
    if (meta == nullptr || !meta->has_receivers_for(full_name_)) return;
    try {
        (void)meta->send_robust(event(full_name_, std::move(data)));
    } catch (...) {  // building the event ran out of memory: the connect or disconnect stands
    }
}

inline void signal_meta::report_connected(std::uint64_t id, const std::string_view* sender,
                                          const std::type_info& type) noexcept {
    if (connected_.load(std::memory_order_acquire) == nullptr) return;
    try {
        report(connected_, {{"receiver_id", id},
                            {"sender", sender ? nlohmann::json(*sender) : nlohmann::json()},
                            {"receiver_type", boost::core::demangle(type.name())}});
    } catch (...) {  // as in report()
    }
}

inline void signal_meta::disconnected(std::uint64_t id) noexcept {
    if (disconnected_.load(std::memory_order_acquire) == nullptr) return;
    try {
        report(disconnected_, {{"receiver_id", id}});
    } catch (...) {  // as in report()
    }
}

}  // namespace detail

}  // namespace beacon
