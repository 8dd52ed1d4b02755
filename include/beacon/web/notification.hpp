#pragma once
/// \file
/// Flask-Notifications' event and filters on beacon's event: a `notification` (event_id,
/// event_type, title, body, sender, recipients, tags, timestamp, expiration) travels as a
/// beacon::event, its fields in `data`; filters and an SSE audience and encoder read them back.

#include <beacon/error.hpp>
#include <beacon/event.hpp>
#include <beacon/filter.hpp>
#include <beacon/web/detail/notification_fields.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace beacon::web {

/// Deprecated: a new event id as text; use `event_id::make().to_string()` (a notification's
/// event_id is its event's id).
[[deprecated("a notification's event_id is its event's id: use beacon::event_id::make().to_string()")]]
inline std::string make_event_id() { return event_id::make().to_string(); }

/// Flask-Notifications' Event. `to_event` puts `sender` and `timestamp` in the event's own
/// fields and the rest in `data` under the same names (`expiration_datetime` in milliseconds
/// since epoch, or null).
struct notification {
    std::string event_id;                 ///< Unique id; empty: the event's id (a UUIDv7), made by `to_event`.
    std::string event_type;               ///< "user", "system", ...
    std::string title;                    ///< A short text.
    std::string body;                     ///< The message.
    std::string sender;                   ///< Who sends it.
    std::vector<std::string> recipients;  ///< Who it is for (user ids).
    std::vector<std::string> tags;        ///< Free labels.
    std::int64_t timestamp = 0;           ///< Milliseconds since epoch; 0: stamped when sent.
    std::optional<std::int64_t> expiration;  ///< Milliseconds since epoch after which it has expired.

    /// The event carrying this notification, stamped (event::stamp): its id is `event_id` when
    /// that is a UUID, else a new one; `data["event_id"]` is `event_id`, or the event's id when empty.
    event to_event() const {
        event e(sender, {{"event_type", event_type},
                         {"title", title},
                         {"body", body},
                         {"recipients", recipients},
                         {"tags", tags},
                         {"expiration_datetime", expiration ? nlohmann::json(*expiration) : nlohmann::json()}});
        e.timestamp = timestamp;
        e.stamp();
        if (const auto given = ::beacon::event_id::parse(event_id); given && !given->is_nil()) e.id = *given;
        e.data["event_id"] = event_id.empty() ? e.id.to_string() : event_id;
        return e;
    }

    /// The notification an event carries; a missing field is left empty, a field of the wrong
    /// type throws decode_error naming it ("/data/recipients").
    static notification from_event(const event& e) {
        notification n;
        n.sender = e.sender;
        n.timestamp = e.timestamp;
        const auto text = [&](const char* key, std::string& out) {
            const auto it = e.data.find(key);
            if (it == e.data.end() || it->is_null()) return;
            if (!it->is_string()) throw decode_error(std::string("/data/") + key, std::string("expected a string, got ") + it->type_name());
            out = it->get<std::string>();
        };
        const auto list = [&](const char* key, std::vector<std::string>& out) {
            const auto it = e.data.find(key);
            if (it == e.data.end() || it->is_null()) return;
            const auto bad = [&] { return decode_error(std::string("/data/") + key, "expected an array of strings"); };
            if (!it->is_array()) throw bad();
            for (const auto& v : *it) {
                if (!v.is_string()) throw bad();
                out.push_back(v.get<std::string>());
            }
        };
        text("event_id", n.event_id);
        if (n.event_id.empty() && !e.id.is_nil()) n.event_id = e.id.to_string();
        text("event_type", n.event_type);
        text("title", n.title);
        text("body", n.body);
        list("recipients", n.recipients);
        list("tags", n.tags);
        const auto it = e.data.find("expiration_datetime");
        if (it != e.data.end() && !it->is_null()) {
            if (!it->is_number_integer()) {
                throw decode_error("/data/expiration_datetime", "expected milliseconds since epoch (an integer) or null");
            }
            n.expiration = it->get<std::int64_t>();
        }
        return n;
    }
};

/// The notification's JSON as Flask-Notifications' pages read it: event_id, event_type, title,
/// body, timestamp (ms), sender, recipients, tags, expiration_datetime (ms or null). Usable as
/// `sse_options::encode`.
inline std::string notification_json(const event& e) {
    nlohmann::json j = e.data;
    j["sender"] = e.sender;
    j["timestamp"] = e.timestamp;
    return j.dump();
}

/// Flask-Notifications' WithRecipients: passes events whose recipients are exactly `recipients`
/// (as sets: order and repeats do not matter).
inline filter with_recipients(std::vector<std::string> recipients) {
    std::set<std::string> want(recipients.begin(), recipients.end());
    return where([want = std::move(want)](const event& e) {
        const auto* list = detail::string_list(e, "recipients");
        if (!list) return want.empty();
        std::set<std::string> got;
        for (const auto& r : *list) {
            if (!r.is_string()) return false;
            got.insert(r.get<std::string>());
        }
        return got == want;
    });
}

/// Passes events that list `user` among their recipients (who may see a notification).
inline filter with_recipient(std::string user) {
    return where([user = std::move(user)](const event& e) {
        const auto* list = detail::string_list(e, "recipients");
        return list && std::find(list->begin(), list->end(), user) != list->end();
    });
}

/// Flask-Notifications' WithId: passes the event whose event_id is `id`.
inline filter with_id(std::string id) { return with_field("/event_id", std::move(id)); }

/// Flask-Notifications' WithEventType: passes events whose event_type is `type`.
inline filter with_event_type(std::string type) { return with_field("/event_type", std::move(type)); }

/// Passes events carrying `tag` among their tags.
inline filter with_tag(std::string tag) {
    return where([tag = std::move(tag)](const event& e) {
        const auto* list = detail::string_list(e, "tags");
        return list && std::find(list->begin(), list->end(), tag) != list->end();
    });
}

/// Flask-Notifications' Expired: passes events whose expiration is at or before now (read
/// when the filter runs); events without one never expire.
inline filter expired() {
    return where([](const event& e) {
        const auto at = detail::expiration_of(e);
        return at && *at <= event::now_ms();
    });
}

/// Flask-Notifications' Always: passes every event (as a default-constructed filter does).
inline filter always() { return filter(); }

/// An `sse_options::for_user` for notifications: a user receives (and on resume, is replayed)
/// the events listing them among their recipients that have not expired.
inline bool recipient_audience(const event& e, const std::string& user) {
    const auto* list = detail::string_list(e, "recipients");
    if (!list || std::find(list->begin(), list->end(), user) == list->end()) return false;
    const auto at = detail::expiration_of(e);
    return !at || *at > event::now_ms();
}

}  // namespace beacon::web
