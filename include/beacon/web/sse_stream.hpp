#pragma once
/// \file
/// A hub's Server-Sent Events endpoint: every event published (e.g. by the hub, as one of its
/// consumers) is sent to the connected clients whose user may see it, as `id:`, `event:` and
/// `data:` lines; heartbeat comments, `Last-Event-ID` resume from a bounded replay buffer, CORS,
/// per-connection authorization and bounded per-connection queues.

#include <beacon/event.hpp>
#include <beacon/failure.hpp>
#include <beacon/hub.hpp>
#include <beacon/web/http.hpp>
#include <beacon/web/detail/write_and_close.hpp>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/http/empty_body.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace beacon::web {

/// Maps a request (a header, a cookie, a query token) to the user it is for, or to nothing to
/// refuse it with 401. It may also throw http_error to answer with another status.
using authorizer = std::function<std::optional<std::string>(const request&)>;
/// Whether the connections of `user` may receive `e` (e.g. `user` is one of its recipients).
/// Must not throw: an exception counts as "no".
using audience = std::function<bool(const event& e, const std::string& user)>;
/// The text of an event's `data:` lines (one line per `\n`; `\r` is dropped).
using encoder = std::function<std::string(const event&)>;

/// How an sse_stream identifies, filters, encodes and bounds what it sends.
struct sse_options {
    authorizer authorize;  ///< Who a connection is for; empty: everyone, as the anonymous user "".
    audience for_user;     ///< Which events a user receives; empty: every event.
    encoder encode;        ///< The `data:` text; empty: the event's JSON in beacon's wire shape.
    std::string id_key = "event_id";      ///< For an event with a nil id: a string in `data[id_key]` is the SSE id; else one is made.
    std::string type_key = "event_type";  ///< A string in `data[type_key]` is the `event:` field.
    std::size_t replay_capacity = 1024;   ///< Events kept for `Last-Event-ID` resume.
    std::size_t queue = 256;              ///< Frames waiting per connection; one more closes it.
    std::size_t max_connections = 10000;  ///< Open connections; more are answered 503.
    /// Strands the connections are spread over (in turn as they come), each fanning events out to
    /// its own, so that as many threads of the executor do it at once; 0: one per hardware thread
    /// (`server::add_stream`: one per server thread).
    std::size_t shards = 1;
    /// How often an idle connection gets a comment line (after an event: within twice this).
    std::chrono::milliseconds heartbeat{15000};
    std::chrono::milliseconds retry{0};   ///< When > 0, sent first as the client's `retry:` delay.
    std::string allow_origin;             ///< When set, `Access-Control-Allow-Origin` (CORS).
    std::string name = "event stream";    ///< Names the stream in failures.
    /// Told when the authorizer or `for_user` throws something other than http_error (the
    /// request is answered 500; the event is not sent to that user), as a failure of part::web
    /// (`where`: `name`, `receiver`: the request or the user); empty: the process-wide sink.
    failure_handler on_failure;
};

/// What an sse_stream has done so far (a snapshot).
struct sse_stats {
    std::size_t connections = 0;   ///< Connections open now.
    std::uint64_t accepted = 0;    ///< Connections that were authorized and streamed.
    std::uint64_t refused = 0;     ///< Requests the authorizer refused (401).
    std::uint64_t rejected = 0;    ///< Other requests answered with an error (405, 503, ...).
    std::uint64_t overflowed = 0;  ///< Connections closed because their queue was full.
    std::uint64_t vanished = 0;    ///< Connections the client or the network closed.
    std::uint64_t published = 0;   ///< Events published.
    std::uint64_t resumed = 0;     ///< Connections resumed from the replay buffer.
    std::uint64_t resume_misses = 0;  ///< `Last-Event-ID`s no longer (or never) in the replay buffer.
};

