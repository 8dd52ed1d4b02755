#pragma once
/// \file
/// Listeners from configuration (Kinto's `event_listeners`): listener types registered by name,
/// and a loader that builds each configured listener and connects it with its filter.

#include <beacon/async.hpp>
#include <beacon/connection.hpp>
#include <beacon/duration_histogram.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/filter.hpp>
#include <beacon/filtered_signal.hpp>
#include <beacon/registry.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

namespace beacon {

class outbox;  // <beacon/outbox.hpp>: what the `outbox` option of a listener type names

/// A listener: the receiver a listener type builds for one alias of the configuration.
using listener = std::function<void(const event&)>;

/// What a listener factory gets: the alias, its options, its filter, and where they are in the
/// configuration; and `keep`, to hand the loader connections the factory made elsewhere.
struct listener_context {
    /// The context of `name`, whose options `settings` live at `where` in settings loaded into
    /// `into`; it passes every event until the loader sets `filter`.
    listener_context(std::string name = {}, nlohmann::json settings = {}, registry* into = nullptr, std::string where = {})
        : alias(std::move(name)), options(std::move(settings)), reg(into), prefix(std::move(where)) {}

    std::string alias;        ///< The listener's alias ("tracker").
    nlohmann::json options;   ///< Its settings as an object: "use", "actions", "resources", and its own keys.
    registry* reg = nullptr;  ///< The registry the listener is loaded into.
    std::string prefix;       ///< Where the options live: "/event_listeners/tracker" or, flat, "/event_listeners.tracker.".
    /// What the loader connects the listener with: its actions and resources (for a factory that
    /// also observes something else, e.g. `resource_notifier::on_after_commit`, and applies it itself).
    ::beacon::filter filter;
    /// Whether the loader delivers this alias asynchronously (its "async" setting, which the
    /// factory does not see in `options`).
    bool async = false;
    /// The outboxes the host registered (listener_types::add_outbox), by name.
    std::map<std::string, ::beacon::outbox*, std::less<>> outboxes;
    /// Where `keep` puts connections; copies of the context share it, and the loader empties it.
    std::shared_ptr<std::vector<scoped_connection>> kept = std::make_shared<std::vector<scoped_connection>>();
    /// Where `hold` puts what the listener needs while loaded; shared like `kept`.
    std::shared_ptr<std::vector<std::shared_ptr<void>>> held = std::make_shared<std::vector<std::shared_ptr<void>>>();
    /// The outboxes claimed by the aliases of one load_listeners call (each serves one alias).
    std::shared_ptr<std::set<const ::beacon::outbox*>> claimed = std::make_shared<std::set<const ::beacon::outbox*>>();

    /// Hands `c` to the loader (from the factory): it is disconnected when this alias is unloaded,
    /// or at once when loading fails (all or nothing, like the listener's own connections).
    void keep(connection c) const { kept->emplace_back(std::move(c)); }

    /// Hands `resource` (a relay) to the loader (from the factory): it is released when this alias
    /// is unloaded, after its connections, or at once when loading fails.
    void hold(std::shared_ptr<void> resource) const { held->push_back(std::move(resource)); }

    /// The outbox the option `name` names, claimed for this alias. Throws config_error naming the
    /// option when it is not a string, names no registered outbox, or names one another alias of
    /// the same load claimed (an outbox's rows carry no destination: it serves one alias).
    ::beacon::outbox& outbox(std::string_view name) const {
        const auto value = options.find(name);
        if (value == options.end() || !value->is_string()) fail(name, "expected the name of an outbox the host registered");
        const auto it = outboxes.find(value->get_ref<const std::string&>());
        if (it == outboxes.end()) {
            std::string known;
            for (const auto& [n, box] : outboxes) known += (known.empty() ? "" : ", ") + n;
            fail(name, "unknown outbox \"" + detail::excerpt(value->get_ref<const std::string&>(), 64) + "\" (registered: " +
                           (known.empty() ? "none" : known) + ")");
        }
        if (!claimed->insert(it->second).second) {
            fail(name, "outbox \"" + it->first + "\" serves another alias already (its rows carry no destination)");
        }
        return *it->second;
    }

    /// The JSON pointer of option `name` in the configuration, for error messages.
    std::string key(std::string_view name) const {
        const bool flat = !prefix.empty() && prefix.back() == '.';
        return flat ? (nlohmann::json::json_pointer() / (prefix.substr(1) + std::string(name))).to_string()
                    : (nlohmann::json::json_pointer(prefix) / std::string(name)).to_string();
    }

