// Web push on real loopback sockets: the SSE stream's wire format, authorization, per-user
// delivery, Last-Event-ID resume, overflow, vanishing clients, heartbeats, CORS, 1,000 clients,
// connections over several shards, a stream mounted in a host's own Beast server, and curl -N
// (the server's own limits are in web_server_test and web_server_limits_test).
#include <beacon/web/sse_stream.hpp>

#include <beacon/registry.hpp>
#include <beacon/web.hpp>

#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
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

// A user receives the events listing them among their recipients.
bool recipient(const beacon::event& e, const std::string& user) {
    const auto it = e.data.find("recipients");
    if (it == e.data.end() || !it->is_array()) return false;
    for (const auto& r : *it) {
        if (r == user) return true;
    }
    return false;
}

web::sse_options user_options() {
    web::sse_options o;
    o.authorize = bearer;
    o.for_user = recipient;
    return o;
}

beacon::event note(const std::string& title, std::vector<std::string> recipients) {
    return beacon::event("system", {{"event_type", "user"}, {"title", title}, {"recipients", std::move(recipients)}});
}


std::string title_of(const beacon_test::sse_frame& f) {
    return nlohmann::json::parse(f.data).at("payload").at("title").get<std::string>();
}

}  // namespace

TEST_CASE("an event stream sends id, event and data lines to an authorized client", "[web][sse]") {
    web::server s;
    auto stream = s.add_stream("/events", user_options());
    s.start();
    boost::asio::io_context io;

    http_client c(io, s.port());
    c.get("/events", auth("alice"));
    const auto head = c.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 200 OK\r\n"));
    CHECK_THAT(*head, Contains("Content-Type: text/event-stream"));
    CHECK_THAT(*head, Contains("Cache-Control: no-cache"));
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));

    auto e = note("hello", {"alice"});
    e.data["event_id"] = "n-1";
    CHECK(stream->publish(e) == "n-1");
    const auto f = c.next_event();
    REQUIRE(f);
    CHECK(f->id == "n-1");
    CHECK(f->type == "user");
    CHECK(nlohmann::json::parse(f->data) == nlohmann::json(e));

    // Without an event_id, the stream makes ids of its own, distinct and in order.
    stream->publish(note("second", {"alice"}));
    stream->publish(note("third", {"alice"}));
    const auto second = c.next_event();
    const auto third = c.next_event();
    REQUIRE(second);
    REQUIRE(third);
    CHECK(title_of(*second) == "second");
    CHECK(title_of(*third) == "third");
    CHECK(second->id != third->id);

    // A stamped event's SSE id is its event id, whatever its data says (the same id in every web
    // process a fan-out feeds).
    auto stamped = note("fourth", {"alice"});
    stamped.data["event_id"] = "n-4";
    beacon::registry reg;
    reg.core().signal("notes").stamp(stamped);
    CHECK(stream->publish(stamped) == stamped.id.to_string());
    const auto fourth = c.next_event();
    REQUIRE(fourth);
    CHECK(fourth->id == stamped.id.to_string());
    CHECK(stream->stats().accepted == 1);
    CHECK(stream->stats().published == 4);
}

TEST_CASE("a request the authorizer refuses gets 401 and no stream", "[web][sse]") {
    web::server s;
    auto stream = s.add_stream("/events", user_options());
    s.start();
    boost::asio::io_context io;

    http_client anonymous(io, s.port());
    anonymous.get("/events");
    const auto head = anonymous.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 401 Unauthorized"));
    CHECK_THAT(*head, !Contains("text/event-stream"));
    CHECK(anonymous.closed());
    CHECK_THAT(anonymous.buffered(), !Contains("data:"));

    // A hook may refuse with a status of its own.
    web::server s2;
    web::sse_options o;
    o.authorize = [](const web::request& req) -> std::optional<std::string> {
        throw web::http_error(web::http::status::forbidden, web::describe(req), "admins only");
    };
    auto admin = s2.add_stream("/admin", o);
    s2.start();
    http_client user(io, s2.port());
    user.get("/admin", auth("bob"));
    const auto head2 = user.head();
    REQUIRE(head2);
    CHECK_THAT(*head2, StartsWith("HTTP/1.1 403 Forbidden"));
    CHECK(user.closed());
    CHECK(admin->stats().rejected == 1);

    CHECK(stream->stats().refused == 1);
    CHECK(stream->stats().accepted == 0);
    CHECK(stream->stats().connections == 0);
}

