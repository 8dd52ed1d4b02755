// A receiver bound to the web server's own io_context (beacon::asio::on) writes to SSE clients on
// real loopback sockets: events sent from several threads reach every client exactly once, in
// per-sender order on a strand, and a call posted before a disconnect is skipped.
#include <beacon/asio.hpp>
#include <beacon/signal.hpp>
#include <beacon/web.hpp>

#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

using beacon_test::subscribe;
using beacon_test::eventually;
namespace web = beacon::web;
using namespace std::chrono_literals;

namespace {

constexpr int senders = 5;       // the test thread and four others
constexpr int per_sender = 40;   // events each sends
constexpr int clients = 3;

// What the bound receiver saw, written on the server's threads and read on the test thread.
struct seen {
    std::atomic<int> calls{0};
    std::atomic<int> off_thread{0};  // calls outside the executor the receiver is bound to
    std::mutex m;
    std::set<std::string> ids;  // the SSE ids the stream gave the events published
};

web::server_options with_threads(std::size_t n) {
    web::server_options o;
    o.threads = n;
    return o;
}

web::sse_options roomy() {
    web::sse_options o;
    o.queue = 4096;  // the clients are read one after the other: room for everything sent
    return o;
}

// A receiver that publishes each event to `stream`, asserting (through `l`) that it runs where
// `running()` says it should.
template <class Running>
auto publisher(std::shared_ptr<web::sse_stream> stream, seen& l, Running running) {
    return [stream = std::move(stream), &l, running](const beacon::event& e) {
        if (!running()) ++l.off_thread;
        const auto id = stream->publish(e);
        {
            std::lock_guard lock(l.m);
            l.ids.insert(id);
        }
        ++l.calls;
    };
}

// Sends `per_sender` events from the test thread and from `senders - 1` others at once; returns
// the receivers called in all.
int send_from_threads(beacon::signal& sig) {
    std::atomic<bool> go{false};
    std::atomic<int> called{0};
    const auto send = [&](int from) {
        while (!go.load()) std::this_thread::yield();
        for (int n = 0; n < per_sender; ++n) {
            called += static_cast<int>(sig.send(beacon::event("sender-" + std::to_string(from), {{"from", from}, {"n", n}})));
        }
    };
    std::vector<std::thread> threads;
    for (int from = 1; from < senders; ++from) threads.emplace_back(send, from);
    go = true;
    send(0);
    for (auto& t : threads) t.join();
    return called.load();
}

struct received {
    std::vector<std::string> ids;
    std::map<int, std::vector<int>> by_sender;  // the `n` of each event, in the order received
    bool ended = false;                         // the "end" marker came, after everything else
};

// Reads `c` up to the "end" marker published after every call of the receiver.
received read_all(beacon_test::http_client& c) {
    received r;
    for (int i = 0; i <= senders * per_sender + 1; ++i) {
        const auto f = c.next_event();
        if (!f) break;
        const auto payload = nlohmann::json::parse(f->data).at("payload");
        if (payload.contains("end")) {
            r.ended = true;
            break;
        }
        r.ids.push_back(f->id);
        r.by_sender[payload.at("from").get<int>()].push_back(payload.at("n").get<int>());
    }
    return r;
}

// Subscribes `clients` SSE clients, sends from several threads to `receiver` connected to a
// signal, and checks that every client got every event exactly once (in per-sender order when
// `ordered`).
template <class Receiver>
void check_fan_in(web::server& s, const std::shared_ptr<web::sse_stream>& stream, seen& l, Receiver receiver, bool ordered) {
    boost::asio::io_context io;
    std::vector<std::unique_ptr<beacon_test::http_client>> subscribed;
    for (int i = 0; i < clients; ++i) subscribed.push_back(subscribe(io, s, "user" + std::to_string(i)));
    REQUIRE(eventually([&] { return stream->stats().connections == clients; }));

    beacon::signal sig("test", "changed");
    const auto conn = sig.connect(std::move(receiver));
    constexpr int total = senders * per_sender;
    CHECK(send_from_threads(sig) == total);  // each send called the one receiver and returned
    REQUIRE(eventually([&] { return l.calls.load() == total; }));
    CHECK(l.off_thread.load() == 0);
    {
        std::lock_guard lock(l.m);
        CHECK(l.ids.size() == static_cast<std::size_t>(total));  // each event published once, each its own id
    }
    // Published after every call of the receiver has published: it reaches each client last.
    stream->publish(beacon::event("test", {{"end", true}}));

    std::vector<int> want(per_sender);
    for (int n = 0; n < per_sender; ++n) want[static_cast<std::size_t>(n)] = n;
    for (auto& c : subscribed) {
        auto r = read_all(*c);
        CHECK(r.ended);
        CHECK(r.ids.size() == static_cast<std::size_t>(total));
        CHECK(std::set<std::string>(r.ids.begin(), r.ids.end()) == l.ids);  // every event, none twice
        REQUIRE(r.by_sender.size() == static_cast<std::size_t>(senders));
        for (auto& [from, got] : r.by_sender) {
            INFO("sender " << from);
            if (!ordered) std::sort(got.begin(), got.end());
            CHECK(got == want);
        }
    }
    CHECK(stream->stats().published == static_cast<std::uint64_t>(total + 1));
}

}  // namespace