    /// Throws config_error naming this alias and option `name`.
    [[noreturn]] void fail(std::string_view name, const std::string& details) const {
        throw config_error(alias, key(name), details);
    }
};

/// Builds a listener from its context; throws config_error (see `listener_context::fail`) for bad options.
using listener_factory = std::function<listener(const listener_context&)>;

/// Listener types by name ("use": "<type>"); thread-safe.
class listener_types {
public:
    /// Registers `factory` as type `name`; throws misuse_error when the name is taken or empty,
    /// or the factory empty.
    void add(std::string name, listener_factory factory) {
        if (name.empty()) throw misuse_error("listener_types::add: a listener type needs a name");
        if (!factory) throw misuse_error("listener_types::add: listener type \"" + name + "\" has no factory");
        std::unique_lock lock(mutex_);
        if (!factories_.emplace(name, std::move(factory)).second) {
            throw misuse_error("listener_types::add: listener type \"" + name + "\" is already registered");
        }
    }

    /// The factory of type `name`, or an empty function.
    listener_factory find(std::string_view name) const {
        std::shared_lock lock(mutex_);
        const auto it = factories_.find(name);
        return it == factories_.end() ? listener_factory() : it->second;
    }

    /// Registers `box` as the outbox `name`, for the listener types that take an `outbox` option
    /// (listener_context::outbox); `box` must outlive the listeners loaded with it. Throws
    /// misuse_error when the name is taken or empty.
    void add_outbox(std::string name, ::beacon::outbox& box) {
        if (name.empty()) throw misuse_error("listener_types::add_outbox: an outbox needs a name");
        std::unique_lock lock(mutex_);
        if (!outboxes_.emplace(name, &box).second) {
            throw misuse_error("listener_types::add_outbox: outbox \"" + name + "\" is already registered");
        }
    }

    /// The registered outboxes, by name.
    std::map<std::string, ::beacon::outbox*, std::less<>> outboxes() const {
        std::shared_lock lock(mutex_);
        return outboxes_;
    }

    /// The registered type names, sorted.
    std::vector<std::string> names() const {
        std::shared_lock lock(mutex_);
        std::vector<std::string> out;
        for (const auto& [name, factory] : factories_) out.push_back(name);
        return out;
    }

private:
    mutable std::shared_mutex mutex_;
    std::map<std::string, listener_factory, std::less<>> factories_;
    std::map<std::string, ::beacon::outbox*, std::less<>> outboxes_;
};

/// What a configured listener did since it was loaded (a snapshot).
struct listener_stats {
    std::uint64_t calls = 0;        ///< Calls of the listener (in an async listener's worker, for an async one).
    std::uint64_t failures = 0;     ///< Calls that threw.
    duration_histogram duration;    ///< How long the calls took, failed ones included.
};

namespace detail {

// Times a configured listener's calls: what listener_stats reads.
class listener_timer {
public:
    void record(std::chrono::steady_clock::duration took, bool failed) noexcept {
        durations_.record(took);
        if (failed) failures_.fetch_add(1, std::memory_order_relaxed);
    }

    listener_stats stats() const noexcept {
        listener_stats out;
        out.duration = durations_.snapshot();
        out.calls = out.duration.count;
        out.failures = failures_.load(std::memory_order_relaxed);
        return out;
    }

private:
    duration_recorder durations_;
    std::atomic<std::uint64_t> failures_{0};
};

// `l`, timed by `timer`.
inline listener timed(listener l, std::shared_ptr<listener_timer> timer) {
    return [l = std::move(l), timer = std::move(timer)](const event& e) {
        const auto start = std::chrono::steady_clock::now();
        try {
            l(e);
        } catch (...) {
            timer->record(std::chrono::steady_clock::now() - start, true);
            throw;
        }
        timer->record(std::chrono::steady_clock::now() - start, false);
    };
}

}  // namespace detail

/// The listeners one `load_listeners` call connected; destroying it unloads them all.
class loaded_listeners {
public:
    loaded_listeners() = default;

    /// The aliases still loaded, in connection order (nested form: sorted by alias; flat form: as listed).
    std::vector<std::string> aliases() const {
        std::vector<std::string> out;
        for (const auto& l : listeners_) out.push_back(l.alias);
        return out;
    }

