#pragma once
/// \file
/// Filters: short-circuiting predicates on an event, composable with `&`, `|`, `^` and `!`.

#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace beacon {

/// What a filter can pass, as far as keyed dispatch is concerned: a superset of the (action,
/// resource name) pairs of the events it passes. `filtered_signal` files a receiver under these keys.
struct filter_scope {
    /// Bit `i` stands for the action numbered `i`; `no_action_bit` for events without an action.
    static constexpr unsigned no_action_bit = 1u << 4;
    /// Every action, and no action.
    static constexpr unsigned all_actions = 0x1f;

    unsigned actions = all_actions;                      ///< The actions the filter may pass (bits).
    std::optional<std::set<std::string>> resources;      ///< The resource names it may pass; none: any.

    /// The bit of an event's action (or of "no action").
    static constexpr unsigned bit(const std::optional<action>& a) noexcept {
        return a ? 1u << static_cast<unsigned>(*a) : no_action_bit;
    }
};

/// A predicate on an event; `a & b` and `a | b` short-circuit, `a ^ b` and `!a` do what they say.
/// Copies share the same predicate; a default-constructed filter passes every event.
class filter {
public:
    /// The predicate type of custom filters.
    using predicate = std::function<bool(const event&)>;

    /// A filter that passes every event.
    filter() : filter([](const event&) { return true; }, {}) {}

    /// A filter running `test`, which passes no event outside `scope`.
    filter(predicate test, filter_scope scope)
        : test_(std::make_shared<const predicate>(std::move(test))), scope_(std::move(scope)) {}

    /// Whether `e` passes.
    bool operator()(const event& e) const { return (*test_)(e); }

    /// The (action, resource) pairs this filter may pass; keyed dispatch files receivers under them.
    const filter_scope& scope() const noexcept { return scope_; }

    /// Passes what both pass; `b` is not evaluated when `a` fails.
    friend filter operator&(const filter& a, const filter& b) {
        filter_scope s;
        s.actions = a.scope_.actions & b.scope_.actions;
        s.resources = a.scope_.resources ? a.scope_.resources : b.scope_.resources;
        if (a.scope_.resources && b.scope_.resources) {
            s.resources.emplace();
            for (const auto& r : *a.scope_.resources) {
                if (b.scope_.resources->count(r)) s.resources->insert(r);
            }
        }
        return filter([a, b](const event& e) { return a(e) && b(e); }, std::move(s));
    }

    /// Passes what either passes; `b` is not evaluated when `a` passes.
    friend filter operator|(const filter& a, const filter& b) {
        return filter([a, b](const event& e) { return a(e) || b(e); }, either(a, b));
    }

    /// Passes what exactly one of them passes.
    friend filter operator^(const filter& a, const filter& b) {
        return filter([a, b](const event& e) { return a(e) != b(e); }, either(a, b));
    }

    /// Passes what `a` does not pass. Its scope is everything: a complement cannot be keyed.
    friend filter operator!(const filter& a) {
        return filter([a](const event& e) { return !a(e); }, {});
    }

private:
    static filter_scope either(const filter& a, const filter& b) {
        filter_scope s;
        s.actions = a.scope_.actions | b.scope_.actions;
        if (a.scope_.resources && b.scope_.resources) {
            s.resources = *a.scope_.resources;
            s.resources->insert(b.scope_.resources->begin(), b.scope_.resources->end());
        }
        return s;
    }

    std::shared_ptr<const predicate> test_;
    filter_scope scope_;
};

/// Passes events whose action is one of `actions` (events without an action never pass).
inline filter with_actions(const std::vector<action>& actions) {
    filter_scope s;
    s.actions = 0;
    for (action a : actions) s.actions |= filter_scope::bit(a);
    const unsigned mask = s.actions;
    return filter([mask](const event& e) { return e.action && (mask & filter_scope::bit(e.action)) != 0; },
                  std::move(s));
}

/// Passes events whose action is `a`.
inline filter with_action(action a) { return with_actions({a}); }

/// Passes events whose resource name is one of `names`.
inline filter with_resources(std::set<std::string> names) {
    filter_scope s;
    s.resources = names;
    return filter([names = std::move(names)](const event& e) { return names.count(e.resource_name) != 0; },
                  std::move(s));
}

/// Passes events whose resource name is `name`.
inline filter with_resource(std::string name) { return with_resources({std::move(name)}); }

/// Passes events whose sender is `sender`.
inline filter with_sender(std::string sender) {
    return filter([sender = std::move(sender)](const event& e) { return e.sender == sender; }, {});
}

/// Passes events whose user id is `user_id`.
inline filter with_user(std::string user_id) {
    return filter([user_id = std::move(user_id)](const event& e) { return e.user_id == user_id; }, {});
}

/// Passes events stamped strictly before `ms` milliseconds since epoch.
inline filter before(std::int64_t ms) {
    return filter([ms](const event& e) { return e.timestamp < ms; }, {});
}

/// Passes events stamped strictly before `t`.
inline filter before(std::chrono::system_clock::time_point t) {
    return before(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

/// Passes events stamped strictly after `ms` milliseconds since epoch.
inline filter after(std::int64_t ms) {
    return filter([ms](const event& e) { return e.timestamp > ms; }, {});
}

/// Passes events stamped strictly after `t`.
inline filter after(std::chrono::system_clock::time_point t) {
    return after(std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

/// Passes events whose `data` holds `value` at the JSON pointer `pointer` ("/bucket_id",
/// "/tags/0"). Throws config_error when `pointer` is not a JSON pointer.
inline filter with_field(const std::string& pointer, nlohmann::json value) {
    std::optional<nlohmann::json::json_pointer> at;
    try {
        at.emplace(pointer);
    } catch (const nlohmann::json::exception& bad) {
        throw config_error("", pointer, std::string("with_field: not a JSON pointer (") + bad.what() + ")");
    }
    return filter(
        [at = std::move(*at), value = std::move(value)](const event& e) {
            return e.data.contains(at) && e.data.at(at) == value;
        },
        {});
}

/// Passes events for which `test` returns true.
inline filter where(filter::predicate test) { return filter(std::move(test), {}); }

}  // namespace beacon
