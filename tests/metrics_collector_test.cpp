// beacon::metrics::collector: per-signal counters with bounded labels, configured listeners'
// histograms, asynchronous queues and relays, watching and forgetting, the exposition checked by
// Prometheus's own promtool, and the collector served by prometheus-cpp's Exposer beside a host's
// own registry, fetched over HTTP.
#include <beacon/metrics/collector.hpp>

#include <beacon/metrics.hpp>

#include "metrics_test_support.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include <chrono>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using beacon_test::promtool_check;
using beacon_test::samples;
using Catch::Matchers::Contains;

namespace {

struct fixed_relay {
    beacon::relay_stats s;
    beacon::relay_stats stats() const { return s; }
};

}  // namespace

TEST_CASE("per signal: sends, receiver calls and errors, one series whatever the senders", "[metrics][signal]") {
    beacon::registry reg;
    auto& changed = reg.core().signal("resource_changed");
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch(reg);
    auto& paid = reg.ns("billing").signal("invoice_paid");  // made after watch: counted too
    auto a = changed.connect([](const beacon::event&) {});
    auto b = changed.connect("mallory", [](const beacon::event&) { throw std::runtime_error("quota"); });
    auto d = paid.connect([](const beacon::event&) {});
    for (int i = 0; i < 500; ++i) changed.send("user-" + std::to_string(i % 250));  // 250 senders
    CHECK_THROWS_AS(changed.send("mallory"), std::runtime_error);  // a, then b throws
    CHECK(changed.send_robust("mallory").size() == 1);
    paid.send("shop");

    const std::string text = c->text();
    CHECK(samples(text, "beacon_signal_sends_total") ==
          std::vector<std::string>{R"(beacon_signal_sends_total{namespace="billing",signal="invoice_paid"} 1)",
                                   R"(beacon_signal_sends_total{namespace="core",signal="resource_changed"} 502)"});
    CHECK_THAT(text, Contains(R"(beacon_signal_receiver_calls_total{namespace="core",signal="resource_changed"} 504)"));
    CHECK_THAT(text, Contains(R"(beacon_signal_receiver_errors_total{namespace="core",signal="resource_changed"} 2)"));
    CHECK(samples(text, "beacon_signal_receiver_calls_total").size() == 2);  // never a series per sender
    CHECK_THAT(text, Contains("# TYPE beacon_signal_sends_total counter"));
}

TEST_CASE("configured listeners: calls, failures, a duration histogram, an async one's queue", "[metrics][listener]") {
    beacon::registry reg;
    beacon::listener_types types;
    types.add("slow", [](const beacon::listener_context&) -> beacon::listener {
        return [](const beacon::event& e) {
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
            if (e.uri == "/broken") throw std::runtime_error("cannot index");
        };
    });
    auto loaded = beacon::load_listeners(
        reg, nlohmann::json::parse(R"({"event_listeners": {"indexer": {"use": "slow", "async": true}}})"), types,
        [](const beacon::failure&) {});
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch(loaded);
    auto& changed = reg.core().signal("resource_changed");
    for (const char* uri : {"/a", "/broken", "/b"}) {
        beacon::event e("storage");
        e.action = beacon::action::create;
        e.resource_name = "record";
        e.uri = uri;
        changed.send(std::move(e));
    }
    REQUIRE(loaded.drain(std::chrono::steady_clock::now() + std::chrono::seconds(20)));

    const std::string text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_listener_calls_total{listener="indexer"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_listener_failures_total{listener="indexer"} 1)"));
    CHECK_THAT(text, Contains("# TYPE beacon_listener_duration_seconds histogram"));
    CHECK_THAT(text, Contains(R"(beacon_listener_duration_seconds_count{listener="indexer"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_listener_duration_seconds_bucket{listener="indexer",le="0.0025"} 0)"));
    CHECK_THAT(text, Contains(R"(beacon_listener_duration_seconds_bucket{listener="indexer",le="1"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_listener_duration_seconds_bucket{listener="indexer",le="+Inf"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_async_delivered_total{receiver="indexer"} 2)"));
    CHECK_THAT(text, Contains(R"(beacon_async_failed_total{receiver="indexer"} 1)"));
    const auto [status, said] = promtool_check(text);
    INFO(said);
    CHECK(status == 0);
}

