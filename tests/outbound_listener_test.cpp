#include <beacon/outbound/listener.hpp>

#include <beacon/registry.hpp>

#include "outbound_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

// The listener types "webhook" and "mail": endpoints from configuration, and bad configuration
// as config errors naming the key (never quoting a secret).

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct fixture {
    beacon::registry reg;
    beacon::signal& changed = reg.core().signal("resource_changed");
    beacon::outbound::courier courier;
    beacon::listener_types types;
    fixture() { beacon::outbound::add_listener_types(types, courier); }

    // The message of the config_error that loading `alias`'s `options` throws.
    std::string refusal(const json& options) {
        try {
            beacon::load_listeners(reg, json{{"event_listeners", {{"hooks", options}}}}, types);
        } catch (const beacon::config_error& bad) {
            return bad.what();
        }
        return "(loaded)";
    }
};

}  // namespace

TEST_CASE_METHOD(fixture, "a configured webhook gets the events its filter passes, signed with its secret", "[outbound][listener]") {
    beacon_test::webhook_endpoint server;
    const auto loaded = beacon::load_listeners(reg, json::parse(R"({"event_listeners": {"hooks": {
        "use": "webhook", "url": ")" + server.url("/ok/conf") + R"(", "secret": ")" + secret + R"(",
        "format": "cloudevents", "actions": ["create"], "allow_private": true, "timeout_ms": "2000", "max_attempts": 2}}})"), types);
    beacon::event created("blog-api");
    created.action = beacon::action::create;
    created.resource_name = "record";
    beacon::event deleted = created;
    deleted.action = beacon::action::delete_;
    changed.send(created);
    changed.send(deleted);
    REQUIRE(courier.wait_idle(10s));
    const auto got = server.log("/ok/conf");
    REQUIRE(got.size() == 1);
    CHECK(got[0].at("content_type") == "application/cloudevents+json");
    const auto s = beacon::outbound::signing_secret::parse(secret);
    CHECK(beacon::outbound::verify(s, got[0].at("id").get<std::string>(), std::stoll(got[0].at("timestamp").get<std::string>()),
                                   got[0].at("body").get<std::string>(), got[0].at("signature").get<std::string>()));
}

TEST_CASE_METHOD(fixture, "bad webhook and mail options are config errors naming the key", "[outbound][listener][config]") {
    const json hook = {{"use", "webhook"}, {"url", "https://hooks.example.org/x"}, {"secret", secret}};
    CHECK(refusal(hook) == "(loaded)");
    auto bad = hook;
    bad["url"] = "gopher://hooks.example.org/x";
    CHECK(refusal(bad) == "[beacon.config_error] /event_listeners/hooks/url (alias \"hooks\"): unknown scheme \"gopher\" "
                          "(the URL is http or https)");
    bad = hook;
    bad["url"] = "http://169.254.169.254/latest";
    CHECK(refusal(bad) == "[beacon.config_error] /event_listeners/hooks/url (alias \"hooks\"): http://169.254.169.254/latest: "
                          "the host is a link-local address (endpoint option allow_private permits it)");
    bad = hook;
    bad["secret"] = "whsec_tooShort=";
    CHECK_THAT(refusal(bad), Catch::StartsWith("[beacon.config_error] /event_listeners/hooks/secret (alias \"hooks\"): a signing "
                                               "secret is \"whsec_\"") &&
                                 !Catch::Contains("tooShort"));
    bad = hook;
    bad.erase("secret");
    CHECK_THAT(refusal(bad), Catch::Contains("/event_listeners/hooks/secret (alias \"hooks\"): missing required key \"secret\""));
    bad = hook;
    bad["format"] = "xml";
    CHECK_THAT(refusal(bad), Catch::Contains("/hooks/format (alias \"hooks\"): unknown wire format \"xml\""));
    bad = hook;
    bad["timeout_ms"] = -5;
    CHECK_THAT(refusal(bad), Catch::Contains("/hooks/timeout_ms (alias \"hooks\"): expected a positive number of milliseconds"));
    bad = hook;
    bad["retries"] = 3;
    CHECK_THAT(refusal(bad), Catch::Contains("/hooks/retries (alias \"hooks\"): unknown option of a webhook listener"));

    const json mail = {{"use", "mail"},  {"url", "smtps://mail.example.org"}, {"from", "beacon@example.org"},
                       {"to", {"editors@example.org"}}, {"password", "hunter2"}, {"subject", "{{action}} {{uri}}"}};
    CHECK(refusal(mail) == "(loaded)");
    auto m = mail;
    m["subject"] = "{{action}} {{nickname}}";
    CHECK_THAT(refusal(m), Catch::StartsWith("[beacon.config_error] /event_listeners/hooks/subject (alias \"hooks\"): \"nickname\" "
                                             "is not a field of an event"));
    m = mail;
    m["to"] = {"editors@example.org", "not an address"};
    CHECK_THAT(refusal(m), Catch::StartsWith("[beacon.config_error] /event_listeners/hooks/to/1 (alias \"hooks\"): an address"));
    m = mail;
    m["to"] = {"editors@example.org", 7};
    CHECK(refusal(m) == "[beacon.config_error] /event_listeners/hooks/to/1 (alias \"hooks\"): expected an address, got number");
    m = mail;
    m["require_tls"] = "maybe";
    CHECK_THAT(refusal(m), Catch::Contains("/hooks/require_tls (alias \"hooks\"): expected true or false, got \"maybe\""));
    m = mail;
    m["url"] = "smtp://user:hunter2@[bad";
    CHECK_THAT(refusal(m), Catch::Contains("/hooks/url (alias \"hooks\"): not a URL") && !Catch::Contains("hunter2"));
}