TEST_CASE("a user never receives another user's event, through a hub", "[web][sse]") {
    beacon::hubs hubs;
    auto user_hub = hubs.create_hub("UserHub");
    web::server s;
    auto stream = s.add_stream("/events", user_options());
    user_hub->register_consumer(stream);
    s.start();
    boost::asio::io_context io;

    auto alice = subscribe(io, s, "alice");
    auto alice2 = subscribe(io, s, "alice");  // a second tab
    auto bob = subscribe(io, s, "bob");
    REQUIRE(eventually([&] { return stream->stats().connections == 3; }));

    for (int i = 0; i < 60; ++i) {
        const std::string who = i % 3 == 0 ? "alice" : i % 3 == 1 ? "bob" : "carol";
        hubs.send(note(who + "-" + std::to_string(i), {who}));
    }
    hubs.send(note("end", {"alice", "bob"}));

    auto titles = [](http_client& c) {
        std::vector<std::string> got;
        for (;;) {
            const auto f = c.next_event();
            REQUIRE(f);
            got.push_back(title_of(*f));
            if (got.back() == "end") return got;
        }
    };
    std::vector<std::string> want_alice, want_bob;
    for (int i = 0; i < 60; i += 3) want_alice.push_back("alice-" + std::to_string(i));
    for (int i = 1; i < 60; i += 3) want_bob.push_back("bob-" + std::to_string(i));
    want_alice.push_back("end");
    want_bob.push_back("end");
    CHECK(titles(*alice) == want_alice);
    CHECK(titles(*alice2) == want_alice);
    CHECK(titles(*bob) == want_bob);
}

TEST_CASE("Last-Event-ID resumes from the replay buffer, for that user only", "[web][sse]") {
    web::sse_options o = user_options();
    o.replay_capacity = 8;
    web::server s;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    std::string last;
    {
        auto c = subscribe(io, s, "alice");
        REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
        stream->publish(note("a1", {"alice"}));
        const auto f = c->next_event();
        REQUIRE(f);
        last = f->id;
    }
    REQUIRE(eventually([&] { return stream->stats().connections == 0; }));
    stream->publish(note("b1", {"bob"}));
    stream->publish(note("a2", {"alice"}));
    stream->publish(note("a3", {"alice", "bob"}));

    auto c = subscribe(io, s, "alice", "Last-Event-ID: " + last + "\r\n");
    const auto a2 = c->next_event();
    const auto a3 = c->next_event();
    REQUIRE(a2);
    REQUIRE(a3);
    CHECK(title_of(*a2) == "a2");
    CHECK(title_of(*a3) == "a3");
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    stream->publish(note("a4", {"alice"}));
    const auto a4 = c->next_event();
    REQUIRE(a4);
    CHECK(title_of(*a4) == "a4");
    CHECK(stream->stats().resumed == 1);

    SECTION("an id that fell out of the buffer is said to be missed") {
        for (int i = 0; i < 10; ++i) stream->publish(note("x", {"bob"}));
        auto late = subscribe(io, s, "alice", "Last-Event-ID: " + last + "\r\n");
        const auto f = late->next();
        REQUIRE(f);
        CHECK(f->comment);
        CHECK(stream->stats().resume_misses == 1);
    }
}

TEST_CASE("a client that does not read overflows its queue and is closed; the others go on", "[web][sse]") {
    web::sse_options o = user_options();
    o.queue = 4;
    o.for_user = nullptr;  // everyone gets everything
    web::server s;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    auto stuck = std::make_unique<http_client>(io, s.port());
    stuck->socket().set_option(boost::asio::socket_base::receive_buffer_size(4096));
    stuck->get("/events", auth("slow"));
    auto reader = subscribe(io, s, "fast");
    REQUIRE(eventually([&] { return stream->stats().connections == 2; }));

    // Big events: the stuck client's socket buffers fill, then its queue, while `reader` reads.
    const std::string big(64 * 1024, 'x');
    int read = 0;
    for (int i = 0; i < 400 && stream->stats().overflowed == 0; ++i) {
        stream->publish(beacon::event("system", {{"title", std::to_string(i)}, {"blob", big}}));
        const auto f = reader->next_event();
        REQUIRE(f);
        CHECK(nlohmann::json::parse(f->data)["payload"]["title"] == std::to_string(i));
        ++read;
    }
    REQUIRE(eventually([&] { return stream->stats().overflowed == 1; }));
    CHECK(stream->stats().connections == 1);
    CHECK(stream->stats().vanished == 0);
    stream->publish(beacon::event("system", {{"title", "after"}}));
    const auto f = reader->next_event();
    REQUIRE(f);
    CHECK(nlohmann::json::parse(f->data)["payload"]["title"] == "after");
    CHECK(stream->stats().connections == 1);
    CHECK(read > 4);
}

