#pragma once
// Test support for web push: a blocking HTTP/SSE client on a real loopback socket, with every
// wait bounded by a deadline (against hanging, never as a timing check).
#include <beacon/web/http.hpp>
#include <beacon/web/server.hpp>

#include "eventually.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace beacon_test {

// The user is the bearer token (a test's stand-in for a host's session lookup).
inline std::optional<std::string> bearer(const beacon::web::request& req) {
    const auto it = req.find(beacon::web::http::field::authorization);
    if (it == req.end()) return std::nullopt;
    const std::string_view value(it->value().data(), it->value().size());
    if (value.substr(0, 7) != "Bearer ") return std::nullopt;
    return std::string(value.substr(7));
}

// One frame of an event stream, as a client parses it.
struct sse_frame {
    std::string id;
    std::string type;
    std::string data;
    bool comment = false;  // a ':' line only (a heartbeat or a note)
};

class http_client {
public:
    using tcp = boost::asio::ip::tcp;

    http_client(boost::asio::io_context& io, unsigned short port) : socket_(io) {
        socket_.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    }

    // Sends raw bytes.
    void send(std::string_view bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes.data(), bytes.size())); }

    // Sends "GET target" with the extra header lines (each ending in \r\n).
    void get(const std::string& target, const std::string& headers = "") {
        send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" + headers + "\r\n");
    }

    // Reads until `needle` is in the buffer; returns everything up to and including it (and
    // drops it from the buffer), or nothing when the peer closes or `limit` passes.
    std::optional<std::string> read_until(std::string_view needle, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        for (;;) {
            if (const auto at = buffer_.find(needle); at != std::string::npos) {
                std::string out = buffer_.substr(0, at + needle.size());
                buffer_.erase(0, at + needle.size());
                return out;
            }
            if (!fill(deadline)) return std::nullopt;
        }
    }

    // The status line and headers of the response.
    std::optional<std::string> head() { return read_until("\r\n\r\n"); }

    // The next frame of the event stream (comments included), or nothing.
    std::optional<sse_frame> next(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        const auto text = read_until("\n\n", limit);
        if (!text) return std::nullopt;
        sse_frame f;
        f.comment = true;
        std::size_t start = 0;
        while (start < text->size()) {
            const auto end = text->find('\n', start);
            const std::string line = text->substr(start, end - start);
            start = end + 1;
            if (line.empty() || line[0] == ':') continue;
            f.comment = false;
            const auto colon = line.find(": ");
            const std::string field = line.substr(0, colon);
            const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
            if (field == "id") f.id = value;
            if (field == "event") f.type = value;
            if (field == "data") f.data += (f.data.empty() ? "" : "\n") + value;
        }
        return f;
    }

    // The next frame that is not a comment.
    std::optional<sse_frame> next_event(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        for (;;) {
            auto f = next(limit);
            if (!f || !f->comment) return f;
        }
    }

    // Whether the peer closes the connection (reading and dropping what comes) within `limit`.
    bool closed(std::chrono::milliseconds limit = std::chrono::seconds(20)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (fill(deadline)) buffer_.clear();
        return eof_;
    }

    // What was read and not consumed yet.
    const std::string& buffered() const { return buffer_; }

    tcp::socket& socket() { return socket_; }

private:
    bool fill(std::chrono::steady_clock::time_point deadline) {
        if (eof_) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return false;
        pollfd p{socket_.native_handle(), POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
        char chunk[16384];
        const auto n = ::recv(socket_.native_handle(), chunk, sizeof chunk, 0);
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        return true;
    }

    tcp::socket socket_;
    std::string buffer_;
    bool eof_ = false;
};

// The `Authorization` header line that `bearer` reads as `user`.
inline std::string auth(const std::string& user) { return "Authorization: Bearer " + user + "\r\n"; }

// A client of `path` authorized as `user`, whose response head has been read (a 200).
inline std::unique_ptr<http_client> subscribe(boost::asio::io_context& io, beacon::web::server& s, const std::string& user,
                                              const std::string& extra = "", const std::string& path = "/events") {
    auto c = std::make_unique<http_client>(io, s.port());
    c->get(path, auth(user) + extra);
    const auto head = c->head();
    REQUIRE(head);
    REQUIRE_THAT(*head, Catch::Matchers::StartsWith("HTTP/1.1 200 OK"));
    return c;
}

}  // namespace beacon_test
