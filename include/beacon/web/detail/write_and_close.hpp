#pragma once
// Web push internals: a short response written without blocking, then the socket closed.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <memory>
#include <utility>

namespace beacon::web::detail {

// Writes `res` on `socket`, then shuts the socket down and closes it; the socket and the
// response live until then. `done` runs in the socket's executor afterwards.
template <class Done>
void write_and_close(boost::asio::ip::tcp::socket socket, boost::beast::http::response<boost::beast::http::string_body> res,
                     Done done) {
    using tcp = boost::asio::ip::tcp;
    struct state {
        tcp::socket socket;
        boost::beast::http::response<boost::beast::http::string_body> res;
    };
    auto s = std::make_shared<state>(state{std::move(socket), std::move(res)});
    s->res.keep_alive(false);
    boost::beast::http::async_write(s->socket, s->res,
                                    [s, done = std::move(done)](boost::beast::error_code, std::size_t) mutable {
                                        boost::beast::error_code ignored;
                                        s->socket.shutdown(tcp::socket::shutdown_both, ignored);
                                        s->socket.close(ignored);
                                        done();
                                    });
}

}  // namespace beacon::web::detail
