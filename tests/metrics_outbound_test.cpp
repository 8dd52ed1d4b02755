// <beacon/metrics/outbound.hpp>: an outbound endpoint watched by name, after real deliveries to a
// local webhook endpoint (one delivered on its second attempt, one to an endpoint answering 410),
// every series with its value, and the exposition checked by Prometheus's own promtool.
#include <beacon/metrics/outbound.hpp>

#include <beacon/metrics.hpp>
#include <beacon/outbound.hpp>

#include "metrics_test_support.hpp"
#include "outbound_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

using beacon_test::promtool_check;
using Catch::Matchers::Contains;
using namespace std::chrono_literals;

TEST_CASE("outbound endpoints watched by name: events, attempts by outcome, disabled", "[metrics][outbound]") {
    beacon_test::webhook_endpoint server;
    beacon::outbound::courier courier;
    const auto hook = [&](const std::string& path) {
        beacon::outbound::webhook h(server.url(path), beacon::outbound::signing_secret::generate());
        h.allow_private = true;
        h.retry.first_delay = 10ms;
        return courier.add(h);
    };
    auto partners = hook("/fail/1/metrics");
    auto gone = hook("/gone/metrics");
    beacon::event e("blog-api");
    e.stamp();
    partners->deliver(e);
    CHECK_THROWS_AS(gone->deliver(e), beacon::transport_error);
    CHECK_THROWS_AS(gone->deliver(e), beacon::transport_error);  // refused: disabled

    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch("partners", *partners);
    c->watch("old_partner", *gone);
    const std::string text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_outbound_queued_total{endpoint="partners"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_delivered_total{endpoint="partners"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_attempts_total{endpoint="partners",outcome="rejected"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_attempts_total{endpoint="partners",outcome="delivered"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_disabled{endpoint="partners"} 0)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_attempts_total{endpoint="old_partner",outcome="gone"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_given_up_total{endpoint="old_partner"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_refused_total{endpoint="old_partner"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbound_disabled{endpoint="old_partner"} 1)"));
    const auto [status, said] = promtool_check(text);
    INFO(said);
    CHECK(status == 0);
}