TEST_CASE("a client vanishing mid-stream is dropped and releases its connection", "[web][sse]") {
    web::sse_options o;
    o.heartbeat = 20ms;
    web::server s;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    auto gone = subscribe(io, s, "");
    auto stays = subscribe(io, s, "");
    REQUIRE(eventually([&] { return stream->stats().connections == 2; }));
    stream->publish(beacon::event("system", {{"title", "one"}}));
    REQUIRE(gone->next_event());
    // An abortive close (RST), as when a browser tab is killed.
    gone->socket().set_option(boost::asio::socket_base::linger(true, 0));
    gone->socket().close();
    gone.reset();
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    CHECK(stream->stats().vanished == 1);
    for (int i = 0; i < 5; ++i) stream->publish(beacon::event("system", {{"title", std::to_string(i)}}));
    REQUIRE(stays->next_event());  // "one"
    for (int i = 0; i < 5; ++i) {
        const auto f = stays->next_event();
        REQUIRE(f);
        CHECK(nlohmann::json::parse(f->data)["payload"]["title"] == std::to_string(i));
    }
    // An idle connection gets heartbeat comments.
    const auto beat = stays->next();
    REQUIRE(beat);
    CHECK(beat->comment);
}

TEST_CASE("an idle connection gets a heartbeat every interval, not every second one", "[web][sse][heartbeat]") {
    // Timers never fire early, so a connection beaten every second tick sees gaps of 2 intervals
    // or more (less only the jitter of reading them). Beaten every tick, a gap is one interval
    // plus that tick's delay: one gap of 8 under 1.5 intervals is asked, which fails only if
    // every one of 8 ticks comes half an interval (100 ms) late.
    const auto interval = 200ms;
    web::sse_options o;
    o.heartbeat = interval;
    web::server s;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;
    auto idle = subscribe(io, s, "");
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    REQUIRE(idle->next());  // the first beat: the gaps count from here
    auto last = std::chrono::steady_clock::now();
    auto shortest = std::chrono::steady_clock::duration::max();
    for (int i = 0; i < 8; ++i) {
        const auto beat = idle->next();
        REQUIRE(beat);
        CHECK(beat->comment);
        const auto now = std::chrono::steady_clock::now();
        shortest = std::min(shortest, now - last);
        last = now;
    }
    CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(shortest).count() < (interval * 3 / 2).count());
}

TEST_CASE("CORS: the allowed origin is announced, and preflights are answered", "[web][sse]") {
    web::sse_options o;
    o.allow_origin = "https://app.example";
    o.retry = 1500ms;
    web::server s;
    s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    http_client c(io, s.port());
    c.get("/events", "Origin: https://app.example\r\n");
    const auto head = c.head();
    REQUIRE(head);
    CHECK_THAT(*head, Contains("Access-Control-Allow-Origin: https://app.example"));
    const auto retry = c.read_until("\n\n");
    REQUIRE(retry);
    CHECK(*retry == "retry: 1500\n\n");

    http_client pre(io, s.port());
    pre.send("OPTIONS /events HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n"
             "Access-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: last-event-id\r\n\r\n");
    const auto pre_head = pre.head();
    REQUIRE(pre_head);
    CHECK_THAT(*pre_head, StartsWith("HTTP/1.1 204"));
    CHECK_THAT(*pre_head, Contains("Access-Control-Allow-Origin: https://app.example"));
    CHECK_THAT(*pre_head, Contains("Last-Event-ID"));
}