/// One hub's SSE endpoint. Create it with `create`, register it on the hub (it is a consumer),
/// and hand it connections: `serve(socket, request)` from beacon's server or a host's own. Its
/// connections live in `sse_options::shards` strands of the executor it was made with; `publish`
/// (any thread) only encodes the event once and posts it to each, never touching a socket.
class sse_stream : public consumer, public std::enable_shared_from_this<sse_stream> {
    struct private_tag {};

public:
    /// Use `create`.
    sse_stream(private_tag, const net::any_io_executor& executor, sse_options options) : options_(std::move(options)) {
        if (options_.shards == 0) options_.shards = std::max(1u, std::thread::hardware_concurrency());
        for (std::size_t i = 0; i < options_.shards; ++i) shards_.push_back(std::make_unique<shard>(executor));
        std::random_device seed;
        std::ostringstream epoch;
        epoch << std::hex << (std::uint64_t{seed()} << 32 | seed());
        epoch_ = epoch.str();
        http::response<http::empty_body> head{http::status::ok, 11};
        head.set(http::field::content_type, "text/event-stream; charset=utf-8");
        head.set(http::field::cache_control, "no-cache");
        head.set("X-Accel-Buffering", "no");
        if (!options_.allow_origin.empty()) head.set(http::field::access_control_allow_origin, options_.allow_origin);
        std::ostringstream text;
        text << head.base();
        std::string start = text.str();
        if (options_.retry.count() > 0) start += "retry: " + std::to_string(options_.retry.count()) + "\n\n";
        head_ = std::make_shared<const std::string>(std::move(start));
    }

    /// A stream whose connections run on `executor` (an io_context's, typically).
    static std::shared_ptr<sse_stream> create(const net::any_io_executor& executor, sse_options options = {}) {
        return std::make_shared<sse_stream>(private_tag{}, executor, std::move(options));
    }

    /// Publishes `e` (so that a hub can hold the stream as a consumer).
    void consume(const event& e) override { publish(e); }

    /// Encodes `e` once and posts it to every connection whose user may see it; returns its SSE
    /// id. Thread-safe; never blocks on a socket. After `stop()` it sends nothing.
    std::string publish(const event& e) {
        auto item = std::make_shared<entry>();
        item->e = e;
        item->id = id_of(e);
        std::string type;
        if (!options_.type_key.empty()) {
            const auto it = e.data.find(options_.type_key);
            if (it != e.data.end() && it->is_string() && single_line(it->get_ref<const std::string&>())) {
                type = it->get<std::string>();
            }
        }
        item->frame = std::make_shared<const std::string>(
            frame(item->id, type, options_.encode ? options_.encode(e) : nlohmann::json(e).dump()));
        std::lock_guard lock(post_mutex_);
        if (stopped_) return item->id;
        ++published_;
        for (auto& home : shards_) {
            net::post(*home->strand, [self = shared_from_this(), &home = *home, item] { self->deliver(home, item); });
        }
        return item->id;
    }

    /// Takes over a connection whose request was read (GET; an `OPTIONS` preflight when CORS is
    /// on): authorizes it and streams, or answers 401 / 405 / 503 and closes. Thread-safe.
    void serve(tcp::socket socket, request req) {
        std::lock_guard lock(post_mutex_);
        if (stopped_) return;  // the socket closes here
        auto& home = *shards_[next_shard_++ % shards_.size()];
        net::post(*home.strand, [self = shared_from_this(), &home, s = std::move(socket), r = std::move(req)]() mutable {
            self->start(home, std::move(s), r);
        });
    }

    /// Closes every connection and stops the heartbeat; later publishes and connections are
    /// dropped. Returns at once: the closing runs in the stream's strands, and the future is
    /// ready when it is done, the stream then holding nothing of its executor's io_context (which
    /// must run until then; a host destroys it only afterwards). A second call's future is ready.
    std::future<void> stop() {
        auto done = std::make_shared<std::promise<void>>();
        auto ready = done->get_future();
        std::lock_guard lock(post_mutex_);
        if (stopped_) {
            done->set_value();
            return ready;
        }
        stopped_ = true;
        auto left = std::make_shared<std::atomic<std::size_t>>(shards_.size());
        for (auto& home : shards_) {
            net::post(*home->strand, [self = shared_from_this(), &home = *home, done, left] {
                self->close_all(home);
                if (--*left == 0) done->set_value();
            });
            home->strand.reset();
        }
        return ready;
    }

    /// Counters and the number of open connections.
    sse_stats stats() const {
        sse_stats s;
        s.connections = open_.load();
        s.accepted = accepted_.load();
        s.refused = refused_.load();
        s.rejected = rejected_.load();
        s.overflowed = overflowed_.load();
        s.vanished = vanished_.load();
        s.published = published_.load();
        s.resumed = resumed_.load();
        s.resume_misses = resume_misses_.load();
        return s;
    }

    /// The options the stream was made with.
    const sse_options& options() const noexcept { return options_; }

private:
    using frame_ptr = std::shared_ptr<const std::string>;

