#pragma once
/// \file
/// beacon's own small HTTP server (Boost.Beast): event streams mounted on paths, plain route
/// handlers beside them, and limits on what a client may send (header size, target length,
/// body size, open connections, time to send a request), each answered with a clear 4xx/503.

#include <beacon/web/http.hpp>
#include <beacon/web/sse_stream.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace beacon::web {

/// Answers one request; may throw http_error to answer with its status (another exception is
/// answered 500). Runs in one of the server's threads: it must not block for long.
using handler = std::function<response(const request&)>;

/// Where a server listens and what it accepts.
struct server_options {
    std::string address = "127.0.0.1";  ///< The address to listen on.
    unsigned short port = 0;            ///< The port; 0: a free one (see `server::port`).
    std::size_t threads = 1;            ///< Threads running the server's io_context.
    std::size_t header_limit = std::size_t{8} * 1024;  ///< Bytes of request line and headers; more: 431.
    std::size_t target_limit = 2048;      ///< Bytes of the request target; more: 414.
    std::size_t body_limit = std::size_t{64} * 1024;  ///< Bytes of request body; more: 413.
    std::size_t max_connections = 1024;   ///< Connections being read or answered; more: 503.
    std::chrono::milliseconds request_timeout{10000};  ///< Longest wait for a whole request.
    std::function<void(const http_error&)> on_error;   ///< Told about every request refused (must not throw).
};

/// What a server has done so far (a snapshot).
struct server_stats {
    std::size_t connections = 0;  ///< HTTP connections open now (event streams count on their stream).
    std::uint64_t requests = 0;   ///< Requests read whole.
    std::uint64_t errors = 0;     ///< Requests refused with a 4xx or 5xx by the server itself.
};

namespace detail {

struct server_state {
    server_options options;
    std::map<std::string, std::shared_ptr<sse_stream>, std::less<>> streams;
    std::map<std::string, handler, std::less<>> routes;
    std::atomic<std::size_t> connections{0};
    std::atomic<std::uint64_t> requests{0};
    std::atomic<std::uint64_t> errors{0};

    void report(const http_error& bad) {
        ++errors;
        if (options.on_error) options.on_error(bad);
    }
};

// One HTTP connection until it is closed or handed to an event stream.
class http_session : public std::enable_shared_from_this<http_session> {
public:
    http_session(tcp::socket socket, std::shared_ptr<server_state> state)
        : stream_(std::move(socket)), state_(std::move(state)) {
        ++state_->connections;
    }
    http_session(const http_session&) = delete;
    http_session& operator=(const http_session&) = delete;
    ~http_session() { --state_->connections; }

    void read() {
        parser_.emplace();
        parser_->header_limit(static_cast<std::uint32_t>(state_->options.header_limit));
        parser_->body_limit(state_->options.body_limit);
        stream_.expires_after(state_->options.request_timeout);
        http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
            self->on_read(ec);
        });
    }

private:
    void on_read(boost::beast::error_code ec) {
        namespace beast = boost::beast;
        if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
            ec == net::error::connection_reset || ec == net::error::operation_aborted) {
            return;  // the client left (or never finished its request): nothing to answer
        }
        if (ec) {
            const std::string peer = where();
            if (ec == http::error::header_limit) {
                return refuse(http_error(http::status::request_header_fields_too_large, peer,
                                         "request headers over " + std::to_string(state_->options.header_limit) + " bytes"));
            }
            if (ec == http::error::body_limit) {
                return refuse(http_error(http::status::payload_too_large, peer,
                                         "request body over " + std::to_string(state_->options.body_limit) + " bytes"));
            }
            if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
                return refuse(http_error(http::status::bad_request, peer, "malformed request (" + ec.message() + ")"));
            }
            return;  // a socket error: nobody to answer
        }
        ++state_->requests;
        request req = parser_->release();
        if (req.target().size() > state_->options.target_limit) {
            return refuse(http_error(http::status::uri_too_long, describe(req),
                                     "target of " + std::to_string(req.target().size()) + " bytes (limit " +
                                         std::to_string(state_->options.target_limit) + ")"));
        }
        const std::string_view target(req.target().data(), req.target().size());
        const std::string_view path = target.substr(0, target.find('?'));
        if (const auto s = state_->streams.find(path); s != state_->streams.end()) {
            stream_.expires_never();
            s->second->serve(stream_.release_socket(), std::move(req));
            return;
        }
        const auto r = state_->routes.find(path);
        if (r == state_->routes.end()) {
            return refuse(http_error(http::status::not_found, describe(req), "no such path"), req.version());
        }
        std::optional<response> res;
        try {
            res = r->second(req);
        } catch (const http_error& bad) {
            return refuse(bad, req.version());
        } catch (const std::exception&) {
            return refuse(http_error(http::status::internal_server_error, describe(req), "the handler failed"), req.version());
        }
        res->version(req.version());
        res->keep_alive(req.keep_alive());
        response_ = std::move(*res);
        http::async_write(stream_, response_, [self = shared_from_this()](boost::beast::error_code wec, std::size_t) {
            if (wec) return;
            if (self->response_.keep_alive()) return self->read();
            boost::beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        });
    }

    void refuse(const http_error& bad, unsigned version = 11) {
        state_->report(bad);
        response_ = error_response(bad);
        response_.version(version);
        http::async_write(stream_, response_, [self = shared_from_this()](boost::beast::error_code, std::size_t) {
            boost::beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
        });
    }

    std::string where() const {
        boost::beast::error_code ec;
        const auto peer = stream_.socket().remote_endpoint(ec);
        return ec ? std::string("a request") : "a request from " + peer.address().to_string() + ":" + std::to_string(peer.port());
    }

    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    response response_;
    std::shared_ptr<server_state> state_;
};

}  // namespace detail