    /// Disconnects the listener `alias`; returns false when no such alias is loaded. Once the last
    /// listener on a signal is gone, that signal has no receiver of ours left (lazy sends build nothing).
    bool unload(std::string_view alias) {
        const auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l.alias == alias; });
        if (it == listeners_.end()) return false;
        listeners_.erase(it);
        signals_.erase(std::remove_if(signals_.begin(), signals_.end(), [](const auto& s) { return s->receiver_count() == 0; }),
                       signals_.end());
        return true;
    }

    /// Disconnects every listener: the signals they listened to have no receiver of ours left.
    void unload_all() {
        listeners_.clear();
        signals_.clear();
    }

    /// The asynchronous receiver of the listener `alias` (its counters, its drain), or nullptr
    /// when no such alias is loaded or it is synchronous.
    async_receiver* async(std::string_view alias) const {
        const auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l.alias == alias; });
        return it == listeners_.end() ? nullptr : it->async.get();
    }

    /// What the listener `alias` did since it was loaded (calls, failures, durations), or nothing
    /// when no such alias is loaded. Every configured listener is timed: two clock reads per call.
    std::optional<listener_stats> stats(std::string_view alias) const {
        const auto it = std::find_if(listeners_.begin(), listeners_.end(), [&](const auto& l) { return l.alias == alias; });
        if (it == listeners_.end()) return std::nullopt;
        return it->timer->stats();
    }

    /// Drains every asynchronous listener until `deadline`; returns whether all are idle.
    bool drain(std::chrono::steady_clock::time_point deadline) {
        bool idle = true;
        for (auto& l : listeners_) idle = (!l.async || l.async->drain(deadline)) && idle;
        return idle;
    }

private:
    friend loaded_listeners load_listeners(registry&, const nlohmann::json&, const listener_types&, const failure_handler&);

    struct loaded {
        std::string alias;
        std::shared_ptr<detail::listener_timer> timer;
        std::vector<std::shared_ptr<void>> held;  // released after the connections (declared before them)
        std::unique_ptr<async_receiver> async;  // destroyed after the connections (declared before them)
        std::vector<scoped_connection> connections;
    };

    // Declared first so that it is destroyed last, after the connections made through it.
    std::vector<std::unique_ptr<filtered_signal>> signals_;
    std::vector<loaded> listeners_;
};