    struct entry {
        std::string id;
        event e;
        frame_ptr frame;
    };

    struct shard;

    struct connection {
        connection(tcp::socket s, shard& h) : socket(std::move(s)), home(h) {}
        tcp::socket socket;
        shard& home;  // the shard it lives in
        std::string user;
        std::vector<frame_ptr> pending;  // waiting for the next write
        std::vector<frame_ptr> writing;  // in the write under way
        std::vector<net::const_buffer> buffers;
        bool busy = false;    // a write is under way
        bool open = true;
        bool active = false;  // a frame other than a heartbeat queued since the last tick
        std::array<char, 64> sink{};  // what a client sends after its request is read and dropped
    };

    // A share of the connections, with all their state, in a strand of its own.
    struct shard {
        explicit shard(const net::any_io_executor& executor) : strand(net::make_strand(executor)), io_strand(*strand) {}
        std::optional<net::strand<net::any_io_executor>> strand;  // to post to; under post_mutex_, reset by stop

        // Strand state.
        std::optional<net::strand<net::any_io_executor>> io_strand;  // what handlers bind to
        std::unique_ptr<net::steady_timer> timer;  // the heartbeat, while connections are open
        std::deque<std::shared_ptr<const entry>> replay;  // every shard sees every event: each resumes alone
        std::map<std::string, std::vector<std::shared_ptr<connection>>, std::less<>> by_user;
        std::size_t open = 0;  // connections in by_user
        bool flushing = false;  // a flush is posted
    };

    static bool single_line(std::string_view s) noexcept { return s.find_first_of("\r\n", 0, 3) == std::string_view::npos; }

    // The event's id (the same in every web process a fan-out feeds, so Last-Event-ID resumes on
    // any of them); only an event sent unstamped falls back to data[id_key] or a sequence.
    std::string id_of(const event& e) {
        if (!e.id.is_nil()) return e.id.to_string();
        if (!options_.id_key.empty()) {
            const auto it = e.data.find(options_.id_key);
            if (it != e.data.end() && it->is_string()) {
                const auto& id = it->get_ref<const std::string&>();
                if (!id.empty() && id.size() <= 256 && single_line(id)) return id;
            }
        }
        return epoch_ + "-" + std::to_string(++sequence_);
    }

