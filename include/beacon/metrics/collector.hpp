#pragma once
/// \file
/// beacon's counters as Prometheus metrics: a prometheus-cpp Collectable that reads the stats()
/// snapshots of what the host asked it to watch (signals, configured listeners, asynchronous
/// receivers, relays; beacon::web's streams and servers with <beacon/metrics/web.hpp>) at every
/// scrape, to be served beside the host's own prometheus-cpp registry. Nothing is read between scrapes.

#include <beacon/async.hpp>
#include <beacon/error.hpp>
#include <beacon/listener.hpp>
#include <beacon/metrics/detail/families.hpp>
#include <beacon/outbox.hpp>
#include <beacon/registry.hpp>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

/// beacon's metrics for Prometheus (optional part, CMake target beacon::metrics, needs prometheus-cpp).
namespace beacon::metrics {

/// How one kind of stats() snapshot becomes metric families: specialized for async_stats and
/// relay_stats here, web::sse_stats and web::server_stats in <beacon/metrics/web.hpp>; a host
/// may specialize it for stats of its own. `kind` names the kind in errors.
template <class Stats>
struct exporter;

/// An asynchronous receiver's queue (async_receiver, async_consumer, an async listener), label `receiver`.
template <>
struct exporter<async_stats> {
    /// What errors call it.
    static constexpr const char* kind = "asynchronous receiver";
    /// Adds `s` as the samples of the receiver `name`.
    static void add(detail::families& f, const std::string& name, const async_stats& s) {
        const detail::labels l{{"receiver", name}};
        f.gauge("beacon_async_queue_depth", "Events waiting in the asynchronous receiver's queue.", l, s.queued);
        f.gauge("beacon_async_queue_high_water", "The most events that ever waited in the queue at once.", l,
                s.high_water);
        f.gauge("beacon_async_active", "Events a worker has taken and not delivered yet.", l, s.active);
        f.counter("beacon_async_delivered_total", "Events whose receiver returned.", l, s.delivered);
        f.counter("beacon_async_failed_total", "Events whose receiver threw (each reported as a failure).", l, s.failed);
        f.counter("beacon_async_dropped_total",
                  "Events dropped by the full-queue policy, or discarded at shutdown.", l, s.dropped);
    }
};

/// A relay publishing an outbox (sqlite::relay, postgres::relay), label `outbox`.
template <>
struct exporter<relay_stats> {
    /// What errors call it.
    static constexpr const char* kind = "relay";
    /// Adds `s` as the samples of the outbox `name`.
    static void add(detail::families& f, const std::string& name, const relay_stats& s) {
        const detail::labels l{{"outbox", name}};
        f.counter("beacon_relay_published_total", "Outbox events the publisher accepted (their rows deleted).", l,
                  s.published);
        f.counter("beacon_relay_failures_total", "Publishing attempts that failed, each retried.", l, s.failures);
        f.counter("beacon_relay_dead_lettered_total",
                  "Outbox rows moved to the dead table: unreadable, or refused by the format.", l, s.set_aside);
        f.gauge("beacon_outbox_pending_rows", "Rows waiting in the outbox, as the relay last counted them.", l,
                s.pending);
        f.gauge_seconds("beacon_outbox_oldest_age_seconds", "How long the oldest waiting outbox row has waited.", l,
                        s.oldest_age);
    }
};

/// Collects beacon's metrics at each scrape: a prometheus-cpp Collectable, served beside the host's
/// own prometheus::Registry by prometheus-cpp's Exposer (`exposer.RegisterCollectable(collector)`;
/// it holds a weak_ptr, so keep the shared_ptr) or by beacon's web server (metrics::serve in
/// <beacon/metrics/web.hpp>), or read as text (`text()`). Every series is one signal, listener,
/// receiver, relay, stream or server the host watched: never one per sender, user or uri.
/// Thread-safe. What it watches by reference must outlive it, or be forgotten first (`forget`).
class collector final : public prometheus::Collectable {
public:
    /// Counts every signal of `reg`, now and later (registry::enable_stats), and exports per signal
    /// (labels `namespace`, `signal`) its sends, receiver calls and receiver errors.
    void watch(registry& reg) {
        reg.enable_stats();
        add("registry", &reg, [&reg](detail::families& f) {
            for (const auto& ns_name : reg.namespace_names()) {
                auto& ns = reg.ns(ns_name);
                for (const auto& name : ns.names()) {
                    const auto* s = ns.find(name);
                    if (s == nullptr) continue;
                    const auto st = s->stats();
                    const detail::labels l{{"namespace", ns_name}, {"signal", name}};
                    f.counter("beacon_signal_sends_total", "Sends that reached at least one receiver.", l, st.sends);
                    f.counter("beacon_signal_receiver_calls_total", "Receivers called by the signal's sends.", l,
                              st.receiver_calls);
                    f.counter("beacon_signal_receiver_errors_total", "Exceptions the signal's receivers threw.", l,
                              st.receiver_errors);
                }
            }
        });
    }