namespace detail {

// A configured listener's "async" setting: the adapter's options, and whether the listener
// listens after commit.
struct async_setting {
    async_options options;
    bool after_commit = false;
};

// Reads a configured listener's "async" setting from its `settings` (an object): absent, null or
// false: none; true: the defaults; an object of options; in the flat form also "async.<option>"
// keys. `key_of(name)` is the JSON pointer of the listener option `name`; errors are config_errors
// on `alias` naming the offending key.
inline std::optional<async_setting> read_async_setting(const nlohmann::json& settings, const std::string& alias,
                                                      const std::function<std::string(std::string_view)>& key_of) {
    using pointer = nlohmann::json::json_pointer;
    constexpr std::string_view known = "workers, queue, on_full, block_timeout, shutdown_timeout, spin, order_by or after_commit";
    std::vector<std::tuple<std::string, const nlohmann::json*, std::string>> given;  // option, value, key
    const auto whole = settings.find("async");
    const bool enabled_whole = whole != settings.end() && !whole->is_null() && !(whole->is_boolean() && !whole->get<bool>());
    if (whole != settings.end() && !whole->is_null() && !whole->is_boolean()) {
        if (!whole->is_object()) {
            throw config_error(alias, key_of("async"), std::string("expected an object of async options or a boolean, got ") + whole->type_name());
        }
        for (const auto& [name, value] : whole->items()) given.emplace_back(name, &value, (pointer(key_of("async")) / name).to_string());
    }
    for (const auto& [key, value] : settings.items()) {  // the flat form: "async.workers": "2"
        if (key.size() > 6 && key.compare(0, 6, "async.") == 0) given.emplace_back(key.substr(6), &value, key_of(key));
    }
    if (!enabled_whole && given.empty()) return std::nullopt;
    if (whole != settings.end() && !enabled_whole) {
        throw config_error(alias, std::get<2>(given.front()), "an async option is set while \"async\" is " + whole->dump());
    }

    async_setting out;
    out.options.name = alias;
    std::set<std::string> seen;
    for (const auto& [name, value, key] : given) {
        auto fail = [&, &k = key](const std::string& details) { throw config_error(alias, k, details); };
        if (!seen.insert(name).second) fail("async option \"" + name + "\" is given twice");
        // Numbers: a JSON integer, or a string of digits (the flat form comes from ini files).
        auto number = [&, &v = *value](std::uint64_t low, std::uint64_t high) {
            std::uint64_t n = 0;
            bool ok = v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
            if (ok) {
                n = v.get<std::uint64_t>();
            } else if (v.is_string()) {
                const auto& text = v.get_ref<const std::string&>();
                const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), n);
                ok = err == std::errc() && end == text.data() + text.size() && !text.empty();
            }
            if (!ok || n < low || n > high) {
                fail("expected an integer from " + std::to_string(low) + " to " + std::to_string(high) + ", got " +
                     v.dump().substr(0, 40));
            }
            return n;
        };
        auto word = [&, &v = *value, &k = key](std::initializer_list<std::string_view> words) {
            std::string list;
            for (auto w : words) {
                if (v.is_string() && v.get_ref<const std::string&>() == w) return w;
                list += (list.empty() ? "" : ", ") + std::string(w);
            }
            throw config_error(alias, k, "expected one of " + list + ", got " + v.dump().substr(0, 40));
        };
        if (name == "workers") {
            out.options.workers = static_cast<std::size_t>(number(1, async_options::max_workers));
        } else if (name == "queue") {
            out.options.queue = static_cast<std::size_t>(number(1, async_options::max_queue));
        } else if (name == "block_timeout") {  // milliseconds
            out.options.block_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(number(0, 3'600'000)));
        } else if (name == "shutdown_timeout") {  // milliseconds
            const auto most = static_cast<std::uint64_t>(async_options::max_shutdown_timeout.count());
            out.options.shutdown_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(number(0, most)));
        } else if (name == "spin") {  // microseconds
            const auto most = static_cast<std::uint64_t>(async_options::max_spin.count());
            out.options.spin = std::chrono::microseconds(static_cast<std::int64_t>(number(0, most)));
        } else if (name == "on_full") {
            const auto w = word({"block", "drop_newest", "drop_oldest", "throw_error"});
            out.options.on_full = w == "block"         ? full_policy::block
                                  : w == "drop_newest" ? full_policy::drop_newest
                                  : w == "drop_oldest" ? full_policy::drop_oldest
                                                       : full_policy::throw_error;
        } else if (name == "order_by") {
            out.options.order_by = word({"sender", "uri"}) == "uri" ? order_key(by_uri) : order_key(by_sender);
        } else if (name == "after_commit") {
            if (value->is_boolean()) out.after_commit = value->get<bool>();
            else out.after_commit = word({"true", "false"}) == "true";
        } else {
            fail("unknown async option \"" + name.substr(0, 40) + "\" (expected " + std::string(known) + ")");
        }
    }
    return out;
}

struct listener_spec {
    listener_context context;
    listener_factory factory;
    std::vector<action> actions;
    std::set<std::string> resources;
    bool reads = false;   // connects to resource_read (after commit: after_resource_read)
    bool writes = false;  // connects to resource_changed (after commit: after_resource_changed)
    std::optional<async_setting> async{};  // "async": delivered by an async_receiver
};

inline std::vector<std::string> split_words(const std::string& text) {
    std::istringstream in(text);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

// Reads "actions" or "resources": an array of strings, or one string of space-separated words.
// Returns each word with the key naming it.
inline std::vector<std::pair<std::string, std::string>> read_words(const listener_context& c, const std::string& name) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto it = c.options.find(name);
    if (it == c.options.end() || it->is_null()) return out;
    if (it->is_string()) {
        for (auto& w : split_words(it->get<std::string>())) out.emplace_back(std::move(w), c.key(name));
        return out;
    }
    if (!it->is_array()) c.fail(name, std::string("expected an array of strings, got ") + it->type_name());
    for (std::size_t i = 0; i < it->size(); ++i) {
        const auto& w = (*it)[i];
        const auto key = (nlohmann::json::json_pointer(c.key(name)) / i).to_string();
        if (!w.is_string()) throw config_error(c.alias, key, std::string("expected a string, got ") + w.type_name());
        if (w.get_ref<const std::string&>().empty()) throw config_error(c.alias, key, "empty name");
        out.emplace_back(w.get<std::string>(), key);
    }
    return out;
}

