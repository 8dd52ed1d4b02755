#pragma once
/// \file
/// Event hubs (Flask-Notifications): a named hub holds one filter and consumers; sending an event
/// to the hubs delivers it to the consumers of every hub whose filter passes it.

#include <beacon/detail/origin.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/filter.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon {

/// Receives the events a hub passes: `before_consume`, `consume`, then `after_consume`.
class consumer {
public:
    virtual ~consumer() = default;
    /// Called first, e.g. to open a transaction; an exception skips `consume` and `after_consume`.
    virtual void before_consume(const event&) {}
    /// Handles the event.
    virtual void consume(const event& e) = 0;
    /// Called once `consume` returned, e.g. to confirm the event was stored.
    virtual void after_consume(const event&) {}
};

/// A consumer that calls a function.
class callback_consumer : public consumer {
public:
    /// Calls `f` for every event consumed.
    explicit callback_consumer(std::function<void(const event&)> f) : f_(std::move(f)) {}
    /// Calls the function.
    void consume(const event& e) override { f_(e); }

private:
    std::function<void(const event&)> f_;
};

/// A consumer that writes each event as one line of JSON (beacon's envelope), flushed; thread-safe.
class log_consumer : public consumer {
public:
    /// Writes to `out`, which must outlive the consumer.
    explicit log_consumer(std::ostream& out) : out_(&out) {}

    /// Appends to the file at `path`; throws transport_error when it cannot be opened.
    explicit log_consumer(const std::string& path)
        : file_(std::make_unique<std::ofstream>(path, std::ios::app)), out_(file_.get()) {
        if (!*file_) throw transport_error("log_consumer: cannot open \"" + path + "\": " + std::strerror(errno));
    }

    /// Writes the event's JSON and a newline.
    void consume(const event& e) override {
        const std::string line = nlohmann::json(e).dump() + "\n";
        std::lock_guard lock(mutex_);
        *out_ << line << std::flush;
    }

private:
    std::unique_ptr<std::ofstream> file_;
    std::ostream* out_;
    std::mutex mutex_;
};

/// A named hub: one filter (which passes everything until `filter_by`) and consumers; thread-safe.
class hub {
public:
    /// A hub called `name` that passes every event.
    explicit hub(std::string name) : name_(std::move(name)) {}
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;

    /// The hub's name.
    const std::string& name() const noexcept { return name_; }

    /// Replaces the hub's filter; returns the hub, for chaining.
    hub& filter_by(filter f) {
        auto replacement = std::make_shared<const filter>(std::move(f));
        std::unique_lock lock(mutex_);
        filter_ = std::move(replacement);
        return *this;
    }

    /// Adds `c` after the consumers already registered; returns it (misuse_error for a null `c`).
    /// Registering a consumer that is already registered has no effect (Flask-Notifications): it
    /// stays once, in its place.
    std::shared_ptr<consumer> register_consumer(std::shared_ptr<consumer> c) {
        if (!c) throw misuse_error("hub \"" + name_ + "\": register_consumer: null consumer");
        std::unique_lock lock(mutex_);
        if (std::find(consumers_->begin(), consumers_->end(), c) != consumers_->end()) return c;
        auto next = std::make_shared<consumer_list>(*consumers_);
        next->push_back(c);
        consumers_ = std::move(next);
        return c;
    }

    /// Adds a callback_consumer calling `f`; returns it (to deregister it later).
    std::shared_ptr<consumer> register_consumer(std::function<void(const event&)> f) {
        return register_consumer(std::make_shared<callback_consumer>(std::move(f)));
    }

    /// Removes `c`; returns false when it was not registered. A send under way may still call it.
    bool deregister_consumer(const std::shared_ptr<consumer>& c) {
        std::unique_lock lock(mutex_);
        auto next = std::make_shared<consumer_list>(*consumers_);
        const auto it = std::find(next->begin(), next->end(), c);
        if (it == next->end()) return false;
        next->erase(it);
        consumers_ = std::move(next);
        return true;
    }

    /// How many consumers are registered.
    std::size_t consumer_count() const {
        std::shared_lock lock(mutex_);
        return consumers_->size();
    }

    /// If the filter passes `e`, runs each consumer's hooks on it, in registration order, and
    /// returns true. A consumer's exception propagates and the remaining consumers are skipped.
    bool send(const event& e) const {
        std::shared_ptr<const consumer_list> consumers;
        std::shared_ptr<const filter> test;
        {
            std::shared_lock lock(mutex_);
            consumers = consumers_;
            test = filter_;
        }
        if (!(*test)(e)) return false;
        for (const auto& c : *consumers) {
            c->before_consume(e);
            c->consume(e);
            c->after_consume(e);
        }
        return true;
    }

private:
    using consumer_list = std::vector<std::shared_ptr<consumer>>;

    std::string name_;
    mutable std::shared_mutex mutex_;
    std::shared_ptr<const filter> filter_ = std::make_shared<const filter>();
    std::shared_ptr<const consumer_list> consumers_ = std::make_shared<const consumer_list>();
};

/// The hubs of an application (Flask-Notifications' `Notifications`): create them by name, send
/// events to all of them; thread-safe.
class hubs {
public:
    /// Creates the hub called `name`; throws misuse_error when the name is empty or taken. The hub
    /// stays usable through the returned pointer after `remove_hub`.
    std::shared_ptr<hub> create_hub(const std::string& name) {
        if (name.empty()) throw misuse_error("create_hub: a hub needs a name");
        auto created = std::make_shared<hub>(name);
        std::unique_lock lock(mutex_);
        if (!hubs_.emplace(name, created).second) throw misuse_error("create_hub: hub \"" + name + "\" already exists");
        return created;
    }

    /// The hub called `name`, or nullptr.
    std::shared_ptr<hub> find(std::string_view name) const {
        std::shared_lock lock(mutex_);
        const auto it = hubs_.find(name);
        return it == hubs_.end() ? nullptr : it->second;
    }

    /// Removes the hub called `name`; returns false when there is none. A send under way may still use it.
    bool remove_hub(std::string_view name) {
        std::unique_lock lock(mutex_);
        const auto it = hubs_.find(name);
        if (it == hubs_.end()) return false;
        hubs_.erase(it);
        return true;
    }

    /// The hubs' names, sorted.
    std::vector<std::string> names() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        for (const auto& [name, h] : hubs_) out.push_back(name);
        return out;
    }

    /// Sends `e` to every hub, in name order; returns how many hubs' filters passed it. `e` is
    /// stamped as a signal stamps it (event::stamp), its type "hubs" and its source the process's
    /// ("urn:beacon:<host name>") where it names none.
    std::size_t send(event e) const {
        e.stamp();
        if (e.type.empty()) e.type = "hubs";
        if (e.source.empty()) e.source = detail::process_origin()->source();
        std::vector<std::shared_ptr<const hub>> targets;
        {
            std::shared_lock lock(mutex_);
            for (const auto& [name, h] : hubs_) targets.push_back(h);
        }
        std::size_t passed = 0;
        for (const auto& h : targets) passed += h->send(e) ? 1u : 0u;
        return passed;
    }

private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, std::shared_ptr<hub>, std::less<>> hubs_;
};

}  // namespace beacon
