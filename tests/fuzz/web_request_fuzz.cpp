// libFuzzer target: the web part's request path. Each input is parsed as the server parses a
// request (its header, target and body limits), described as a failure message describes it, its
// query decoded as route handlers decode it, then handed to an event stream (over a socket pair)
// whose authorizer reads the `Authorization` header and the `user` query parameter, and which
// resumes from the input's `Last-Event-ID` against a replay buffer holding a few events.
// Contract: no crash, no exception out of the stream, and messages quote at most a short excerpt.
#include <beacon/web.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/parser.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace web = beacon::web;

struct fixture {
    boost::asio::io_context io;
    std::shared_ptr<web::sse_stream> stream;

    fixture() {
        web::sse_options o;
        o.authorize = [](const web::request& req) -> std::optional<std::string> {
            const auto it = req.find(web::http::field::authorization);
            if (it != req.end()) {
                const auto value = web::to_string_view(it->value());
                if (value.substr(0, 7) == "Bearer ") return std::string(value.substr(7));
                if (value == "forbidden") throw web::http_error(web::http::status::forbidden, web::describe(req), "no");
                return std::nullopt;
            }
            return web::query_parameter(req, "user");
        };
        o.for_user = [](const beacon::event& e, const std::string& user) { return e.sender != user; };
        o.allow_origin = "*";
        o.replay_capacity = 8;
        o.queue = 4;
        stream = web::sse_stream::create(io.get_executor(), o);
        for (int i = 0; i < 12; ++i) {
            stream->publish(beacon::event("s" + std::to_string(i % 3), {{"event_id", "id-" + std::to_string(i)}}));
        }
        io.poll();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fixture f;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    web::http::request_parser<web::http::string_body> parser;
    parser.header_limit(8 * 1024);
    parser.body_limit(64 * 1024);
    parser.eager(true);
    boost::beast::error_code ec;
    parser.put(boost::asio::buffer(text.data(), text.size()), ec);
    if (ec || !parser.is_done()) return 0;
    web::request req = parser.release();

    if (web::describe(req).size() > 128) std::abort();
    (void)web::query_parameter(req, "user");
    (void)web::form_decode(web::to_string_view(req.target()));
    const web::http_error bad(web::http::status::bad_request, web::describe(req), "fuzz");
    (void)web::error_response(bad);

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) std::abort();
    web::tcp::socket server_end(f.io);
    server_end.assign(web::tcp::v4(), fds[0]);
    f.stream->serve(std::move(server_end), std::move(req));
    f.io.poll();
    f.io.restart();
    ::close(fds[1]);  // the client leaves: the stream notices and releases the connection
    f.io.poll();
    f.io.restart();
    return 0;
}