    /// Exports every configured listener of `listeners` (label `listener`: its alias): calls,
    /// failures and a duration histogram (Kinto's listener timer), and an async listener's queue.
    void watch(const loaded_listeners& listeners) {
        add("listeners", &listeners, [&listeners](detail::families& f) {
            for (const auto& alias : listeners.aliases()) {
                const auto st = listeners.stats(alias);
                if (!st) continue;
                const detail::labels l{{"listener", alias}};
                f.counter("beacon_listener_calls_total", "Calls of the configured listener.", l, st->calls);
                f.counter("beacon_listener_failures_total", "Calls of the configured listener that threw.", l,
                          st->failures);
                f.histogram("beacon_listener_duration_seconds", "How long the configured listener's calls took.", l,
                            st->duration);
                if (const auto* a = listeners.async(alias)) exporter<async_stats>::add(f, alias, a->stats());
            }
        });
    }

    /// Exports `source.stats()` under `name` (an async_receiver or async_consumer, a relay, or with
    /// <beacon/metrics/web.hpp> a web::server); `source` must outlive the collector or be forgotten.
    /// Throws misuse_error when a source of the same kind is watched under `name` already.
    template <class Source, class = decltype(std::declval<const Source&>().stats())>
    void watch(std::string name, const Source& source) {
        using stats_type = std::decay_t<decltype(source.stats())>;
        const std::string key = std::string(exporter<stats_type>::kind) + " \"" + name + "\"";
        add(key, &source, [name = std::move(name), &source](detail::families& f) {
            exporter<stats_type>::add(f, name, source.stats());
        });
    }

    /// Exports `source->stats()` under `name` while `source` lives (e.g. a web::sse_stream); then
    /// its series are no longer exported. Throws misuse_error as the overload above.
    template <class Source>
    void watch(std::string name, const std::shared_ptr<Source>& source) {
        using stats_type = std::decay_t<decltype(source->stats())>;
        const std::string key = std::string(exporter<stats_type>::kind) + " \"" + name + "\"";
        add(key, source.get(), [name = std::move(name), weak = std::weak_ptr<Source>(source)](detail::families& f) {
            if (const auto s = weak.lock()) exporter<stats_type>::add(f, name, s->stats());
        });
    }

    /// Stops exporting `object` (a registry, listeners or a source watched before); returns whether it was watched.
    bool forget(const void* object) {
        std::lock_guard lock(mutex_);
        const auto it = std::find_if(sources_.begin(), sources_.end(), [&](const auto& s) { return s.object == object; });
        if (it == sources_.end()) return false;
        keys_.erase(it->key);
        sources_.erase(it);
        return true;
    }

    /// The metric families of everything watched, read now (prometheus-cpp calls it at each scrape).
    std::vector<prometheus::MetricFamily> Collect() const override {
        detail::families f;
        std::lock_guard lock(mutex_);
        for (const auto& s : sources_) s.collect(f);
        return f.take();
    }

    /// The same, in Prometheus's text exposition format: a snapshot for hosts that export otherwise.
    std::string text() const { return prometheus::TextSerializer().Serialize(Collect()); }

private:
    struct watched {
        std::string key;
        const void* object;
        std::function<void(detail::families&)> collect;
    };

    void add(std::string key, const void* object, std::function<void(detail::families&)> collect) {
        std::lock_guard lock(mutex_);
        if (!keys_.insert(key).second) throw misuse_error("beacon::metrics::collector: " + key + " is watched already");
        sources_.push_back({std::move(key), object, std::move(collect)});
    }

    mutable std::mutex mutex_;
    std::vector<watched> sources_;
    std::set<std::string, std::less<>> keys_;
};

}  // namespace beacon::metrics