inline listener_spec read_spec(listener_context context, const listener_types& types) {
    listener_spec spec{std::move(context), {}, {}, {}};
    const auto& c = spec.context;
    const auto use = c.options.find("use");
    if (use == c.options.end()) c.fail("use", "missing required key \"use\" (the listener type)");
    if (!use->is_string()) c.fail("use", std::string("expected a listener type name, got ") + use->type_name());
    spec.factory = types.find(use->get<std::string>());
    if (!spec.factory) {
        std::string known;
        for (const auto& name : types.names()) known += (known.empty() ? "" : ", ") + name;
        c.fail("use", "unknown listener type \"" + use->get<std::string>() + "\" (known: " +
                          (known.empty() ? "none" : known) + ")");
    }
    for (const auto& [word, key] : read_words(c, "actions")) {
        const auto a = parse_action(word);
        if (!a) {
            throw config_error(c.alias, key, "unknown action \"" + word + "\" (expected create, update, delete or read)");
        }
        spec.actions.push_back(*a);
    }
    // Kinto's default: every change, and reads only when named.
    if (spec.actions.empty()) spec.actions = {action::create, action::update, action::delete_};
    for (auto& [word, key] : read_words(c, "resources")) spec.resources.insert(std::move(word));
    for (action a : spec.actions) (a == action::read ? spec.reads : spec.writes) = true;
    spec.async = read_async_setting(c.options, c.alias, [&c](std::string_view name) { return c.key(name); });
    spec.context.async = spec.async.has_value();
    spec.context.outboxes = types.outboxes();
    // The loader's own option: the factory does not see it (nor the flat form's "async.<key>").
    for (auto it = spec.context.options.begin(); it != spec.context.options.end();) {
        it = it.key() == "async" || it.key().rfind("async.", 0) == 0 ? spec.context.options.erase(it) : std::next(it);
    }
    spec.context.filter = with_actions(spec.actions);
    if (!spec.resources.empty()) spec.context.filter = spec.context.filter & with_resources(spec.resources);
    return spec;
}

inline std::vector<listener_spec> read_specs(registry& reg, const nlohmann::json& settings, const listener_types& types) {
    using pointer = nlohmann::json::json_pointer;
    if (!settings.is_object()) throw config_error("", "", std::string("expected a settings object, got ") + settings.type_name());
    std::vector<listener_spec> specs;
    const auto list = settings.find("event_listeners");
    if (list == settings.end() || list->is_null()) return specs;
    const auto claimed = std::make_shared<std::set<const ::beacon::outbox*>>();  // one set for the whole load
    if (list->is_object()) {
        for (const auto& [alias, options] : list->items()) {
            const auto here = (pointer("/event_listeners") / alias).to_string();
            if (alias.empty()) throw config_error(alias, here, "empty alias");
            if (!options.is_object()) {
                throw config_error(alias, here, std::string("expected an object of listener settings, got ") + options.type_name());
            }
            specs.push_back(read_spec({alias, options, &reg, here}, types));
            specs.back().context.claimed = claimed;
        }
        return specs;
    }
    if (!list->is_string()) {
        throw config_error("", "/event_listeners",
                           std::string("expected an object or a string of space-separated aliases, got ") + list->type_name());
    }
    // Kinto's flat form: "event_listeners": "a b", "event_listeners.a.use": ..., "event_listeners.a.<option>": ...
    std::set<std::string> seen;
    for (const auto& alias : split_words(list->get<std::string>())) {
        if (!seen.insert(alias).second) throw config_error(alias, "/event_listeners", "alias \"" + alias + "\" is listed twice");
        const std::string prefix = "event_listeners." + alias + ".";
        nlohmann::json options = nlohmann::json::object();
        for (const auto& [key, value] : settings.items()) {
            if (key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0) options[key.substr(prefix.size())] = value;
        }
        specs.push_back(read_spec({alias, std::move(options), &reg, "/" + prefix}, types));
        specs.back().context.claimed = claimed;
    }
    return specs;
}

inline ::beacon::signal& listener_signal(const listener_spec& spec, registry& reg, const char* name) {
    try {
        return reg.core().signal(name);
    } catch (const unknown_signal_error&) {
        spec.context.fail("actions", std::string("needs the signal core/") + name +
                                         ", which the host's sealed core namespace does not declare");
    }
}

}  // namespace detail

