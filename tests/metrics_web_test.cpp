// <beacon/metrics/web.hpp>: the /metrics route on beacon's server serving beacon's collector and
// the host's own prometheus-cpp registry, an event stream's and the server's counters, and 503
// once everything it served is gone.
#include <beacon/metrics/web.hpp>

#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

using Catch::Matchers::Contains;
namespace web = beacon::web;

namespace {

// GET `target` from the server on `port`.
web::response get(unsigned short port, const std::string& target) {
    web::net::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(web::tcp::endpoint(web::net::ip::make_address("127.0.0.1"), port));
    web::http::request<web::http::empty_body> req(web::http::verb::get, target, 11);
    req.set(web::http::field::host, "127.0.0.1");
    web::http::write(stream, req);
    boost::beast::flat_buffer buffer;
    web::response res;
    web::http::read(stream, buffer, res);
    return res;
}

}  // namespace

TEST_CASE("/metrics serves beacon's collector and the host's registry: streams, servers, signals",
          "[metrics][web]") {
    web::server server;
    beacon::registry reg;
    auto c = std::make_shared<beacon::metrics::collector>();
    c->watch(reg);
    auto stream = server.add_stream("/events");
    c->watch("events", stream);
    c->watch("api", server);
    auto host = std::make_shared<prometheus::Registry>();
    prometheus::BuildCounter().Name("shop_orders_total").Help("Orders.").Register(*host).Add({}).Increment(2);
    beacon::metrics::serve(server, {host, c});
    auto& changed = reg.core().signal("resource_changed");
    auto k = changed.connect([&](const beacon::event& e) { stream->publish(e); });
    server.start();

    boost::asio::io_context io;
    auto client = beacon_test::subscribe(io, server, "alice");
    REQUIRE(beacon_test::eventually([&] { return stream->stats().connections == 1; }));
    for (int i = 0; i < 4; ++i) changed.send("storage");
    for (int i = 0; i < 4; ++i) REQUIRE(client->next_event());

    const auto res = get(server.port(), "/metrics");
    CHECK(res.result() == web::http::status::ok);
    CHECK(res[web::http::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
    const std::string& text = res.body();
    CHECK_THAT(text, Contains("shop_orders_total 2"));
    CHECK_THAT(text, Contains(R"(beacon_signal_sends_total{namespace="core",signal="resource_changed"} 4)"));
    CHECK_THAT(text, Contains(R"(beacon_sse_connections{stream="events"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_sse_accepted_total{stream="events"} 1)"));
    CHECK_THAT(text, Contains(R"(beacon_sse_events_published_total{stream="events"} 4)"));
    CHECK_THAT(text, Contains(R"(beacon_sse_overflow_closes_total{stream="events"} 0)"));
    CHECK_THAT(text, Contains(R"(beacon_http_requests_total{server="api"} 2)"));  // the stream's and this one

    client.reset();
    REQUIRE(beacon_test::eventually([&] { return stream->stats().connections == 0; }));
    CHECK_THAT(get(server.port(), "/metrics").body(), Contains(R"(beacon_sse_connections{stream="events"} 0)"));
    server.stop();
}

TEST_CASE("/metrics answers 503 once everything it served is gone", "[metrics][web]") {
    web::server server;
    auto c = std::make_shared<beacon::metrics::collector>();
    auto host = std::make_shared<prometheus::Registry>();
    beacon::metrics::serve(server, {host, c}, "/internal/metrics");
    server.start();
    CHECK(get(server.port(), "/internal/metrics").result() == web::http::status::ok);
    c.reset();
    CHECK(get(server.port(), "/internal/metrics").result() == web::http::status::ok);  // the host's registry
    host.reset();
    const auto res = get(server.port(), "/internal/metrics");
    CHECK(res.result() == web::http::status::service_unavailable);
    CHECK(res.body() == "no metrics\n");
    server.stop();
}
