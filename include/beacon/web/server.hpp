#pragma once
/// \file
/// beacon's own small HTTP server (Boost.Beast): event streams mounted on paths, plain route
/// handlers beside them, and limits on what a client may send (header size, target length,
/// body size, time to the first byte, to the headers and to the whole request, open connections
/// in all and per client address), each answered with a clear 4xx/503 or a close.

#include <beacon/error.hpp>
#include <beacon/failure.hpp>
#include <beacon/web/detail/admission.hpp>
#include <beacon/web/detail/write_and_close.hpp>
#include <beacon/web/http.hpp>
#include <beacon/web/sse_stream.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
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

/// Where a server listens, what it accepts, and where it reports.
struct server_options {
    std::string name;                   ///< Names the server in failures; empty: "server <address>:<port>".
    std::string address = "127.0.0.1";  ///< The address to listen on.
    unsigned short port = 0;            ///< The port; 0: a free one (see `server::port`).
    std::size_t threads = 1;            ///< Threads running the server's io_context.
    std::size_t header_limit = std::size_t{8} * 1024;  ///< Bytes of request line and headers; more: 431.
    std::size_t target_limit = 2048;                   ///< Bytes of the request target; more: 414.
    std::size_t body_limit = std::size_t{64} * 1024;   ///< Bytes of request body; more: 413.
    /// HTTP connections being read or answered (streams count on their stream). One more takes
    /// the place of the oldest connection that has not sent a byte yet, or else gets 503.
    std::size_t max_connections = 1024;
    /// HTTP connections from one client address. One more takes the place of that address's
    /// oldest connection that has not sent a byte yet, or else gets 503.
    std::size_t max_connections_per_address = 64;
    /// Longest wait for a request's first byte, after connecting or between requests; then closed.
    std::chrono::milliseconds first_byte_timeout{5000};
    /// Longest wait from a request's first byte to the end of its headers; then closed.
    std::chrono::milliseconds header_timeout{5000};
    /// Longest wait from a request's first byte to its end, body included; then closed.
    std::chrono::milliseconds request_timeout{10000};
    /// Told about every request refused, as a failure of part::web (`where`: the server,
    /// `receiver`: the peer and the request); empty: the process-wide sink.
    failure_handler on_failure;
};

/// What a server has done so far (a snapshot).
struct server_stats {
    std::size_t connections = 0;  ///< HTTP connections open now (event streams count on their stream).
    std::uint64_t requests = 0;   ///< Requests read whole.
    std::uint64_t errors = 0;     ///< Requests refused with a 4xx or 5xx by the server itself.
    std::size_t waiting = 0;      ///< HTTP connections waiting for a request's first byte now.
    std::uint64_t evicted = 0;    ///< Silent connections closed to make room for a newcomer.
};

/// A small HTTP server: event streams and route handlers by path (the target up to '?').
/// Register them before `start()`; the server is then thread-safe. Stopping (or destroying) it
/// closes every connection, its streams' too.
class server {
public:
    /// A server with `options`; it listens only once started.
    explicit server(server_options options = {}) : state_(std::make_shared<state>()) {
        state_->options = std::move(options);
        if (state_->options.threads == 0) state_->options.threads = 1;
    }
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    /// Stops the server.
    ~server() { stop(); }

    /// Creates an event stream running on this server's threads and mounts it at `path`
    /// (`options.shards` 0: one shard per server thread).
    std::shared_ptr<sse_stream> add_stream(const std::string& path, sse_options options = {}) {
        if (options.shards == 0) options.shards = state_->options.threads;
        auto s = sse_stream::create(context_.get_executor(), std::move(options));
        mount(path, s);
        return s;
    }

    /// Serves `stream` at `path` (a stream made on this server's `context()`); a null stream
    /// throws misuse_error.
    void mount(const std::string& path, std::shared_ptr<sse_stream> stream) {
        if (!stream) throw misuse_error("server::mount(\"" + detail::excerpt(path) + "\"): null stream");
        state_->streams[path] = std::move(stream);
    }

    /// Answers requests for `path` with `h`.
    void route(const std::string& path, handler h) { state_->routes[path] = std::move(h); }

