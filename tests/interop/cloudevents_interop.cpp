// Interop with the CloudEvents JS SDK (npm's `cloudevents` 10): beacon writes CloudEvents JSON
// lines (one with trace context, one with non-ASCII data, one with impacted records), the SDK reads
// and checks each (cloudevents_interop.mjs); the SDK writes events (HTTP.structured bodies, UUIDv4
// ids, with and without traceparent) that beacon reads and compares field by field with what the
// SDK says they hold. Any disagreement on either side fails the test.
// Usage: cloudevents_interop <node> <cloudevents_interop.mjs> <work directory>
#include <beacon/cloudevents.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

namespace {

beacon::event record(const char* id, std::int64_t timestamp) {
    beacon::event e("kinto");
    e.id = *beacon::event_id::parse(id);
    e.source = "/blog-api";
    e.type = "core.resource_changed";
    e.timestamp = timestamp;
    return e;
}

// The events the SDK checks (cloudevents_interop.mjs, `expected`).
std::vector<beacon::event> beacon_events() {
    auto traced = record("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d", 1796283180123);
    traced.action = beacon::action::create;
    traced.resource_name = "record";
    traced.uri = "/buckets/blog/collections/articles/records/a1";
    traced.user_id = "basicauth:alice";
    traced.cause = *beacon::event_id::parse("0190b5e4-7f0b-7000-8000-000000000001");
    traced.trace = beacon::trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE");
    traced.data = {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"record_id", "a1"}};
    traced.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", "a1"}}});

    auto text = record("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4e", 1796283181000);
    text.sender = "blog-api";
    text.data = {{"title", "Café ☕ naïve — 😀 日本語"}, {"tags", {"ü", "ß"}}};

    auto update = record("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4f", 1796283182999);
    update.action = beacon::action::update;
    update.resource_name = "record";
    update.uri = "/buckets/blog/collections/articles/records/a2";
    update.user_id = "basicauth:bob";
    update.data = {{"bucket_id", "blog"}, {"collection_id", "articles"}, {"record_id", "a2"}};
    update.impacted_records.push_back({nlohmann::json{{"id", "a2"}, {"title", "old"}}, nlohmann::json{{"id", "a2"}, {"title", "new"}}});
    update.impacted_records.push_back({nlohmann::json{{"id", "a3"}, {"last_modified", 1764747180999}}, std::nullopt});
    return {traced, text, update};
}

// The event the SDK says it wrote (cloudevents_interop.mjs, `wants`).
beacon::event expected_event(const nlohmann::json& j) {
    beacon::event e;
    e.id = *beacon::event_id::parse(j.at("id").get<std::string>());
    e.timestamp = j.at("timestamp").get<std::int64_t>();
    e.source = j.at("source").get<std::string>();
    e.type = j.at("type").get<std::string>();
    e.uri = j.at("uri").get<std::string>();
    if (const auto parent = j.at("traceparent").get<std::string>(); !parent.empty()) {
        e.trace = beacon::trace_context::parse(parent, j.at("tracestate").get<std::string>());
    }
    e.sender = j.at("sender").get<std::string>();
    if (!j.at("action").is_null()) e.action = beacon::parse_action(j.at("action").get<std::string>());
    e.resource_name = j.at("resource_name").get<std::string>();
    e.user_id = j.at("user_id").get<std::string>();
    e.data = j.at("data");
    for (const auto& r : j.at("impacted_records")) {
        beacon::impacted_record record;
        if (r.contains("old")) record.old_value = r.at("old");
        if (r.contains("new")) record.new_value = r.at("new");
        e.impacted_records.push_back(record);
    }
    return e;
}

std::vector<std::string> lines_of(const std::string& path) {
    std::ifstream in(path);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) out.push_back(line);
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: cloudevents_interop <node> <cloudevents_interop.mjs> <work directory>\n";
        return 2;
    }
    const std::string node = argv[1], script = argv[2], dir = argv[3];
    std::system(("mkdir -p '" + dir + "'").c_str());
    const std::string ours = dir + "/beacon_events.jsonl", theirs = dir + "/sdk_events.jsonl",
                      wanted = dir + "/sdk_expected.jsonl";
    {
        std::ofstream out(ours, std::ios::trunc);
        for (const auto& e : beacon_events()) {
            std::string line;
            beacon::encode_cloudevent(e, line);
            out << line << '\n';
            std::cout << "beacon: wrote " << line << '\n';
        }
    }
    std::cout.flush();
    const std::string command = "'" + node + "' '" + script + "' '" + ours + "' '" + theirs + "' '" + wanted + "'";
    if (const int status = std::system(command.c_str()); status != 0) {
        std::cerr << "interop: the SDK disagrees with beacon (node exited with status " << status << ")\n";
        return 1;
    }
    const auto bodies = lines_of(theirs);
    const auto wants = lines_of(wanted);
    if (bodies.size() != 3 || wants.size() != bodies.size()) {
        std::cerr << "interop: expected 3 SDK events and 3 descriptions, got " << bodies.size() << " and " << wants.size() << '\n';
        return 1;
    }
    int failures = 0;
    for (std::size_t i = 0; i < bodies.size(); ++i) {
        const auto want = expected_event(nlohmann::json::parse(wants[i]));
        try {
            const auto got = beacon::decode_cloudevent(bodies[i]);
            if (got.id.version() != 4) {
                std::cerr << "interop: SDK event " << i + 1 << " has id " << got.id.to_string() << ", not the SDK's UUIDv4\n";
                ++failures;
                continue;
            }
            if (got != want) {
                std::string a, b;
                beacon::encode_cloudevent(got, a);
                beacon::encode_cloudevent(want, b);
                std::cerr << "interop: SDK event " << i + 1 << " read as\n  " << a << "\nexpected\n  " << b << '\n';
                ++failures;
                continue;
            }
            std::cout << "beacon: read SDK event " << i + 1 << ": id " << got.id.to_string() << " (version "
                      << got.id.version() << "), type " << got.type << ", timestamp " << got.timestamp << ", traceparent "
                      << (got.trace.valid() ? got.trace.traceparent() : "-") << ", data " << got.data.dump()
                      << ", impacted records " << got.impacted_records.size() << '\n';
        } catch (const beacon::error& bad) {
            std::cerr << "interop: SDK event " << i + 1 << " refused: " << bad.what() << "\n  " << bodies[i] << '\n';
            ++failures;
        }
    }
    if (failures != 0) return 1;
    std::cout << "interop: beacon read " << bodies.size() << " SDK events, the SDK read " << beacon_events().size()
              << " beacon events\n";
    return 0;
}