/// Loads Kinto's `event_listeners` from `settings`, either nested
/// (`{"event_listeners": {"<alias>": {"use": "<type>", "actions": [...], "resources": [...], ...}}}`)
/// or flat (`"event_listeners": "a b"`, `"event_listeners.a.use": "<type>"`, ...). Each alias's
/// listener is built once, by its type's factory, then connected to core `resource_changed` (for
/// create, update, delete) and/or `resource_read` (for read) with the filter of its actions
/// (default create, update, delete) and resources (none: all); aliases are connected, and so called,
/// in the order of `loaded_listeners::aliases()`. An alias with an `async` setting is delivered by
/// an async_receiver; what its listener throws there is reported as a failure of part::listener
/// (`where`: the alias; `receiver`: `listener type "<use>"`) to `on_failure` (empty: the
/// process-wide sink). With `"after_commit": true` it is connected to `after_resource_changed` /
/// `after_resource_read` instead.
/// Throws config_error naming the alias and key of the first bad setting; then nothing is connected.
inline loaded_listeners load_listeners(registry& reg, const nlohmann::json& settings, const listener_types& types,
                                       const failure_handler& on_failure = {}) {
    // Settings are outside input: reading them copies and compares values recursively, so a
    // document nested past json_limits' default depth is refused first, without recursion.
    constexpr json_limits limits{};
    if (const auto at = detail::too_deep(settings, limits.max_depth)) {
        throw config_error("", detail::pointer_text(*at),
                           "nests deeper than " + std::to_string(limits.max_depth) + " levels (json_limits::max_depth)");
    }
    auto specs = detail::read_specs(reg, settings, types);
    // Index 0: before commit; 1: after commit (async listeners with "after_commit").
    constexpr const char* changed_names[] = {"resource_changed", "after_resource_changed"};
    constexpr const char* read_names[] = {"resource_read", "after_resource_read"};
    ::beacon::signal* changed[2] = {};
    ::beacon::signal* read[2] = {};
    for (const auto& spec : specs) {
        const std::size_t phase = spec.async && spec.async->after_commit ? 1 : 0;
        if (spec.writes && !changed[phase]) changed[phase] = &detail::listener_signal(spec, reg, changed_names[phase]);
        if (spec.reads && !read[phase]) read[phase] = &detail::listener_signal(spec, reg, read_names[phase]);
    }

    std::vector<std::shared_ptr<listener>> built;
    std::vector<std::unique_ptr<async_receiver>> asyncs;
    std::vector<std::shared_ptr<detail::listener_timer>> timers;
    for (const auto& spec : specs) {
        const auto& c = spec.context;
        const std::string use = c.options.at("use").get<std::string>();
        listener l;
        try {
            l = spec.factory(c);
        } catch (const error&) {
            throw;
        } catch (const std::exception& e) {
            c.fail("use", "listener type \"" + use + "\" failed: " + e.what());
        }
        if (!l) c.fail("use", "listener type \"" + use + "\" built no listener");
        l = detail::timed(std::move(l), timers.emplace_back(std::make_shared<detail::listener_timer>()));
        auto& async = asyncs.emplace_back();
        if (spec.async) {
            auto options = spec.async->options;
            options.on_failure = on_failure;
            async = std::make_unique<async_receiver>(std::move(l), std::move(options), "listener type \"" + use + "\"",
                                                     part::listener);
            l = async->receiver();
        }
        built.push_back(std::make_shared<listener>(std::move(l)));
    }

    loaded_listeners out;
    filtered_signal* on_changed[2] = {};
    filtered_signal* on_read[2] = {};
    for (std::size_t phase = 0; phase < 2; ++phase) {
        if (changed[phase]) on_changed[phase] = out.signals_.emplace_back(std::make_unique<filtered_signal>(*changed[phase])).get();
        if (read[phase]) on_read[phase] = out.signals_.emplace_back(std::make_unique<filtered_signal>(*read[phase])).get();
    }
    for (std::size_t i = 0; i < specs.size(); ++i) {
        const auto& spec = specs[i];
        const filter& test = spec.context.filter;
        const std::size_t phase = spec.async && spec.async->after_commit ? 1 : 0;
        auto call = [l = built[i]](const event& e) { (*l)(e); };
        auto& loaded = out.listeners_.emplace_back(
            loaded_listeners::loaded{spec.context.alias, timers[i], std::move(*spec.context.held), std::move(asyncs[i]),
                                     std::move(*spec.context.kept)});
        if (spec.writes) loaded.connections.emplace_back(on_changed[phase]->connect(test, call));
        if (spec.reads) loaded.connections.emplace_back(on_read[phase]->connect(test, call));
    }
    return out;
}

}  // namespace beacon
