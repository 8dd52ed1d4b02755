// A host whose signals are handled on its own event loop: beacon's web server runs the loop (one
// thread), a receiver bound to it with beacon::asio::on keeps the shop totals that only the loop's
// thread touches (no lock), a checkout thread sends the orders, and the /totals route, on the same
// loop, reads the totals. A bad order's exception goes to the failure sink as part `asio`.
//
//   asio_host      sends 300 orders and a bad one, fetches /totals over HTTP, prints a summary
#include <beacon/asio.hpp>  // first: on clang it enables Asio's coroutines (C++20)
#include <beacon/beacon.hpp>
#include <beacon/web.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <iostream>
#include <map>
#include <string>
#include <thread>

namespace web = beacon::web;

namespace {

/// GET `target` from the server on `port` (a plain Boost.Beast client); the response's body.
std::string get(unsigned short port, const std::string& target) {
    web::net::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.connect(web::tcp::endpoint(web::net::ip::make_address("127.0.0.1"), port));
    web::http::request<web::http::empty_body> req(web::http::verb::get, target, 11);
    req.set(web::http::field::host, "127.0.0.1");
    web::http::write(stream, req);
    boost::beast::flat_buffer buffer;
    web::response res;
    web::http::read(stream, buffer, res);
    return res.body();
}

}  // namespace

int main() {
    // The loop's own state: only handlers running on the server's one thread touch it.
    std::map<std::string, long> cents_by_shop;
    int orders = 0;
    int failures = 0;
    bool all_on_loop = true;

    // The server (and its io_context) before the registry: it outlives the receivers bound to it.
    web::server server;  // server_options::threads = 1: its io_context is run by one thread
    auto& loop = server.context();
    beacon::registry reg;
    auto& placed = reg.core().signal("order_placed");

    // Each send posts the call to the loop and returns; the call runs there, in send order.
    auto connection = placed.connect(beacon::asio::on(loop, [&](const beacon::event& e) {
        all_on_loop = all_on_loop && loop.get_executor().running_in_this_thread();
        cents_by_shop[e.sender] += e.data.at("cents").get<long>();  // throws for an order without cents
        ++orders;
    }));
    // A receiver's exception is a failure of part asio; the sink runs on the loop's thread too.
    beacon::set_failure_sink([&](const beacon::failure& f) {
        ++failures;
        std::cout << "failure of part " << beacon::to_string(f.part) << " on " << f.where << ", order from "
                  << f.ev->sender << ": " << f.message() << "\n";
    });

    server.route("/totals", [&](const web::request&) {
        std::string body;
        for (const auto& [shop, cents] : cents_by_shop) body += shop + " " + std::to_string(cents) + "\n";
        return web::text_response(web::http::status::ok, body);
    });
    server.start();

    // The checkout thread sends; it never waits for the loop.
    std::thread checkout([&] {
        for (int i = 0; i < 300; ++i) placed.send(i % 3 == 0 ? "shop-eu" : "shop-us", {{"cents", 100 + i}});
        placed.send("shop-eu", {{"coupon", "FREE"}});  // no cents: its receiver throws
    });
    checkout.join();

    // The loop runs what was posted in order: the request, accepted later, sees every order.
    const std::string totals = get(server.port(), "/totals");
    std::cout << "GET /totals:\n" << totals;
    server.stop();  // joins the loop's thread: its state may now be read here
    beacon::set_failure_sink({});

    connection.disconnect();
    std::cout << "asio_host: " << orders << " orders handled " << (all_on_loop ? "on" : "OFF")
              << " the loop's thread without a lock: shop-eu " << cents_by_shop["shop-eu"] << " cents, shop-us "
              << cents_by_shop["shop-us"] << " cents, " << failures << " failure\n";
}