/// A small HTTP server: event streams and route handlers by path (the target up to '?').
/// Register them before `start()`; the server is then thread-safe. Stopping (or destroying) it
/// closes every connection, its streams' too.
class server {
public:
    /// A server with `options`; it listens only once started.
    explicit server(server_options options = {}) : state_(std::make_shared<detail::server_state>()) {
        state_->options = std::move(options);
        if (state_->options.threads == 0) state_->options.threads = 1;
    }
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    /// Stops the server.
    ~server() { stop(); }

    /// Creates an event stream running on this server's threads and mounts it at `path`.
    std::shared_ptr<sse_stream> add_stream(const std::string& path, sse_options options = {}) {
        auto s = sse_stream::create(context_.get_executor(), std::move(options));
        mount(path, s);
        return s;
    }

    /// Serves `stream` at `path` (a stream made on this server's `context()`).
    void mount(const std::string& path, std::shared_ptr<sse_stream> stream) {
        if (!stream) throw config_error("", "", "server::mount(\"" + path + "\"): null stream");
        state_->streams[path] = std::move(stream);
    }

    /// Answers requests for `path` with `h`.
    void route(const std::string& path, handler h) { state_->routes[path] = std::move(h); }

    /// Listens and runs the server's threads. Throws config_error when the address cannot be bound.
    void start() {
        if (!threads_.empty()) return;
        const auto& o = state_->options;
        try {
            const tcp::endpoint at(net::ip::make_address(o.address), o.port);
            acceptor_.open(at.protocol());
            acceptor_.set_option(net::socket_base::reuse_address(true));
            acceptor_.bind(at);
            acceptor_.listen(net::socket_base::max_listen_connections);
        } catch (const boost::system::system_error& bad) {
            throw config_error("", "", "server: cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + bad.what());
        }
        port_ = acceptor_.local_endpoint().port();
        accept();
        for (std::size_t i = 0; i < o.threads; ++i) threads_.emplace_back([this] { context_.run(); });
    }

    /// Closes the listener and every connection, then joins the threads. Call it from outside
    /// the server's threads (not from a handler).
    void stop() {
        if (threads_.empty()) return;
        net::post(acceptor_.get_executor(), [this] {
            boost::beast::error_code ignored;
            acceptor_.close(ignored);
            retry_.cancel();
        });
        for (auto& [path, s] : state_->streams) s->stop().wait();
        work_.reset();
        context_.stop();
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

    /// The port the server listens on (after `start()`).
    unsigned short port() const noexcept { return port_; }

    /// The io_context the server runs (to make streams with `sse_stream::create`).
    net::io_context& context() noexcept { return context_; }

    /// Counters and open connections.
    server_stats stats() const {
        return server_stats{state_->connections.load(), state_->requests.load(), state_->errors.load()};
    }

private:
    void accept() {
        acceptor_.async_accept(net::make_strand(context_), [this](boost::beast::error_code ec, tcp::socket socket) {
            if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
            if (ec) {  // e.g. out of file descriptors: try again a little later
                retry_.expires_after(std::chrono::milliseconds(50));
                retry_.async_wait([this](boost::beast::error_code wait) {
                    if (!wait) accept();
                });
                return;
            }
            if (state_->connections.load() >= state_->options.max_connections) {
                http_error busy(http::status::service_unavailable, "a connection",
                                "too many connections (" + std::to_string(state_->options.max_connections) + ")");
                state_->report(busy);
                write_and_close(std::move(socket), error_response(busy), [] {});
            } else {
                std::make_shared<detail::http_session>(std::move(socket), state_)->read();
            }
            accept();
        });
    }

    std::shared_ptr<detail::server_state> state_;
    net::io_context context_;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{context_.get_executor()};
    tcp::acceptor acceptor_{context_};
    net::steady_timer retry_{context_};
    unsigned short port_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace beacon::web
