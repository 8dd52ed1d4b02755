#pragma once
/// \file
/// Web push, HTTP vocabulary: the request and response types, describing a request in a
/// message, and the plain-text and error responses the server and the streams answer with.

#include <beacon/detail/percent.hpp>
#include <beacon/web/http_error.hpp>
#include <beacon/web/detail/text.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <optional>
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

/// A Beast string view as a standard one.
inline std::string_view to_string_view(boost::beast::string_view s) noexcept { return {s.data(), s.size()}; }

/// "GET /path" for messages (the method and the target cut to short excerpts).
inline std::string describe(const request& req) {
    return detail::excerpt(to_string_view(req.method_string()), 16) + " " + detail::excerpt(to_string_view(req.target()));
}

/// `text` of a query string decoded as a form field: `+` is a space, `%XX` the byte XX; a `%`
/// not followed by two hex digits stays as it is.
inline std::string form_decode(std::string_view text) {
    return *beacon::detail::percent_decode(text, true, true);  // lenient: never nullopt
}

/// The decoded value of the first `name=value` of the request target's query string (names
/// compare decoded, see `form_decode`), or nothing when there is none.
inline std::optional<std::string> query_parameter(const request& req, std::string_view name) {
    const std::string_view target = to_string_view(req.target());
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    for (;;) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        if (eq != std::string_view::npos && form_decode(pair.substr(0, eq)) == name) return form_decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) return std::nullopt;
        rest = rest.substr(amp + 1);
    }
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

}  // namespace beacon::web
