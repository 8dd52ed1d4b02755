#pragma once
/// \file
/// Plugins (CKAN's ISignal): a plugin declares a table signal -> receivers, defines its own
/// signals in `ext` under its name, and sees `core` through a subscribe-only view; a plugin_host
/// loads and unloads plugins on a registry.

#include <beacon/connection.hpp>
#include <beacon/detail/names.hpp>
#include <beacon/detail/plugin_record.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/registry.hpp>
#include <beacon/signal.hpp>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace beacon {

/// Separator between a plugin's name and the name of a signal it defines, in `ext`.
inline constexpr char plugin_separator = '.';

/// The full `ext` name of signal `signal_name` defined by plugin `plugin_name`: "custom.something_happened".
inline std::string plugin_signal_name(std::string_view plugin_name, std::string_view signal_name) {
    std::string full;
    full.reserve(plugin_name.size() + 1 + signal_name.size());
    return full.append(plugin_name).append(1, plugin_separator).append(signal_name);
}

/// A subscribe-only handle on a signal, given to plugins: it connects receivers (each recorded so
/// that unloading the plugin disconnects it) and reads the signal, but cannot send or mute it nor
/// disconnect receivers it did not connect.
class signal_view {
public:
    /// Connects `receiver` for every sender, for as long as the plugin stays loaded.
    template <class F>
    connection connect(F&& receiver) const {
        return record_->add([&](const std::shared_ptr<plugin>& owner) {
            return signal_->connect(hold(owner, std::forward<F>(receiver)));
        });
    }

    /// Connects `receiver` for sends from `sender` only, for as long as the plugin stays loaded.
    template <class F>
    connection connect(std::string_view sender, F&& receiver) const {
        return record_->add([&](const std::shared_ptr<plugin>& owner) {
            return signal_->connect(sender, hold(owner, std::forward<F>(receiver)));
        });
    }

    /// Refuses `connect(receiver, sender)`: the sender comes first, as in `connect("admin", f)`.
    template <class F, class S, class = std::enable_if_t<detail::is_sender_v<S> && !detail::is_sender_v<F>>>
    connection connect(F&&, S&&) const {
        static_assert(detail::always_false<F, S>,
                      "beacon::signal_view::connect: the sender comes first: write connect(\"sender\", receiver)");
        return {};
    }

    /// The signal, read-only: name, namespace, receiver counts (no send, mute or disconnect).
    const ::beacon::signal& get() const noexcept { return *signal_; }

private:
    friend class core_view;
    friend class plugin_context;
    friend class plugin_host;

    template <class F>
    static auto hold(const std::shared_ptr<plugin>& owner, F&& receiver) {
        detail::check_receiver<std::decay_t<F>>();
        return detail::plugin_receiver<std::decay_t<F>>{owner, std::forward<F>(receiver)};
    }

    signal_view(::beacon::signal& s, std::shared_ptr<detail::plugin_record> record) noexcept
        : signal_(&s), record_(std::move(record)) {}

    ::beacon::signal* signal_;
    std::shared_ptr<detail::plugin_record> record_;
};

/// A plugin's subscribe-only view of the host's `core` namespace.
class core_view {
public:
    /// The core signal called `name`; throws unknown_signal_error if core is sealed without it.
    signal_view signal(std::string_view name) const { return signal_view(core_->signal(name), record_); }
    /// Whether core declares a signal called `name`.
    bool contains(std::string_view name) const { return core_->contains(name); }
    /// The names of the core signals, sorted.
    std::vector<std::string> names() const { return core_->names(); }

private:
    friend class plugin_context;

    core_view(signal_namespace& core, std::shared_ptr<detail::plugin_record> record) noexcept
        : core_(&core), record_(std::move(record)) {}

    signal_namespace* core_;
    std::shared_ptr<detail::plugin_record> record_;
};

/// One receiver in a subscription table: `receiver` for any sender, or `{"sender", receiver}`
/// bound to one sender (sender first, as in `signal.connect("sender", receiver)`).
struct subscription {
    /// A receiver for every sender.
    template <class F, class = std::enable_if_t<!detail::is_sender_v<F> &&
                                                !std::is_same_v<std::decay_t<F>, subscription>>>
    subscription(F&& f)  // NOLINT: implicit, so that a table lists plain receivers
        : receiver(wrap(std::forward<F>(f))) {}