TEST_CASE("asynchronous receivers and relays by name; a second source of a kind and name is refused",
          "[metrics][async][relay]") {
    beacon::async_options o;
    o.queue = 2;
    o.on_full = beacon::full_policy::drop_newest;
    std::promise<void> go;
    auto gate = go.get_future().share();
    beacon::async_receiver mailer([gate](const beacon::event&) { gate.wait(); }, o);
    const fixed_relay relay{{7, 2, 1, 4, std::chrono::milliseconds(1500)}};
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch("mailer", mailer);
    c->watch("orders", relay);
    c->watch("mailer", relay);  // another kind may share the name
    CHECK_THROWS_WITH(c->watch("mailer", mailer),
                      "[beacon.misuse_error] beacon::metrics::collector: asynchronous receiver \"mailer\" is watched already");
    mailer.receiver()(beacon::event("shop"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (mailer.stats().active != 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    REQUIRE(mailer.stats().active == 1);                                      // the worker holds the first
    for (int i = 0; i < 5; ++i) mailer.receiver()(beacon::event("shop"));  // 2 queued, 3 dropped
    std::string text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_async_queue_depth{receiver="mailer"} 2)"));
    CHECK_THAT(text, Contains(R"(beacon_async_dropped_total{receiver="mailer"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_relay_published_total{outbox="orders"} 7)"));
    CHECK_THAT(text, Contains(R"(beacon_relay_failures_total{outbox="orders"} 2)"));
    CHECK_THAT(text, Contains(R"(beacon_relay_dead_lettered_total{outbox="orders"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_outbox_pending_rows{outbox="orders"} 4)"));
    CHECK_THAT(text, Contains(R"(beacon_outbox_oldest_age_seconds{outbox="orders"} 1.5)"));
    go.set_value();
    REQUIRE(mailer.drain(std::chrono::steady_clock::now() + std::chrono::seconds(20)));
    text = c->text();
    CHECK_THAT(text, Contains(R"(beacon_async_delivered_total{receiver="mailer"} 3)"));
    CHECK_THAT(text, Contains(R"(beacon_async_queue_high_water{receiver="mailer"} 2)"));

    CHECK(c->forget(&mailer));
    CHECK_FALSE(c->forget(&mailer));
    CHECK(samples(c->text(), "beacon_async_").empty());
    c->watch("mailer", mailer);  // the name is free again
    CHECK(samples(c->text(), "beacon_async_delivered_total").size() == 1);
}

TEST_CASE("a source watched by shared_ptr is exported while it lives", "[metrics][lifetime]") {
    auto c = std::make_shared<beacon::metrics::collector>();
    auto relay = std::make_shared<fixed_relay>(fixed_relay{{1, 0, 0, 0, {}}});
    c->watch("orders", relay);
    CHECK(samples(c->text(), "beacon_relay_published_total").size() == 1);
    relay.reset();
    CHECK(c->text().empty());
    CHECK(c->Collect().empty());
}

TEST_CASE("prometheus-cpp's Exposer serves the collector beside the host's own registry", "[metrics][interop]") {
    beacon::registry reg;
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch(reg);
    auto& s = reg.core().signal("resource_changed");
    auto k = s.connect([](const beacon::event&) {});
    for (int i = 0; i < 3; ++i) s.send("storage");
    auto host = std::make_shared<prometheus::Registry>();
    prometheus::BuildCounter().Name("shop_orders_total").Help("Orders.").Register(*host).Add({}).Increment(5);

    prometheus::Exposer exposer("127.0.0.1:0");
    exposer.RegisterCollectable(host);
    exposer.RegisterCollectable(c);
    const auto ports = exposer.GetListeningPorts();
    REQUIRE(ports.size() == 1);

    namespace http = boost::beast::http;
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                  static_cast<unsigned short>(ports[0])));
    http::request<http::empty_body> req(http::verb::get, "/metrics", 11);
    req.set(http::field::host, "127.0.0.1");
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    CHECK(res.result() == http::status::ok);
    CHECK_THAT(res.body(), Contains(R"(beacon_signal_sends_total{namespace="core",signal="resource_changed"} 3)"));
    CHECK_THAT(res.body(), Contains("shop_orders_total 5"));
    const auto [status, said] = promtool_check(res.body());
    INFO(said);
    CHECK(status == 0);
}
