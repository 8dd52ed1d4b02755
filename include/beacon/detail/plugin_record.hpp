#pragma once
// What a plugin host keeps for each loaded plugin: the connections that plugin made. Unloading
// closes the record: it disconnects exactly those connections and refuses new ones, whatever the
// plugin would declare now.

#include <beacon/connection.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace beacon {
class plugin;
}

namespace beacon::detail {

/// A plugin's receiver as connected: it holds the plugin object, so that a send still calling it
/// while the plugin is unloaded keeps the plugin alive until the call returns (Boost.Signals2
/// destroys a disconnected slot once no send is using it). Cheaper per call than track_foreign.
template <class F>
struct plugin_receiver {
    std::shared_ptr<plugin> owner;
    F receiver;

    decltype(auto) operator()(const event& e) { return std::invoke(receiver, e); }
};

/// The connections one loaded plugin made, and the plugin that its receivers hold.
class plugin_record {
public:
    plugin_record(std::string name, const std::shared_ptr<plugin>& owner) : name_(std::move(name)), owner_(owner) {}
    plugin_record(const plugin_record&) = delete;
    plugin_record& operator=(const plugin_record&) = delete;

    const std::string& name() const noexcept { return name_; }

    /// Calls `connect(owner)`, which connects a plugin_receiver holding `owner`, and keeps the
    /// connection; throws plugin_error once the record is closed.
    template <class Connect>
    connection add(Connect&& connect) {
        std::lock_guard lock(mutex_);
        const auto owner = owner_.lock();
        if (closed_ || !owner) {
            throw plugin_error("plugin \"" + name_ + "\" is unloaded: it cannot connect receivers any more");
        }
        connections_.reserve(connections_.size() + 1);  // so that keeping it cannot throw once connected
        connections_.push_back(std::invoke(std::forward<Connect>(connect), owner));
        return connections_.back();
    }

    /// Disconnects every connection kept, newest first, and refuses new ones from now on.
    void close() noexcept {
        std::vector<connection> doomed;
        {
            std::lock_guard lock(mutex_);
            closed_ = true;
            doomed.swap(connections_);
        }
        for (auto it = doomed.rbegin(); it != doomed.rend(); ++it) it->disconnect();
    }

private:
    std::string name_;
    std::weak_ptr<plugin> owner_;
    std::mutex mutex_;
    bool closed_ = false;
    std::vector<connection> connections_;
};

}  // namespace beacon::detail