    /// A receiver `f` for sends from `from` only.
    template <class S, class F, class = std::enable_if_t<detail::is_sender_v<S> && !detail::is_sender_v<F>>>
    subscription(S&& from, F&& f) : receiver(wrap(std::forward<F>(f))), sender(std::string(std::string_view(from))) {}

    /// Refuses `{receiver, "sender"}`: the sender comes first.
    template <class F, class S, class = std::enable_if_t<!detail::is_sender_v<F> && detail::is_sender_v<S>>,
              class = void>
    subscription(F&&, S&&) {
        static_assert(detail::always_false<F, S>,
                      "beacon::subscription: the sender comes first: write {\"sender\", receiver}, as in "
                      "signal.connect(\"sender\", receiver)");
    }

    std::function<nlohmann::json(const event&)> receiver;  ///< What to call; gives what it returned.
    std::optional<std::string> sender;                     ///< The one sender it is bound to, if any.

private:
    template <class F>
    static std::function<nlohmann::json(const event&)> wrap(F&& callable) {
        using receiver_type = std::decay_t<F>;
        if constexpr (!detail::check_receiver<receiver_type>()) {
            return {};
        } else {
            if constexpr (detail::is_nullable_v<receiver_type>) {
                if (!callable) return {};  // an empty receiver: load refuses it, naming the entry
            }
            return [f = receiver_type(std::forward<F>(callable))](const event& e) mutable {
                return detail::call_for_value(f, e);
            };
        }
    }
};

/// The receivers a plugin declares for one signal.
struct signal_subscriptions {
    signal_view signal;                   ///< The signal, from the plugin's context.
    std::vector<subscription> receivers;  ///< Its receivers, connected in this order.
};

/// A plugin's declared subscriptions, signal -> receivers (CKAN's `get_signal_subscriptions()`).
using subscription_table = std::vector<signal_subscriptions>;

/// What a plugin gets from the host: its name, a subscribe-only `core`, its own signals in `ext`,
/// and subscribe-only handles on other plugins' signals. Copies stay usable after loading;
/// connecting through them after the plugin is unloaded throws plugin_error.
class plugin_context {
public:
    /// The name of the plugin this context belongs to.
    const std::string& plugin_name() const noexcept { return record_->name(); }

    /// The host's `core` namespace, subscribe-only.
    core_view core() const noexcept { return core_view(registry_->core(), record_); }

    /// The plugin's own signal `name`, created in `ext` as "<plugin>.<name>"; the plugin sends it.
    ::beacon::signal& define(std::string_view name) const {
        detail::check_name("plugin signal", name);
        return registry_->ext().signal(plugin_signal_name(plugin_name(), name));
    }

    /// A subscribe-only handle on the `ext` signal `full_name` ("custom.something_happened"),
    /// created if absent: the same signal its plugin defines, simply never sent without it.
    signal_view ext(std::string_view full_name) const {
        return signal_view(registry_->ext().signal(full_name), record_);
    }

private:
    friend class plugin_host;

    plugin_context(registry& reg, std::shared_ptr<detail::plugin_record> record) noexcept
        : registry_(&reg), record_(std::move(record)) {}

    registry* registry_;
    std::shared_ptr<detail::plugin_record> record_;
};

/// A plugin: a name and the subscriptions the host connects when it loads it.
class plugin {
public:
    virtual ~plugin() = default;

    /// The plugin's name: unique among a host's loaded plugins, without plugin_separator.
    virtual std::string name() const = 0;

    /// The plugin's subscriptions, signal -> receivers; called once per load. The plugin may also
    /// define its signals and connect through `ctx` here: unloading disconnects those too.
    virtual subscription_table signal_subscriptions(plugin_context& ctx) = 0;
};

/// Loads and unloads plugins on a registry, from any thread. Each receiver holds its plugin
/// object, so a send running while the plugin is unloaded keeps it alive until it returns.
/// The registry must outlive the host; destroying the host unloads every plugin.
class plugin_host {
public:
    /// A host connecting plugins to the signals of `reg`.
    explicit plugin_host(registry& reg) noexcept : registry_(&reg) {}
    plugin_host(const plugin_host&) = delete;
    plugin_host& operator=(const plugin_host&) = delete;
    ~plugin_host() {
        for (auto& [name, loaded] : plugins_) loaded.record->close();
    }