    /// Listens and runs the server's threads. Throws transport_error when the address cannot be
    /// bound, config_error when it is not an IP address.
    void start() {
        if (!threads_.empty()) return;
        auto& o = state_->options;
        boost::system::error_code bad_address;
        const auto ip = net::ip::make_address(o.address, bad_address);
        if (bad_address) throw config_error("", "/address", "server: \"" + detail::excerpt(o.address) + "\" is not an IP address");
        try {
            const tcp::endpoint at(ip, o.port);
            acceptor_.open(at.protocol());
            acceptor_.set_option(net::socket_base::reuse_address(true));
            acceptor_.bind(at);
            acceptor_.listen(net::socket_base::max_listen_connections);
        } catch (const boost::system::system_error& bad) {
            throw transport_error("server: cannot listen on " + o.address + ":" + std::to_string(o.port) + ": " + bad.what());
        }
        port_ = acceptor_.local_endpoint().port();
        state_->where = o.name.empty() ? "server " + o.address + ":" + std::to_string(port_) : o.name;
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
        return server_stats{state_->connections.load(), state_->requests.load(), state_->errors.load(),
                            state_->admission.waiting(), state_->evicted.load()};
    }

private:
    class session;

    // What the server and its sessions share (sessions may outlive a stopping server briefly).
    struct state {
        server_options options;
        std::string where;
        std::map<std::string, std::shared_ptr<sse_stream>, std::less<>> streams;
        std::map<std::string, handler, std::less<>> routes;
        detail::admission<session> admission;
        std::atomic<std::size_t> connections{0};
        std::atomic<std::uint64_t> requests{0};
        std::atomic<std::uint64_t> errors{0};
        std::atomic<std::uint64_t> evicted{0};

        void report(const http_error& bad, const std::string& peer) {
            ++errors;
            beacon::report(failure{part::web, where, peer, nullptr, std::make_exception_ptr(bad)}, options.on_failure);
        }
    };

    // One HTTP connection until it is closed or handed to an event stream: waits for the first
    // byte, reads the headers, then the body, each under its own deadline.
    class session : public std::enable_shared_from_this<session> {
    public:
        session(tcp::socket socket, std::string address, std::shared_ptr<state> shared)
            : stream_(std::move(socket)), state_(std::move(shared)) {
            ticket_.address = std::move(address);
            ++state_->connections;
            state_->admission.open(ticket_.address);
        }
        session(const session&) = delete;
        session& operator=(const session&) = delete;
        ~session() {
            state_->admission.close(ticket_);
            --state_->connections;
        }

        void start() {
            ticket_.self = weak_from_this();
            wait_first_byte();
        }

        // Closes the connection to make room for a newcomer (any thread).
        void evict() {
            net::post(stream_.get_executor(), [self = shared_from_this()] { self->stream_.close(); });
        }

    private:
        void wait_first_byte() {
            if (buffer_.size() > 0) {  // a pipelined request is already here
                if (state_->admission.spoke(ticket_)) read_header();
                return;
            }
            if (!state_->admission.wait(ticket_)) return;
            stream_.expires_after(state_->options.first_byte_timeout);
            stream_.async_read_some(buffer_.prepare(1024), [self = shared_from_this()](boost::beast::error_code ec, std::size_t n) {
                self->buffer_.commit(n);
                if (!self->state_->admission.spoke(self->ticket_) || ec) return;  // evicted, timed out or gone
                self->read_header();
            });
        }

