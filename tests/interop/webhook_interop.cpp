// Interop with the Standard Webhooks JS library (npm's `standardwebhooks` 1.1.1): a receiver built
// on it (webhook_receiver.mjs) verifies every request beacon's courier makes, in beacon's
// envelope and in CloudEvents, and answers the first one 500 so that a retry, signed again, is
// verified too; then a request whose body was changed after signing must be refused. Any request
// the library does not verify, or a tampered one it accepts, fails the test.
// Usage: webhook_interop <node> <webhook_receiver.mjs>
#include <beacon/outbound/courier.hpp>

#include <beacon/cloudevents.hpp>
#include <beacon/hub.hpp>

#include "../outbound_test_support.hpp"

#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

int fail(const std::string& why) {
    std::cerr << "webhook_interop: " << why << "\n";
    return 1;
}

std::vector<beacon::event> events() {
    std::vector<beacon::event> out;
    for (int i = 0; i < 3; ++i) {
        beacon::event e("blog-api");
        e.action = i == 2 ? beacon::action::update : beacon::action::create;
        e.resource_name = "record";
        e.uri = "/buckets/blog/collections/articles/records/a" + std::to_string(i);
        e.set("title", i == 1 ? "Café ☕ naïve — 😀 日本語" : "plain");
        if (i == 2) e.impacted_records.push_back({nlohmann::json{{"id", "a2"}, {"title", "old"}}, nlohmann::json{{"id", "a2"}, {"title", "new"}}});
        e.stamp();
        e.source = "/blog-api";
        e.type = "core.resource_changed";
        out.push_back(e);
    }
    return out;
}

// POSTs `body` to `url` with the given Standard Webhooks headers; returns the HTTP status.
long post(const std::string& url, const std::string& id, const std::string& timestamp, const std::string& signature,
          const std::string& body) {
    CURL* h = curl_easy_init();
    curl_slist* headers = nullptr;
    for (const std::string& line : {std::string("content-type: application/json"), "webhook-id: " + id,
                                    "webhook-timestamp: " + timestamp, "webhook-signature: " + signature}) {
        headers = curl_slist_append(headers, line.c_str());
    }
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return status;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) return fail("usage: webhook_interop <node> <webhook_receiver.mjs>");
    const auto secret = beacon::outbound::signing_secret::generate();
    beacon_test::child_process receiver({argv[1], argv[2], secret.text(), "500"});
    const std::string base = "http://127.0.0.1:" + std::to_string(receiver.port());

    std::vector<std::string> failures;
    beacon::outbound::courier_options options;
    options.on_failure = [&](const beacon::failure& f) { failures.push_back(f.describe()); };
    beacon::outbound::courier courier(options);
    beacon::hub hub("changes");
    for (const auto& [path, format] : {std::pair{"/envelope", beacon::wire_format::envelope()},
                                       std::pair{"/cloudevents", beacon::wire_format::cloudevents()}}) {
        beacon::outbound::webhook e(base + path, secret);
        e.format = format;
        e.allow_private = true;
        e.retry.first_delay = 50ms;
        hub.register_consumer(courier.add(e));
    }
    const auto sent = events();
    for (const auto& e : sent) hub.send(e);
    if (!courier.wait_idle(30s)) return fail("the deliveries did not end within 30 s");
    if (!failures.empty()) return fail("the courier reported: " + failures.front());

    // 6 deliveries, the first answered 500 and made again: 7 requests, every one verified.
    std::map<std::string, int> per_id;
    std::string last_body, last_id;
    for (int i = 0; i < 7; ++i) {
        const auto line = nlohmann::json::parse(receiver.read_line());
        if (!line.at("verified").get<bool>()) return fail("the library refused beacon's request: " + line.dump());
        ++per_id[line.at("id").get<std::string>()];
        last_body = line.at("body").get<std::string>();
        last_id = line.at("id").get<std::string>();
    }
    for (const auto& e : sent) {
        const int n = per_id[e.id.to_string()];
        if (n < 2) return fail("event " + e.id.to_string() + " reached the receiver " + std::to_string(n) + " time(s), not twice");
    }

    // A body changed after it was signed: the library must refuse it.
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string signature = beacon::outbound::sign(secret, last_id, now, last_body);
    std::string tampered = last_body;
    tampered.replace(tampered.find("plain") == std::string::npos ? tampered.find("record") : tampered.find("plain"), 5, "PLAIN");
    if (post(base + "/envelope", last_id, std::to_string(now), signature, last_body) != 204) return fail("a re-signed body was refused");
    if (post(base + "/envelope", last_id, std::to_string(now), signature, tampered) != 400) return fail("a tampered body was not refused");
    if (!nlohmann::json::parse(receiver.read_line()).at("verified").get<bool>()) return fail("the re-signed body was not verified");
    const auto refused = nlohmann::json::parse(receiver.read_line());
    if (refused.at("verified").get<bool>()) return fail("the tampered body was verified");
    std::cout << "interop: the standardwebhooks receiver verified 7 beacon requests (3 events, 2 formats, one made again "
                 "after a 500) and refused 1 tampered body (" << refused.at("error").get<std::string>() << ")\n";
    return 0;
}