    static std::string frame(std::string_view id, std::string_view type, std::string_view data) {
        std::string out;
        out.reserve(id.size() + type.size() + data.size() + 32);
        out.append("id: ").append(id).append("\n");
        if (!type.empty()) out.append("event: ").append(type).append("\n");
        for (std::size_t start = 0;;) {
            const auto end = data.find('\n', start);
            out.append("data: ");
            for (char c : data.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)) {
                if (c != '\r') out += c;
            }
            out += '\n';
            if (end == std::string_view::npos) break;
            start = end + 1;
        }
        out += '\n';
        return out;
    }

    bool passes(const event& e, const std::string& user) const noexcept {
        if (!options_.for_user) return true;
        try {
            return options_.for_user(e, user);
        } catch (...) {
            try {
                beacon::report(failure{part::web, options_.name, "for_user(\"" + detail::excerpt(user) + "\")", &e,
                                       std::current_exception()},
                               options_.on_failure);
            } catch (...) {  // out of memory for the record: the event is still not sent
            }
            return false;
        }
    }

    // --- everything below runs in a shard's strand (the shard of `home`, or of the connection) ---

    void deliver(shard& home, const std::shared_ptr<const entry>& item) {
        if (options_.replay_capacity > 0) {
            home.replay.push_back(item);
            if (home.replay.size() > options_.replay_capacity) home.replay.pop_front();
        }
        std::vector<std::shared_ptr<connection>> full;
        for (auto& [user, list] : home.by_user) {
            if (!passes(item->e, user)) continue;
            for (auto& c : list) {
                if (!enqueue(*c, item->frame)) full.push_back(c);
            }
        }
        for (auto& c : full) close(c, &overflowed_);
        // Writes after the events already posted to the shard, so that a burst goes out in one
        // gather write per connection.
        if (home.flushing) return;
        home.flushing = true;
        net::post(*home.io_strand, [self = shared_from_this(), &home] {
            home.flushing = false;
            self->flush(home);
        });
    }

    void flush(shard& home) {
        std::vector<std::shared_ptr<connection>> gone;
        for (auto& [user, list] : home.by_user) {
            for (auto& c : list) {
                if (!c->busy && !c->pending.empty() && !write(c)) gone.push_back(c);
            }
        }
        for (auto& c : gone) close(c, &vanished_);
    }

    bool enqueue(connection& c, const frame_ptr& f) {
        if (c.pending.size() >= options_.queue) return false;
        c.pending.push_back(f);
        c.active = true;
        return true;
    }

    void start(shard& home, tcp::socket socket, const request& req) {
        const auto refuse = [&](const http_error& bad, std::atomic<std::uint64_t>& counter) {
            ++counter;
            response res = error_response(bad);
            cors(res);
            detail::write_and_close(std::move(socket), std::move(res), [] {});
        };
        if (stopped_) return;  // the socket closes here
        if (req.method() == http::verb::options && !options_.allow_origin.empty()) {
            response res = text_response(http::status::no_content, "");
            cors(res);
            res.set(http::field::access_control_allow_methods, "GET");
            res.set(http::field::access_control_allow_headers, "Authorization, Last-Event-ID, Cache-Control");
            detail::write_and_close(std::move(socket), std::move(res), [] {});
            return;
        }
        if (req.method() != http::verb::get) {
            return refuse(http_error(http::status::method_not_allowed, describe(req), "an event stream answers GET only"), rejected_);
        }
        const auto too_many = [&] {
            refuse(http_error(http::status::service_unavailable, describe(req),
                              "too many event-stream connections (" + std::to_string(options_.max_connections) + ")"),
                   rejected_);
        };
        if (open_.load() >= options_.max_connections) return too_many();
        std::optional<std::string> user = std::string();
        if (options_.authorize) {
            try {
                user = options_.authorize(req);
            } catch (const http_error& bad) {
                return refuse(bad, bad.status() == http::status::unauthorized ? refused_ : rejected_);
            } catch (...) {
                beacon::report(failure{part::web, options_.name, "the authorizer of " + describe(req), nullptr,
                                       std::current_exception()},
                               options_.on_failure);
                return refuse(http_error(http::status::internal_server_error, describe(req), "the authorizer failed"), rejected_);
            }
            if (!user) return refuse(http_error(http::status::unauthorized, describe(req), "not authorized"), refused_);
        }
        // Takes a place, unless another shard took the last one meanwhile.
        for (auto n = open_.load();;) {
            if (n >= options_.max_connections) return too_many();
            if (open_.compare_exchange_weak(n, n + 1)) break;
        }
        auto c = std::make_shared<connection>(std::move(socket), home);
        c->user = std::move(*user);
        c->pending.push_back(head_);
        c->active = true;
        resume(*c, req);
        home.by_user[c->user].push_back(c);
        ++accepted_;
        if (++home.open == 1) arm_heartbeat(home);
        boost::beast::error_code ec;
        c->socket.non_blocking(true, ec);  // for write's first attempt
        if (ec || !write(c)) return close(c, &vanished_);
        read_idle(c);
    }

    void resume(connection& c, const request& req) {
        const auto last = req.find("Last-Event-ID");
        if (last == req.end() || last->value().empty()) return;
        const std::string_view id(last->value().data(), last->value().size());
        const auto& replay = c.home.replay;
        auto it = replay.end();
        while (it != replay.begin()) {
            --it;
            if ((*it)->id == id) break;
        }
        if (it == replay.end() || (*it)->id != id) {
            ++resume_misses_;
            c.pending.push_back(missed_);
            return;
        }
        ++resumed_;
        std::size_t room = options_.queue;
        for (++it; it != replay.end() && room > 0; ++it) {
            if (passes((*it)->e, c.user)) {
                c.pending.push_back((*it)->frame);
                --room;
            }
        }
    }

    // Writes the pending frames: at once as far as the socket takes them (most often all, with
    // no handler to run), the rest asynchronously. False when the socket failed: the caller
    // closes the connection (after any loop over the shard's connections).
    bool write(const std::shared_ptr<connection>& c) {
        c->writing.swap(c->pending);
        c->buffers.clear();
        std::size_t size = 0;
        for (const auto& f : c->writing) {
            c->buffers.push_back(net::buffer(*f));
            size += f->size();
        }
        boost::beast::error_code failed;
        std::size_t written = c->socket.write_some(c->buffers, failed);
        if (failed && failed != net::error::would_block && failed != net::error::try_again) return false;
        if (written == size) {
            c->writing.clear();
            return true;
        }
        auto first = c->buffers.begin();  // the rest: from the first byte not written
        for (; written >= first->size(); ++first) written -= first->size();
        *first += written;
        c->buffers.erase(c->buffers.begin(), first);
        c->busy = true;
        net::async_write(c->socket, c->buffers,
                         net::bind_executor(*c->home.io_strand, [self = shared_from_this(), c](boost::beast::error_code ec, std::size_t) {
                             c->busy = false;
                             c->writing.clear();
                             if (ec) return self->close(c, &self->vanished_);
                             if (c->open && !c->pending.empty() && !self->write(c)) self->close(c, &self->vanished_);
                         }));
        return true;
    }

    void read_idle(const std::shared_ptr<connection>& c) {
        c->socket.async_read_some(net::buffer(c->sink),
                                  net::bind_executor(*c->home.io_strand, [self = shared_from_this(), c](boost::beast::error_code ec, std::size_t) {
                                      if (ec) return self->close(c, &self->vanished_);
                                      if (c->open) self->read_idle(c);
                                  }));
    }

    void close(const std::shared_ptr<connection>& c, std::atomic<std::uint64_t>* counter) {
        if (!c->open) return;
        c->open = false;
        if (counter) ++*counter;
        boost::beast::error_code ignored;
        c->socket.shutdown(tcp::socket::shutdown_both, ignored);
        c->socket.close(ignored);
        c->pending.clear();
        auto& by_user = c->home.by_user;
        const auto it = by_user.find(c->user);
        if (it != by_user.end()) {
            auto& list = it->second;
            for (std::size_t i = 0; i < list.size(); ++i) {
                if (list[i] == c) {
                    list[i] = std::move(list.back());
                    list.pop_back();
                    break;
                }
            }
            if (list.empty()) by_user.erase(it);
        }
        --c->home.open;
        --open_;
    }

    void close_all(shard& home) {
        std::vector<std::shared_ptr<connection>> all;
        for (auto& [user, list] : home.by_user) all.insert(all.end(), list.begin(), list.end());
        for (auto& c : all) close(c, nullptr);
        home.by_user.clear();
        home.replay.clear();
        home.timer.reset();
        home.io_strand.reset();
    }

    void arm_heartbeat(shard& home) {
        if (!home.timer) home.timer = std::make_unique<net::steady_timer>(*home.io_strand);
        home.timer->expires_after(options_.heartbeat);
        home.timer->async_wait([weak = weak_from_this(), &home](boost::beast::error_code ec) {
            const auto self = weak.lock();
            if (ec || !self || self->stopped_) return;
            std::vector<std::shared_ptr<connection>> gone;
            for (auto& [user, list] : home.by_user) {
                for (auto& c : list) {
                    const bool idle = !c->active && c->pending.empty() && !c->busy;
                    c->active = false;
                    if (idle) {
                        c->pending.push_back(self->heartbeat_);
                        if (!self->write(c)) gone.push_back(c);
                    }
                }
            }
            for (auto& c : gone) self->close(c, &self->vanished_);
            if (home.open > 0) self->arm_heartbeat(home);
        });
    }

    void cors(response& res) const {
        if (!options_.allow_origin.empty()) res.set(http::field::access_control_allow_origin, options_.allow_origin);
    }

    sse_options options_;
    std::vector<std::unique_ptr<shard>> shards_;  // options_.shards of them, for the stream's life
    std::string epoch_;
    std::atomic<std::uint64_t> sequence_{0};
    frame_ptr head_;
    const frame_ptr heartbeat_ = std::make_shared<const std::string>(":\n\n");
    const frame_ptr missed_ = std::make_shared<const std::string>(": Last-Event-ID not in the replay buffer; events may have been missed\n\n");

    std::mutex post_mutex_;              // guards the shards' `strand`s and next_shard_; orders publishes before stop
    std::atomic<bool> stopped_{false};  // set under post_mutex_
    std::size_t next_shard_ = 0;        // the shard of the next connection

    std::atomic<std::size_t> open_{0};  // connections in every shard
    std::atomic<std::uint64_t> accepted_{0}, refused_{0}, rejected_{0}, overflowed_{0}, vanished_{0}, published_{0},
        resumed_{0}, resume_misses_{0};
};

}  // namespace beacon::web
