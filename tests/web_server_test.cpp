// beacon's web server on real loopback sockets: malformed and oversized requests answered with a
// clear 4xx and reported through on_failure, and connections beyond the limits answered 503
// (the limits against idle sockets are in web_server_limits_test).
#include <beacon/web/server.hpp>

#include <beacon/web.hpp>

#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using beacon_test::eventually;
using beacon_test::auth;
using beacon_test::bearer;
using beacon_test::http_client;
using beacon_test::subscribe;
namespace web = beacon::web;
using namespace std::chrono_literals;

namespace {

web::sse_options bearer_options() {
    web::sse_options o;
    o.authorize = bearer;
    return o;
}


}  // namespace
TEST_CASE("malformed and oversized requests get a clear 4xx and the server keeps serving", "[web][server]") {
    web::server_options so;
    so.header_limit = 1024;
    so.target_limit = 128;
    so.body_limit = 256;
    std::vector<std::string> errors;
    std::mutex m;
    std::vector<beacon::failure> failures;
    so.name = "push";
    so.on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(m);
        errors.push_back(f.message());
        failures.push_back(f);
    };
    web::server s(so);
    s.add_stream("/events", bearer_options());
    s.route("/ping", [](const web::request&) { return web::text_response(web::http::status::ok, "pong"); });
    s.route("/fail", [](const web::request& req) -> web::response {
        throw web::http_error(web::http::status::bad_request, web::describe(req), "missing parameter \"user\"");
    });
    s.start();
    boost::asio::io_context io;

    const auto answer = [&](const std::string& bytes) {
        http_client c(io, s.port());
        c.send(bytes);
        auto head = c.head();
        REQUIRE(head);
        return *head;
    };
    const auto ping = [&] {
        const auto head = answer("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK_THAT(head, StartsWith("HTTP/1.1 200 OK"));
    };

    CHECK_THAT(answer("HELLO WORLD\r\n\r\n"), StartsWith("HTTP/1.1 400 Bad Request"));
    ping();
    CHECK_THAT(answer("GET /ping HTTP/9.9\r\n\r\n"), StartsWith("HTTP/1.1 400"));
    CHECK_THAT(answer("GET /ping HTTP/1.1\r\nBad Header Line\r\n\r\n"), StartsWith("HTTP/1.1 400"));
    ping();
    CHECK_THAT(answer("GET /ping HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n"),
               StartsWith("HTTP/1.1 431"));
    ping();
    CHECK_THAT(answer("GET /ping?" + std::string(500, 'q') + " HTTP/1.1\r\nHost: x\r\n\r\n"), StartsWith("HTTP/1.1 414"));
    CHECK_THAT(answer("POST /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"), StartsWith("HTTP/1.1 413"));
    CHECK_THAT(answer("GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"), StartsWith("HTTP/1.1 404"));
    CHECK_THAT(answer("POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nContent-Length: 0\r\n\r\n"),
               StartsWith("HTTP/1.1 405"));
    CHECK_THAT(answer("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n"), StartsWith("HTTP/1.1 400"));
    ping();

    // A request cut short, then the client gone: nothing to answer, nothing kept.
    {
        http_client half(io, s.port());
        half.send("GET /ping HTTP/1.1\r\nHo");
    }
    ping();
    REQUIRE(eventually([&] { return s.stats().connections == 0; }));
    std::lock_guard lock(m);
    CHECK(errors.size() == 9);
    // Messages name the request and quote at most a short excerpt of it.
    for (const auto& e : errors) {
        CHECK_THAT(e, StartsWith("[beacon.http_error] 4"));
        CHECK(e.size() < 200);
    }
    // Each is a failure of the web part, at this server, naming the client and its request.
    for (const auto& f : failures) {
        CHECK(f.part == beacon::part::web);
        CHECK(f.where == "push");
        CHECK_THAT(f.receiver, StartsWith("127.0.0.1:"));
        CHECK(f.ev == nullptr);
    }
    CHECK(std::any_of(failures.begin(), failures.end(), [](const beacon::failure& f) {
        return f.receiver.find(" GET /nowhere") != std::string::npos;
    }));
}

TEST_CASE("connections beyond the limits get 503", "[web][server]") {
    web::server_options so;
    so.max_connections = 2;
    web::server s(so);
    web::sse_options o;
    o.max_connections = 1;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    auto first = subscribe(io, s, "a");
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    http_client second(io, s.port());
    second.get("/events");
    const auto head = second.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 503"));
    CHECK(stream->stats().rejected == 1);

    // Two connections in the middle of a request fill the server; a third is refused at once.
    http_client busy1(io, s.port()), busy2(io, s.port());
    busy1.send("GET /ping HTTP/1.1\r\n");
    busy2.send("GET /ping HTTP/1.1\r\n");
    REQUIRE(eventually([&] { return s.stats().connections == 2 && s.stats().waiting == 0; }));
    http_client third(io, s.port());
    const auto busy = third.head();
    REQUIRE(busy);
    CHECK_THAT(*busy, StartsWith("HTTP/1.1 503"));
}

TEST_CASE("the server's errors by kind: misuse, transport, configuration", "[web][server]") {
    web::server s;
    CHECK_THROWS_AS(s.mount("/events", nullptr), beacon::misuse_error);
    s.start();

    web::server_options taken;
    taken.port = s.port();
    web::server second(taken);
    CHECK_THROWS_AS(second.start(), beacon::transport_error);

    web::server_options nowhere;
    nowhere.address = "not an address";
    web::server third(nowhere);
    CHECK_THROWS_AS(third.start(), beacon::config_error);
}
