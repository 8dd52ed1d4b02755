#pragma once
/// \file
/// The core signal catalogue: CKAN's and Kinto's core signals, each with its sender and the keys
/// its event carries, and the helper a host calls to declare them before sealing `core`.

#include <beacon/registry.hpp>

#include <array>
#include <string_view>

namespace beacon {

/// One signal of the core catalogue.
struct core_signal {
    std::string_view name;     ///< Its name in `core`.
    std::string_view origin;   ///< Where it comes from: "ckan" or "kinto".
    std::string_view sender;   ///< What the event's `sender` is.
    std::string_view keys;     ///< What the event carries: `data` keys and the event fields that are set.
    std::string_view summary;  ///< When the host sends it.
};

/// CKAN's core signals (ckan.lib.signals) and Kinto's resource events, in that order.
inline constexpr std::array<core_signal, 16> core_signal_catalogue{{
    {"request_started", "ckan", "the application's name", "data: path, method",
     "the request context is set up, before any request processing"},
    {"request_finished", "ckan", "the application's name", "data: path, method, status",
     "right before the response is sent to the client"},
    {"register_blueprint", "ckan", "the blueprint type (dataset, resource, group, organization)",
     "data: blueprint", "a blueprint is about to be registered in the application"},
    {"resource_download", "ckan", "the resource id", "none",
     "just before the file of an uploaded resource is sent to the user"},
    {"failed_login", "ckan", "the user name that failed", "none", "after a failed login attempt"},
    {"user_created", "ckan", "the new user's name", "data: user", "a new user was created"},
    {"user_logged_in", "ckan", "the user's name", "data: user", "a user logged in"},
    {"user_logged_out", "ckan", "the user's name", "data: user", "a user logged out"},
    {"request_password_reset", "ckan", "the user's name", "data: user",
     "just after the mail with the password reset link was sent"},
    {"perform_password_reset", "ckan", "the user's name", "data: user",
     "the user submitted the reset form with a new password"},
    {"action_succeeded", "ckan", "the action name (package_create, ...)", "data: context, data_dict, result",
     "an action finished without an exception"},
    {"resource_read", "kinto",
     "who made the request: the user's name (its id is in user_id), or the application's name for the "
     "host's own work",
     "action (read), resource_name, uri, user_id, timestamp; data: the ids (bucket_id, collection_id, id); "
     "impacted_records: the records read, as new",
     "resources were read, inside the request, before the answer"},
    {"resource_changed", "kinto",
     "who made the request: the user's name (its id is in user_id), or the application's name for the "
     "host's own work",
     "action (create, update, delete), resource_name, uri, user_id, timestamp; data: the ids (bucket_id, "
     "collection_id, id); impacted_records: {old, new} (create: new only; delete: old only)",
     "resources changed, inside the transaction, before commit; a receiver's exception aborts it"},
    {"after_resource_read", "kinto", "as resource_read", "as resource_read",
     "after the transaction that read resources committed"},
    {"after_resource_changed", "kinto", "as resource_changed", "as resource_changed",
     "after the transaction that changed resources committed"},
    {"server_flushed", "kinto", "as resource_changed", "user_id, timestamp",
     "the whole storage was flushed (Kinto's flush endpoint)"},
}};

/// Declares every catalogue signal in `reg.core()`; call it before `reg.core().seal()` (after,
/// a missing one throws unknown_signal_error). Declaring twice changes nothing.
inline void declare_core_signals(registry& reg) {
    for (const auto& s : core_signal_catalogue) reg.core().signal(s.name);
}

}  // namespace beacon