TEST_CASE("1,000 concurrent connections each receive every event", "[web][sse][load]") {
    web::server_options so;
    so.max_connections = 2000;
    so.max_connections_per_address = 2000;  // every client is on 127.0.0.1
    web::server s(so);
    web::sse_options o;
    o.for_user = recipient;
    o.authorize = bearer;
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    constexpr int n = 1000;
    std::vector<std::unique_ptr<http_client>> clients;
    for (int i = 0; i < n; ++i) {
        clients.push_back(std::make_unique<http_client>(io, s.port()));
        clients.back()->get("/events", auth("u" + std::to_string(i % 10)));
    }
    REQUIRE(eventually([&] { return stream->stats().connections == n; }));
    stream->publish(note("all", {"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}));
    stream->publish(note("u3 only", {"u3"}));
    stream->publish(note("last", {"u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9"}));
    int complete = 0;
    for (int i = 0; i < n; ++i) {
        auto& c = *clients[static_cast<std::size_t>(i)];
        REQUIRE(c.head());
        std::vector<std::string> got;
        while (got.empty() || got.back() != "last") {
            const auto f = c.next_event();
            REQUIRE(f);
            got.push_back(title_of(*f));
        }
        const std::vector<std::string> want = i % 10 == 3 ? std::vector<std::string>{"all", "u3 only", "last"}
                                                           : std::vector<std::string>{"all", "last"};
        complete += got == want ? 1 : 0;
    }
    CHECK(complete == n);
    CHECK(stream->stats().accepted == n);
    clients.clear();
    REQUIRE(eventually([&] { return stream->stats().connections == 0; }));
}

TEST_CASE("connections spread over several shards get every event in order, resume, and all close on stop()",
          "[web][sse][shards]") {
    web::server_options so;
    so.threads = 2;
    so.max_connections = 100;
    so.max_connections_per_address = 100;
    web::server s(so);
    web::sse_options o = user_options();
    o.shards = 4;
    o.max_connections = 26;
    auto stream = s.add_stream("/events", o);
    CHECK(stream->options().shards == 4);
    CHECK(s.add_stream("/default", user_options())->options().shards == 1);
    web::sse_options per_thread = user_options();
    per_thread.shards = 0;
    CHECK(s.add_stream("/per_thread", per_thread)->options().shards == 2);  // one per server thread
    s.start();
    boost::asio::io_context io;

    // 24 clients in turn over the 4 shards, 6 per user; a user's connections are in every shard.
    const std::vector<std::string> users{"u0", "u1", "u2", "u3"};
    std::vector<std::unique_ptr<http_client>> clients;
    for (int i = 0; i < 24; ++i) clients.push_back(subscribe(io, s, users[static_cast<std::size_t>(i) % 4]));
    REQUIRE(eventually([&] { return stream->stats().connections == 24; }));
    std::vector<std::string> ids;
    for (int i = 0; i < 40; ++i) {
        ids.push_back(stream->publish(note("all " + std::to_string(i), users)));
        if (i % 10 == 0) stream->publish(note("u1 " + std::to_string(i), {"u1"}));
    }
    for (std::size_t i = 0; i < clients.size(); ++i) {
        INFO("client " << i << " of " << users[i % 4]);
        for (int k = 0; k < 40; ++k) {
            const auto f = clients[i]->next_event();
            REQUIRE(f);
            CHECK(title_of(*f) == "all " + std::to_string(k));
            CHECK(f->id == ids[static_cast<std::size_t>(k)]);
            if (i % 4 == 1 && k % 10 == 0) {
                const auto own = clients[i]->next_event();
                REQUIRE(own);
                CHECK(title_of(*own) == "u1 " + std::to_string(k));
            }
        }
    }

    // Resuming works in whichever shard a connection lands.
    std::vector<std::unique_ptr<http_client>> resumed;
    for (int i = 0; i < 2; ++i) resumed.push_back(subscribe(io, s, "u2", "Last-Event-ID: " + ids[37] + "\r\n"));
    for (auto& c : resumed) {
        for (int k = 38; k < 40; ++k) {
            const auto f = c->next_event();
            REQUIRE(f);
            CHECK(f->id == ids[static_cast<std::size_t>(k)]);
        }
    }
    REQUIRE(eventually([&] { return stream->stats().connections == 26; }));
    CHECK(stream->stats().resumed == 2);

    // max_connections holds across shards.
    http_client over(io, s.port());
    over.get("/events", auth("u0"));
    const auto head = over.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 503"));
    CHECK(stream->stats().rejected == 1);

    stream->stop().wait();
    CHECK(stream->stats().connections == 0);
    for (auto& c : clients) CHECK(c->closed());
    for (auto& c : resumed) CHECK(c->closed());
    CHECK(stream->publish(note("after", users)).size() > 0);
    CHECK(stream->stats().published == 44);
    CHECK(stream->stats().accepted == 26);
}

TEST_CASE("a stream mounted in a host's own Beast server", "[web][sse]") {
    namespace net = boost::asio;
    net::io_context host;
    web::tcp::acceptor acceptor(host, web::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    auto stream = web::sse_stream::create(host.get_executor(), user_options());
    // The host's accept loop: read the request with its own parser, route it, hand the socket over.
    std::function<void()> accept = [&] {
        acceptor.async_accept([&](boost::beast::error_code ec, web::tcp::socket socket) {
            if (ec) return;
            struct exchange {
                explicit exchange(web::tcp::socket s) : socket(std::move(s)) {}
                web::tcp::socket socket;
                boost::beast::flat_buffer buffer;
                web::http::request_parser<web::http::string_body> parser;
            };
            auto x = std::make_shared<exchange>(std::move(socket));
            web::http::async_read(x->socket, x->buffer, x->parser, [x, stream](boost::beast::error_code rec, std::size_t) {
                if (!rec && x->parser.get().target() == "/host/events") stream->serve(std::move(x->socket), x->parser.release());
            });
            accept();
        });
    };
    accept();
    std::thread runner([&] { host.run(); });

    boost::asio::io_context io;
    http_client c(io, acceptor.local_endpoint().port());
    c.get("/host/events", auth("alice"));
    const auto head = c.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 200 OK"));
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    stream->publish(note("for bob", {"bob"}));
    stream->publish(note("hosted", {"alice"}));
    const auto f = c.next_event();
    REQUIRE(f);
    CHECK(title_of(*f) == "hosted");

    stream->stop();
    CHECK(c.closed());
    net::post(host, [&] { acceptor.close(); });
    runner.join();
}

TEST_CASE("curl -N receives the stream", "[web][sse][curl]") {
    web::server s;
    auto stream = s.add_stream("/events", user_options());
    s.start();
    const std::string command = "curl -N -s --max-time 20 -H 'Authorization: Bearer alice' http://127.0.0.1:" +
                                std::to_string(s.port()) + "/events";
    FILE* curl = ::popen(command.c_str(), "r");
    REQUIRE(curl);
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    auto e = note("via curl", {"alice"});
    e.data["event_id"] = "c-1";
    stream->publish(note("not for alice", {"bob"}));
    stream->publish(e);
    std::string out;
    char line[4096];
    while (out.find("\n\n") == std::string::npos && std::fgets(line, sizeof line, curl)) out += line;
    stream->stop();  // curl sees the end of the stream and exits
    ::pclose(curl);
    CHECK(out == "id: c-1\nevent: user\ndata: " + nlohmann::json(e).dump() + "\n\n");
}

TEST_CASE("an authorizer or audience that throws is reported as a failure of the stream", "[web][sse]") {
    web::server s;
    web::sse_options o;
    o.name = "notifications";
    std::mutex m;
    std::vector<std::string> seen;
    o.on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(m);
        CHECK(f.part == beacon::part::web);
        CHECK(f.where == "notifications");
        seen.push_back(f.receiver + ": " + f.message());
    };
    o.authorize = [](const web::request& req) -> std::optional<std::string> {
        if (req.find(web::http::field::authorization) == req.end()) throw std::runtime_error("session store down");
        return bearer(req);
    };
    o.for_user = [](const beacon::event& e, const std::string&) -> bool {
        if (e.sender == "bad") throw std::runtime_error("audience broken");
        return true;
    };
    auto stream = s.add_stream("/events", o);
    s.start();
    boost::asio::io_context io;

    http_client anonymous(io, s.port());
    anonymous.get("/events");
    const auto head = anonymous.head();
    REQUIRE(head);
    CHECK_THAT(*head, StartsWith("HTTP/1.1 500"));

    auto tom = subscribe(io, s, "tom");
    REQUIRE(eventually([&] { return stream->stats().connections == 1; }));
    stream->publish(beacon::event("bad", {{"title", "never"}}));
    stream->publish(beacon::event("good", {{"title", "fine"}}));
    const auto frame = tom->next_event();
    REQUIRE(frame);
    CHECK(frame->data.find("fine") != std::string::npos);

    std::lock_guard lock(m);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0] == "the authorizer of GET /events: session store down");
    CHECK(seen[1] == "for_user(\"tom\"): audience broken");
}
