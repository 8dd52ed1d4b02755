#pragma once
/// \file
/// Web push, shared pieces: the request type, http_error (a bad or refused request, with the
/// status it is answered with), and writing a short response then closing the connection.

#include <beacon/error.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

/// Web push: hubs' events streamed to browsers as Server-Sent Events, on Boost.Beast.
namespace beacon::web {

namespace http = boost::beast::http;  ///< Boost.Beast's HTTP.
namespace net = boost::asio;          ///< Boost.Asio.
using tcp = net::ip::tcp;             ///< TCP sockets and endpoints.

/// An HTTP request as beacon's server reads it (and as a host hands it to `sse_stream::serve`).
using request = http::request<http::string_body>;
/// An HTTP response with a string body (what a route handler returns).
using response = http::response<http::string_body>;

/// A request refused or malformed: `status()` is the answer (400, 401, 404, 405, 413, 414, 431,
/// 503, ...) and `what()` names the request and what was wrong, quoting at most a short excerpt.
class http_error : public error {
public:
    /// `where` names the request ("GET /events" or the peer), `details` what was wrong.
    http_error(http::status status, const std::string& where, const std::string& details)
        : error("http_error", std::to_string(static_cast<unsigned>(status)) + " " + where + ": " + details),
          status_(status) {}

    /// The status the request is answered with.
    http::status status() const noexcept { return status_; }

private:
    http::status status_;
};

/// At most `max` bytes of `text`, control characters replaced by '?', with "..." when cut: what
/// a message may quote of outside input.
inline std::string excerpt(std::string_view text, std::size_t max = 64) {
    std::string out;
    for (char c : text.substr(0, max)) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (text.size() > max) out += "...";
    return out;
}

/// A Beast string view as a standard one.
inline std::string_view to_string_view(boost::beast::string_view s) noexcept { return {s.data(), s.size()}; }

/// "GET /path" for messages (the target cut to a short excerpt).
inline std::string describe(const request& req) {
    return std::string(req.method_string()) + " " + excerpt(to_string_view(req.target()));
}

/// A plain-text response with `status` and `body`; `version` 11 unless the request said otherwise.
inline response text_response(http::status status, std::string body, unsigned version = 11) {
    response res{status, version};
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

/// The response answering `bad`: its status, its message as the body, and `Connection: close`.
inline response error_response(const http_error& bad) {
    response res = text_response(bad.status(), std::string(bad.what()) + "\n");
    if (bad.status() == http::status::unauthorized) res.set(http::field::www_authenticate, "Bearer");
    if (bad.status() == http::status::service_unavailable) res.set(http::field::retry_after, "1");
    res.keep_alive(false);
    return res;
}

/// Writes `res` on `socket` without blocking, then shuts the socket down and closes it; the
/// socket and the response live until then. `done` runs in the socket's executor afterwards.
template <class Done>
void write_and_close(tcp::socket socket, response res, Done done) {
    struct state {
        tcp::socket socket;
        response res;
    };
    auto s = std::make_shared<state>(state{std::move(socket), std::move(res)});
    s->res.keep_alive(false);
    http::async_write(s->socket, s->res, [s, done = std::move(done)](boost::beast::error_code, std::size_t) mutable {
        boost::beast::error_code ignored;
        s->socket.shutdown(tcp::socket::shutdown_both, ignored);
        s->socket.close(ignored);
        done();
    });
}

}  // namespace beacon::web
