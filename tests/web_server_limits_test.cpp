// The server's limits against idle sockets (issue 21 item 3): sockets that connect and send
// nothing must not lock real clients out, neither from other addresses nor from their own.
#include <beacon/web.hpp>

#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

using Catch::Matchers::StartsWith;
using beacon_test::http_client;
using beacon_test::eventually;
namespace web = beacon::web;
namespace net = boost::asio;

namespace {

// `n` sockets connected to `port` that never send a byte, `per_address` from each of 127.0.0.2,
// 127.0.0.3, ... (the whole 127/8 is loopback on Linux).
std::vector<web::tcp::socket> idle_sockets(net::io_context& io, unsigned short port, std::size_t n, std::size_t per_address) {
    std::vector<web::tcp::socket> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto host = static_cast<unsigned char>(2 + i / per_address);
        web::tcp::socket s(io);
        s.open(web::tcp::v4());
        s.bind(web::tcp::endpoint(net::ip::address_v4({127, 0, 0, host}), 0));
        s.connect(web::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
        out.push_back(std::move(s));
    }
    return out;
}

// A real client subscribes to /events, is answered 200 and receives a published event.
void streams(net::io_context& io, web::server& s, web::sse_stream& stream) {
    http_client real(io, s.port());
    real.get("/events");
    const auto head = real.head();
    REQUIRE(head);
    REQUIRE_THAT(*head, StartsWith("HTTP/1.1 200 OK"));
    REQUIRE(eventually([&] { return stream.stats().connections >= 1; }));
    stream.publish(beacon::event("system", {{"title", "still here"}}));
    const auto frame = real.next_event();
    REQUIRE(frame);
    CHECK(frame->data.find("still here") != std::string::npos);
}

}  // namespace

TEST_CASE("2,000 idle sockets from other addresses do not lock a real client out", "[web][limits]") {
    web::server s;
    auto stream = s.add_stream("/events");
    s.start();
    net::io_context io;
    auto idle = idle_sockets(io, s.port(), 2000, 50);
    streams(io, s, *stream);
}

TEST_CASE("a newcomer takes the place of the oldest connection that has not sent a byte", "[web][limits]") {
    web::server_options so;
    so.max_connections = 2;
    web::server s(so);
    s.route("/ping", [](const web::request&) { return web::text_response(web::http::status::ok, "pong"); });
    s.start();
    net::io_context io;

    http_client idle1(io, s.port());
    REQUIRE(eventually([&] { return s.stats().waiting == 1; }));
    http_client idle2(io, s.port());
    REQUIRE(eventually([&] { return s.stats().waiting == 2; }));
    http_client real(io, s.port());
    real.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto head = real.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 200 OK"));
    CHECK(idle1.closed());  // the oldest went
    CHECK(s.stats().evicted == 1);
    CHECK(s.stats().errors == 0);
}

TEST_CASE("2,000 idle sockets from the client's own address do not lock it out", "[web][limits]") {
    web::server_options so;
    so.max_connections_per_address = 64;
    std::atomic<std::size_t> refused{0};
    so.on_failure = [&](const beacon::failure&) { ++refused; };
    web::server s(so);
    auto stream = s.add_stream("/events");
    s.start();
    net::io_context io;
    std::vector<std::unique_ptr<http_client>> idle;
    for (int i = 0; i < 2000; ++i) idle.push_back(std::make_unique<http_client>(io, s.port()));
    // They hold at most the per-address limit; the newest took the places of the oldest.
    REQUIRE(eventually([&] { return s.stats().evicted == 2000 - 64; }));
    REQUIRE(eventually([&] { return s.stats().connections <= 64; }));
    CHECK(refused == 0);
    streams(io, s, *stream);
}

TEST_CASE("a connection that sends nothing is closed after first_byte_timeout", "[web][limits]") {
    web::server_options so;
    so.first_byte_timeout = std::chrono::milliseconds(50);
    web::server s(so);
    s.start();
    net::io_context io;
    http_client idle(io, s.port());
    CHECK(idle.closed());
    REQUIRE(eventually([&] { return s.stats().connections == 0; }));
}

TEST_CASE("a request whose headers never end is closed after header_timeout", "[web][limits]") {
    web::server_options so;
    so.header_timeout = std::chrono::milliseconds(50);
    web::server s(so);
    s.start();
    net::io_context io;
    http_client slow(io, s.port());
    slow.send("GET /ping HTTP/1.1\r\nHost: x\r\n");
    CHECK(slow.closed());
    REQUIRE(eventually([&] { return s.stats().connections == 0; }));
}