    /// Connects the receivers `p` declares. Throws plugin_error when a plugin of that name is
    /// loaded (or loading) or the table has an empty receiver, name_error for a bad name; on any
    /// exception, the plugin's included, nothing it connected stays connected.
    void load(std::shared_ptr<plugin> p) {
        if (!p) throw plugin_error("plugin_host::load: the plugin is null");
        const std::string name = p->name();
        check_plugin_name(name);
        auto record = std::make_shared<detail::plugin_record>(name, p);
        {
            std::unique_lock lock(mutex_);
            const auto [it, added] = plugins_.emplace(name, loaded_plugin{nullptr, record});
            if (!added) {
                throw plugin_error("plugin \"" + name + "\" is already " + (it->second.object ? "loaded" : "being loaded"));
            }
        }
        try {
            plugin_context ctx(*registry_, record);
            const subscription_table table = p->signal_subscriptions(ctx);
            check_table(name, table);
            for (const auto& entry : table) {
                for (const auto& sub : entry.receivers) connect(*record, *entry.signal.signal_, sub);
            }
        } catch (...) {
            record->close();
            std::unique_lock lock(mutex_);
            plugins_.erase(name);
            throw;
        }
        std::unique_lock lock(mutex_);
        plugins_.find(name)->second.object = std::move(p);
    }

    /// Disconnects exactly the receivers plugin `name` connected, whatever its table says now, and
    /// gives the plugin back. Throws plugin_error when no plugin of that name is loaded.
    std::shared_ptr<plugin> unload(std::string_view name) {
        loaded_plugin gone;
        {
            std::unique_lock lock(mutex_);
            const auto it = plugins_.find(name);
            if (it == plugins_.end() || !it->second.object) {
                throw plugin_error("plugin \"" + std::string(name) + "\" is not loaded");
            }
            gone = std::move(it->second);
            plugins_.erase(it);
        }
        gone.record->close();
        return std::move(gone.object);
    }

    /// Whether a plugin called `name` is loaded.
    bool loaded(std::string_view name) const {
        std::shared_lock lock(mutex_);
        const auto it = plugins_.find(name);
        return it != plugins_.end() && it->second.object;
    }

    /// The names of the loaded plugins, sorted.
    std::vector<std::string> names() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        for (const auto& [name, loaded] : plugins_) {
            if (loaded.object) out.push_back(name);
        }
        return out;
    }

private:
    struct loaded_plugin {
        std::shared_ptr<plugin> object;  // null while loading
        std::shared_ptr<detail::plugin_record> record;
    };

    static void check_plugin_name(const std::string& name) {
        detail::check_name("plugin", name);
        if (const auto at = name.find(plugin_separator); at != std::string::npos) {
            throw name_error("plugin name \"" + name + "\" has the separator '" + std::string(1, plugin_separator) +
                             "' at byte " + std::to_string(at) + " (it separates plugin and signal names in ext)");
        }
    }

    static void check_table(const std::string& name, const subscription_table& table) {
        for (const auto& entry : table) {
            const auto& s = entry.signal.get();
            for (std::size_t i = 0; i < entry.receivers.size(); ++i) {
                if (!entry.receivers[i].receiver) {
                    throw plugin_error("plugin \"" + name + "\": receiver #" + std::to_string(i) + " for signal " +
                                       s.namespace_name() + "/" + s.name() + " is empty");
                }
            }
        }
    }

    static void connect(detail::plugin_record& record, ::beacon::signal& target, const subscription& sub) {
        record.add([&](const std::shared_ptr<plugin>& owner) {
            auto held = signal_view::hold(owner, sub.receiver);
            return sub.sender ? target.connect(*sub.sender, std::move(held)) : target.connect(std::move(held));
        });
    }

    registry* registry_;
    mutable std::shared_mutex mutex_;
    std::map<std::string, loaded_plugin, std::less<>> plugins_;
};

}  // namespace beacon
