#pragma once
/// \file
/// Registries own namespaces ("core", "ext", custom ones); namespaces own named signals.

#include <beacon/detail/names.hpp>
#include <beacon/error.hpp>
#include <beacon/signal.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace beacon {

/// A set of signals, each a singleton per name; can be sealed against new names.
class signal_namespace {
public:
    /// An empty namespace called `name`, whose signals stamp `origin`'s source (none: the process's).
    explicit signal_namespace(std::string name, std::shared_ptr<detail::event_origin> origin = nullptr)
        : name_(std::move(name)),
          origin_(origin ? std::move(origin) : std::shared_ptr<detail::event_origin>(detail::process_origin())) {}
    signal_namespace(const signal_namespace&) = delete;
    signal_namespace& operator=(const signal_namespace&) = delete;

    /// The namespace's name.
    const std::string& name() const noexcept { return name_; }

    /// The signal called `name`, created on first use; the same object on every call.
    /// Throws name_error for a bad name and unknown_signal_error for a new name once sealed.
    ::beacon::signal& signal(std::string_view name) {
        if (auto* existing = find(name)) return *existing;
        detail::check_name("signal", name);
        std::unique_lock lock(mutex_);
        if (sealed_.load(std::memory_order_acquire)) {
            throw unknown_signal_error("namespace \"" + name_ + "\" has no signal \"" + std::string(name) +
                                       "\" and is sealed (declare the signal before sealing)");
        }
        auto it = signals_.find(name);
        if (it == signals_.end()) {
            auto made = std::make_unique<::beacon::signal>(name_, std::string(name), origin_);
            if (counting_) made->enable_stats();
            const std::string_view key = made->name();  // the signal's own copy of its name
            it = signals_.emplace(key, std::move(made)).first;
        }
        return *it->second;
    }

    /// The signal called `name` if it exists, else nullptr; never creates one.
    ::beacon::signal* find(std::string_view name) const {
        std::shared_lock lock(mutex_);
        const auto it = signals_.find(name);
        return it == signals_.end() ? nullptr : it->second.get();
    }

    /// Whether a signal called `name` exists.
    bool contains(std::string_view name) const { return find(name) != nullptr; }

    /// The names of the signals the namespace holds, sorted.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        {
            std::shared_lock lock(mutex_);
            out.reserve(signals_.size());
            for (const auto& [name, s] : signals_) out.emplace_back(name);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    /// How many signals the namespace holds.
    std::size_t size() const {
        std::shared_lock lock(mutex_);
        return signals_.size();
    }

    /// Counts the sends of every signal of the namespace, those it holds and those made later
    /// (signal::enable_stats, signal::stats).
    void enable_stats() {
        std::unique_lock lock(mutex_);
        counting_ = true;
        for (auto& [name, s] : signals_) s->enable_stats();
    }

    /// From now on, `signal(name)` of an unknown name throws instead of creating a signal.
    void seal() noexcept { sealed_.store(true, std::memory_order_release); }
    /// Whether the namespace is sealed.
    bool sealed() const noexcept { return sealed_.load(std::memory_order_acquire); }

private:
    std::string name_;
    std::shared_ptr<detail::event_origin> origin_;
    std::atomic<bool> sealed_{false};
    mutable std::shared_mutex mutex_;
    bool counting_ = false;  // enable_stats() was called (guarded by mutex_)
    // Keyed by each signal's own name (a view of signal::name()): one hash and one comparison
    // per lookup, however many signals the namespace holds.
    std::unordered_map<std::string_view, std::unique_ptr<::beacon::signal>> signals_;
};

/// Owns namespaces: `core` for the host's signals, `ext` for plugins', and custom ones.
/// A host creates one and passes it to its plugins; it must outlive every use of its signals.
class registry {
public:
    registry() {
        namespaces_.emplace("core", std::make_unique<signal_namespace>("core", origin_));
        namespaces_.emplace("ext", std::make_unique<signal_namespace>("ext", origin_));
        core_ = namespaces_.find("core")->second.get();
        ext_ = namespaces_.find("ext")->second.get();
    }
    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    /// The host's own signals (CKAN's `ckan` namespace).
    signal_namespace& core() noexcept { return *core_; }
    /// Signals defined by plugins (CKAN's `ckanext` namespace).
    signal_namespace& ext() noexcept { return *ext_; }

    /// The namespace called `name`, created on first use ("core" and "ext" included).
    signal_namespace& ns(std::string_view name) {
        {
            std::shared_lock lock(mutex_);
            if (const auto it = namespaces_.find(name); it != namespaces_.end()) return *it->second;
        }
        detail::check_name("namespace", name);
        std::unique_lock lock(mutex_);
        auto it = namespaces_.find(name);
        if (it == namespaces_.end()) {
            it = namespaces_.emplace(std::string(name), std::make_unique<signal_namespace>(std::string(name), origin_)).first;
            if (counting_) it->second->enable_stats();
        }
        return *it->second;
    }

    /// Sets the source every event sent through this registry's signals carries unless it names
    /// its own: a URI reference naming the producing host or service ("https://shop.example/api",
    /// "urn:shop:orders"). Set it once, before sending; by default "urn:beacon:<host name>".
    /// Throws config_error for an empty value, one over 1,024 bytes, or one holding spaces or control characters.
    void set_source(std::string_view source) { origin_->set_source(source); }
    /// The source this registry's events carry.
    const std::string& source() const noexcept { return origin_->source(); }

    /// Counts the sends of every signal of every namespace, now and later (signal::stats).
    void enable_stats() {
        std::unique_lock lock(mutex_);
        counting_ = true;
        for (auto& [name, ns] : namespaces_) ns->enable_stats();
    }

    /// The names of the namespaces, sorted.
    std::vector<std::string> namespace_names() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        for (const auto& [name, ns] : namespaces_) out.push_back(name);
        return out;
    }

private:
    std::shared_ptr<detail::event_origin> origin_ = std::make_shared<detail::event_origin>();
    mutable std::shared_mutex mutex_;
    std::map<std::string, std::unique_ptr<signal_namespace>, std::less<>> namespaces_;
    bool counting_ = false;  // enable_stats() was called (guarded by mutex_)
    signal_namespace* core_;
    signal_namespace* ext_;
};

/// A process-wide registry for programs without plugins in shared libraries. A plugin built as a
/// shared library with hidden visibility gets a registry of its own here: pass the host's instead.
inline registry& default_registry() {
    static registry instance;
    return instance;
}

}  // namespace beacon