TEST_CASE("a receiver bound to the web server's io_context writes every event to every SSE client once",
          "[asio][web][sse]") {
    const auto threads = GENERATE(std::size_t{1}, std::size_t{4});
    seen l;
    web::server s(with_threads(threads));
    auto stream = s.add_stream("/events", roomy());
    s.start();
    auto& ctx = s.context();
    INFO("server threads: " << threads);
    // Without a strand, the calls may run in any order (and at once, on several threads).
    check_fan_in(s, stream, l,
                 beacon::asio::on(ctx, publisher(stream, l, [&ctx] { return ctx.get_executor().running_in_this_thread(); })),
                 false);
}

TEST_CASE("a receiver bound to a strand of the web server's io_context keeps each sender's order",
          "[asio][web][sse]") {
    seen l;
    web::server s(with_threads(4));
    auto stream = s.add_stream("/events", roomy());
    s.start();
    const auto strand = boost::asio::make_strand(s.context());
    auto& ctx = s.context();
    const auto on_strand = [strand, &ctx] {
        return strand.running_in_this_thread() && ctx.get_executor().running_in_this_thread();
    };
    auto receiver = beacon::asio::on(strand, publisher(stream, l, on_strand));
    static_assert(std::is_same_v<std::decay_t<decltype(receiver.executor())>, std::decay_t<decltype(strand)>>);
    check_fan_in(s, stream, l, std::move(receiver), true);
}

TEST_CASE("a receiver disconnected before the server's io_context runs its calls writes nothing",
          "[asio][web][sse]") {
    seen dropped, kept;
    web::server s;  // one thread: the posted jobs run in post order
    auto stream = s.add_stream("/events", roomy());
    s.start();
    auto& ctx = s.context();
    const auto running = [&ctx] { return ctx.get_executor().running_in_this_thread(); };
    boost::asio::io_context io;
    auto a = subscribe(io, s, "alice");
    auto b = subscribe(io, s, "bob");
    REQUIRE(eventually([&] { return stream->stats().connections == 2; }));

    // Each receiver publishes the event marked with its name.
    const auto marking = [&](const char* name, seen& l) {
        return [stream, &l, name, running](const beacon::event& e) {
            beacon::event copy = e;
            copy.data["via"] = name;
            publisher(stream, l, running)(copy);
        };
    };
    beacon::signal sig("test", "changed");
    auto gone = sig.connect(beacon::asio::on(ctx, marking("gone", dropped)));
    const auto stays = sig.connect(beacon::asio::on(ctx, marking("stays", kept)));

    // Block the server's only thread, so the calls the sends post wait behind it.
    std::promise<void> release;
    std::atomic<bool> blocked{false};
    boost::asio::post(ctx, [&blocked, done = release.get_future().share()] {
        blocked = true;
        (void)done.wait_for(30s);  // a deadline against hanging
    });
    REQUIRE(eventually([&] { return blocked.load(); }));
    for (int n = 0; n < 3; ++n) CHECK(sig.send(beacon::event("sender-0", {{"from", 0}, {"n", n}})) == 2);
    gone.disconnect();
    CHECK_FALSE(gone.connected());
    CHECK(sig.send(beacon::event("sender-0", {{"from", 0}, {"n", 3}})) == 1);
    release.set_value();
    // Posted after the sends' calls: runs once they have (been skipped or) run.
    boost::asio::post(ctx, [stream] { stream->publish(beacon::event("test", {{"end", true}})); });

    for (auto* c : {a.get(), b.get()}) {
        std::vector<int> got;
        bool ended = false;
        for (int i = 0; i < 6 && !ended; ++i) {
            const auto f = c->next_event();
            REQUIRE(f);
            const auto payload = nlohmann::json::parse(f->data).at("payload");
            ended = payload.contains("end");
            if (ended) break;
            CHECK(payload.at("via") == "stays");
            got.push_back(payload.at("n").get<int>());
        }
        CHECK(ended);
        CHECK(got == std::vector<int>{0, 1, 2, 3});
    }
    CHECK(dropped.calls.load() == 0);
    CHECK(kept.calls.load() == 4);
    CHECK(kept.off_thread.load() == 0);
    CHECK(stays.connected());
}
