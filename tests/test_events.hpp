#pragma once
// Events and filters shared by several test files.
#include <beacon/event.hpp>
#include <beacon/filter.hpp>

#include <optional>
#include <string>
#include <utility>

namespace test_events {

// A change to `resource` by `user`, as a storage layer would send it.
inline beacon::event change(beacon::action a, std::string resource, std::string user = "alice") {
    beacon::event e("storage");
    e.action = a;
    e.resource_name = std::move(resource);
    e.user_id = std::move(user);
    e.timestamp = 1000;
    return e;
}

// `e` without its identity (id, source, type, trace, cause), to compare what two sends carried.
inline beacon::event without_identity(beacon::event e) {
    e.id = {};
    e.source.clear();
    e.type.clear();
    e.trace = {};
    e.cause = {};
    return e;
}

/// A filter that counts how often it is evaluated and returns `result`.
inline beacon::filter counting(int& evaluations, bool result) {
    return beacon::where([&evaluations, result](const beacon::event&) {
        ++evaluations;
        return result;
    });
}

// A record change as Kinto's request would produce it (route ids in `data`).
inline beacon::event record_event(beacon::action a, const std::string& id, const std::string& user) {
    beacon::event e("kinto", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"record_id", id}});
    e.action = a;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/" + id;
    e.user_id = user;
    e.timestamp = 1453896392123;
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", id}}});
    return e;
}

}  // namespace test_events