        void read_header() {
            const auto& o = state_->options;
            parser_.emplace();
            parser_->header_limit(static_cast<std::uint32_t>(o.header_limit));
            parser_->body_limit(o.body_limit);
            deadline_ = std::chrono::steady_clock::now() + o.request_timeout;
            stream_.expires_after(std::min(o.header_timeout, o.request_timeout));
            http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
                if (ec || self->parser_->is_done()) return self->on_read(ec);
                self->stream_.expires_at(self->deadline_);
                http::async_read(self->stream_, self->buffer_, *self->parser_,
                                 [self](boost::beast::error_code body_ec, std::size_t) { self->on_read(body_ec); });
            });
        }

        void on_read(boost::beast::error_code ec) {
            namespace beast = boost::beast;
            if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
                ec == net::error::connection_reset || ec == net::error::operation_aborted) {
                return;  // the client left (or never finished its request): nothing to answer
            }
            if (ec) {
                const std::string who = "a request from " + peer();
                if (ec == http::error::header_limit) {
                    return refuse(http_error(http::status::request_header_fields_too_large, who,
                                             "request headers over " + std::to_string(state_->options.header_limit) + " bytes"),
                                  peer());
                }
                if (ec == http::error::body_limit) {
                    return refuse(http_error(http::status::payload_too_large, who,
                                             "request body over " + std::to_string(state_->options.body_limit) + " bytes"),
                                  peer());
                }
                if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
                    return refuse(http_error(http::status::bad_request, who, "malformed request (" + ec.message() + ")"), peer());
                }
                return;  // a socket error: nobody to answer
            }
            ++state_->requests;
            request req = parser_->release();
            const std::string client = peer() + " " + describe(req);
            if (req.target().size() > state_->options.target_limit) {
                return refuse(http_error(http::status::uri_too_long, describe(req),
                                         "target of " + std::to_string(req.target().size()) + " bytes (limit " +
                                             std::to_string(state_->options.target_limit) + ")"),
                              client);
            }
            const std::string_view target = to_string_view(req.target());
            const std::string_view path = target.substr(0, target.find('?'));
            if (const auto s = state_->streams.find(path); s != state_->streams.end()) {
                stream_.expires_never();
                s->second->serve(stream_.release_socket(), std::move(req));
                return;
            }
            const auto r = state_->routes.find(path);
            if (r == state_->routes.end()) {
                return refuse(http_error(http::status::not_found, describe(req), "no such path"), client, req.version());
            }
            std::optional<response> res;
            try {
                res = r->second(req);
            } catch (const http_error& bad) {
                return refuse(bad, client, req.version());
            } catch (const std::exception&) {
                return refuse(http_error(http::status::internal_server_error, describe(req), "the handler failed"), client,
                              req.version());
            }
            res->version(req.version());
            res->keep_alive(req.keep_alive());
            response_ = std::move(*res);
            http::async_write(stream_, response_, [self = shared_from_this()](boost::beast::error_code wec, std::size_t) {
                if (wec) return;
                if (self->response_.keep_alive()) return self->wait_first_byte();
                boost::beast::error_code ignored;
                self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            });
        }

        void refuse(const http_error& bad, const std::string& client, unsigned version = 11) {
            state_->report(bad, client);
            response_ = error_response(bad);
            response_.version(version);
            http::async_write(stream_, response_, [self = shared_from_this()](boost::beast::error_code, std::size_t) {
                boost::beast::error_code ignored;
                self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
            });
        }

        std::string peer() const {
            boost::beast::error_code ec;
            const auto at = stream_.socket().remote_endpoint(ec);
            return ec ? ticket_.address : at.address().to_string() + ":" + std::to_string(at.port());
        }

        boost::beast::tcp_stream stream_;
        boost::beast::flat_buffer buffer_;
        std::optional<http::request_parser<http::string_body>> parser_;
        std::chrono::steady_clock::time_point deadline_;
        response response_;
        std::shared_ptr<state> state_;
        typename detail::admission<session>::ticket ticket_;
    };

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
            admit(std::move(socket));
            accept();
        });
    }

    // Starts a session for `socket`, making room by closing the oldest silent connection when a
    // limit is reached (in all, then for the client's address), or answers 503.
    void admit(tcp::socket socket) {
        const auto& o = state_->options;
        boost::beast::error_code ec;
        const auto at = socket.remote_endpoint(ec);
        std::string address = ec ? std::string() : at.address().to_string();
        const std::string peer = ec ? std::string() : address + ":" + std::to_string(at.port());
        const std::string who = ec ? std::string("a connection") : "a connection from " + peer;
        const auto make_room = [&](bool full, const std::string& from, const std::string& why) {
            if (!full) return true;
            if (auto victim = state_->admission.evict(from)) {
                ++state_->evicted;
                victim->evict();
                return true;
            }
            http_error busy(http::status::service_unavailable, who, why);
            state_->report(busy, peer);
            detail::write_and_close(std::move(socket), error_response(busy), [] {});
            return false;
        };
        if (!make_room(state_->connections.load() >= o.max_connections, {},
                       "too many connections (" + std::to_string(o.max_connections) + ")")) {
            return;
        }
        if (!address.empty() &&
            !make_room(state_->admission.from(address) >= o.max_connections_per_address, address,
                       "too many connections from " + address + " (" + std::to_string(o.max_connections_per_address) + ")")) {
            return;
        }
        std::make_shared<session>(std::move(socket), std::move(address), state_)->start();
    }

    std::shared_ptr<state> state_;
    net::io_context context_;
    std::optional<net::executor_work_guard<net::io_context::executor_type>> work_{context_.get_executor()};
    tcp::acceptor acceptor_{context_};
    net::steady_timer retry_{context_};
    unsigned short port_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace beacon::web
