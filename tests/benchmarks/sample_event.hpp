#pragma once
// The event the wire-format and outbound benchmarks encode: a Kinto record created by alice
// (297 bytes in beacon's envelope once stamped), with one impacted record; not stamped.
#include <beacon/event.hpp>

#include <optional>

namespace beacon_bench {

inline beacon::event kinto_record() {
    beacon::event e("blog-api", {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"id", "a1"}});
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.user_id = "basicauth:alice";
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "a1"}, {"title", "Hello"}}});
    e.timestamp = 1453896392123;
    return e;
}

}  // namespace beacon_bench
