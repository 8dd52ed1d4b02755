// Awaiting a signal's next event (C++20): co_await beacon::asio::next(s), for one sender, with a
// filter, with a timeout; nothing left connected when a wait ends or is destroyed; coroutine
// receivers. Options are named before the co_await: g++ 12 destroys a temporary with a
// destructor inside a co_await expression twice.
#include <beacon/asio/awaitable.hpp>

#include <beacon/asio.hpp>
#include <beacon/beacon.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

beacon::event numbered(const std::string& sender, int n) {
    beacon::event e(sender, {{"n", n}});
    e.stamp();
    return e;
}

// Runs `io` until `done` holds (a bound against hanging, not a timing check).
template <class Done>
bool run_until(net::io_context& io, Done&& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        io.run_one_for(10ms);
    }
    return done();
}

}  // namespace

TEST_CASE("a coroutine awaits the next event; the wait shares it and leaves nothing connected",
          "[asio][awaitable]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::shared_ptr<const beacon::event> got;
    net::co_spawn(io, [&]() -> net::awaitable<void> { got = co_await beacon::asio::next(s); }, net::detached);
    io.poll();  // the coroutine starts and waits
    CHECK(s.receiver_count() == 1);
    beacon::event e = numbered("alice", 1);
    s.stamp(e);
    const auto shared = std::make_shared<const beacon::event>(std::move(e));
    s.send(shared);
    REQUIRE(run_until(io, [&] { return got != nullptr; }));
    CHECK(got == shared);  // that very event, not a copy
    CHECK(s.receiver_count() == 0);
}

TEST_CASE("a wait for one sender, through a filter, takes the first event that passes both", "[asio][awaitable]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<int> got;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            beacon::asio::next_options options;
            options.sender = "admin";
            options.filter = beacon::where([](const beacon::event& e) { return e.data.at("n").get<int>() > 2; });
            for (int i = 0; i < 2; ++i) {
                const auto e = co_await beacon::asio::next(s, options);
                got.push_back(e->data.at("n").get<int>());
            }
        },
        net::detached);
    io.poll();
    for (const auto& [sender, n] : std::vector<std::pair<std::string, int>>{{"alice", 5}, {"admin", 1}, {"admin", 3}}) {
        s.send(numbered(sender, n));
    }
    REQUIRE(run_until(io, [&] { return got.size() == 1; }));
    io.poll();  // waiting again
    s.send(numbered("admin", 4));
    REQUIRE(run_until(io, [&] { return got.size() == 2; }));
    CHECK(got == std::vector<int>{3, 4});
    CHECK(s.receiver_count() == 0);
}

TEST_CASE("a wait past its timeout throws timed_out and disconnects", "[asio][awaitable]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::optional<boost::system::error_code> error;
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            beacon::asio::next_options options;
            options.timeout = 20ms;
            try {
                co_await beacon::asio::next(s, options);
            } catch (const boost::system::system_error& e) {
                error = e.code();
            }
        },
        net::detached);
    io.run();
    REQUIRE(error);
    CHECK(*error == net::error::timed_out);
    CHECK(s.receiver_count() == 0);
}

TEST_CASE("a waiting coroutine destroyed with its io_context leaves nothing connected", "[asio][awaitable]") {
    beacon::signal s("test", "changed");
    bool resumed = false;
    {
        net::io_context io;
        for (int i = 0; i < 3; ++i) {
            net::co_spawn(
                io,
                [&]() -> net::awaitable<void> {
                    co_await beacon::asio::next(s);
                    resumed = true;
                },
                net::detached);
        }
        io.poll();
        CHECK(s.receiver_count() == 3);
        io.stop();
    }  // destroyed with the waits pending
    CHECK(s.receiver_count() == 0);
    CHECK(s.send(numbered("alice", 1)) == 0);
    CHECK_FALSE(resumed);
}

TEST_CASE("events sent from other threads wake a coroutine waiting on a two-thread io_context, in order",
          "[asio][awaitable][threads]") {
    constexpr int rounds = 500;
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<int> got;  // written by the coroutine only, read after the threads are joined
    std::atomic<int> consumed{0};
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            for (int i = 0; i < rounds; ++i) {
                const auto e = co_await beacon::asio::next(s);
                got.push_back(e->data.at("n").get<int>());
                ++consumed;
            }
        },
        net::detached);
    std::thread a([&] { io.run(); }), b([&] { io.run(); });
    std::thread sender([&] {
        const auto deadline = std::chrono::steady_clock::now() + 30s;  // against hanging
        for (int n = 0; n < rounds && std::chrono::steady_clock::now() < deadline; ++n) {
            // Sends event n once the coroutine took n - 1 and waits again: then none is missed.
            while ((consumed != n || s.receiver_count() != 1) && std::chrono::steady_clock::now() < deadline) {
                std::this_thread::yield();
            }
            s.send(numbered("alice", n));
        }
    });
    sender.join();
    a.join();
    b.join();
    REQUIRE(got.size() == static_cast<std::size_t>(rounds));
    for (int n = 0; n < rounds; ++n) CHECK(got[static_cast<std::size_t>(n)] == n);
    CHECK(s.receiver_count() == 0);
}

TEST_CASE("a receiver may be a coroutine: it runs on the executor, awaits, and its exception is reported",
          "[asio][awaitable][receiver]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<std::string> got, reports;
    const auto previous = beacon::set_failure_sink([&](const beacon::failure& f) {
        reports.push_back(std::string(beacon::to_string(f.part)) + " " + f.message());
    });
    s.connect(beacon::asio::on(io, [&](const beacon::event& e) -> net::awaitable<void> {
        net::steady_timer timer(co_await net::this_coro::executor, 1ms);
        co_await timer.async_wait(net::use_awaitable);  // the event outlives the suspension
        if (e.sender == "mallory") throw std::runtime_error("refused");
        got.push_back(e.sender);
    }));
    s.send(numbered("alice", 1));
    s.send(numbered("mallory", 2));
    io.run();
    beacon::set_failure_sink(previous);
    CHECK(got == std::vector<std::string>{"alice"});
    CHECK(reports == std::vector<std::string>{"asio refused"});
}

TEST_CASE("a waiter queues the events sent between its waits, and drops beyond its capacity", "[asio][waiter]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<int> got;
    std::optional<beacon::asio::waiter> kept;  // outside the coroutine, to read its counters
    kept.emplace(s, beacon::asio::next_options(), 3);
    CHECK(s.receiver_count() == 1);
    for (int n = 1; n <= 5; ++n) s.send(numbered("alice", n));  // before any wait: 4 and 5 dropped
    CHECK(kept->queued() == 3);
    CHECK(kept->dropped() == 2);
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            for (int i = 0; i < 4; ++i) {
                const auto e = co_await kept->next();
                got.push_back(e->data.at("n").get<int>());
            }
        },
        net::detached);
    io.poll();  // takes 1, 2, 3 without waiting, then waits
    CHECK(got == std::vector<int>{1, 2, 3});
    s.send(numbered("alice", 6));
    REQUIRE(run_until(io, [&] { return got.size() == 4; }));
    CHECK(got.back() == 6);
    CHECK(kept->queued() == 0);
    kept.reset();
    CHECK(s.receiver_count() == 0);
}

TEST_CASE("a waiter refuses a second coroutine waiting at once, and times each wait out", "[asio][waiter]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    beacon::asio::next_options options;
    options.timeout = 30ms;
    beacon::asio::waiter w(s, options);
    std::vector<boost::system::error_code> errors;
    for (int i = 0; i < 2; ++i) {
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                try {
                    co_await w.next();
                } catch (const boost::system::system_error& e) {
                    errors.push_back(e.code());
                }
            },
            net::detached);
    }
    io.run();
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == net::error::already_started);  // the second, refused at once
    CHECK(errors[1] == net::error::timed_out);
    CHECK(s.receiver_count() == 1);  // a waiter stays connected until destroyed
}

TEST_CASE("a waiter in a coroutine destroyed with its io_context leaves nothing connected", "[asio][waiter]") {
    beacon::signal s("test", "changed");
    int taken = 0;
    {
        net::io_context io;
        net::co_spawn(
            io,
            [&]() -> net::awaitable<void> {
                beacon::asio::waiter w(s);
                for (;;) {
                    co_await w.next();
                    ++taken;
                }
            },
            net::detached);
        io.poll();
        s.send(numbered("alice", 1));
        REQUIRE(run_until(io, [&] { return taken == 1; }));
        CHECK(s.receiver_count() == 1);
        s.send(numbered("alice", 2));  // queued, its wake posted: destroyed with the io_context
    }
    CHECK(s.receiver_count() == 0);
    CHECK(s.send(numbered("alice", 3)) == 0);
}

TEST_CASE("many threads send to a waiter on a two-thread io_context: every event once, in each sender's order",
          "[asio][waiter][threads][behaviour8]") {
    constexpr int senders = 4;
    constexpr int per_sender = 500;
    net::io_context io;
    auto strand = net::make_strand(io);
    beacon::signal s("test", "changed");
    std::vector<std::vector<int>> got(senders);  // written by the coroutine only, read after the joins
    beacon::asio::waiter w(s, beacon::asio::next_options(), senders * per_sender);
    net::co_spawn(
        strand,
        [&]() -> net::awaitable<void> {
            for (int i = 0; i < senders * per_sender; ++i) {
                const auto e = co_await w.next();
                got[static_cast<std::size_t>(std::stoi(e->sender))].push_back(e->data.at("n").get<int>());
            }
        },
        net::detached);
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back([&, t] {
            for (int n = 0; n < per_sender; ++n) s.send(numbered(std::to_string(t), n));
        });
    }
    std::thread a([&] { io.run(); }), b([&] { io.run(); });
    for (auto& t : threads) t.join();
    a.join();
    b.join();
    CHECK(w.dropped() == 0);
    for (const auto& from : got) {
        REQUIRE(from.size() == static_cast<std::size_t>(per_sender));
        for (int n = 0; n < per_sender; ++n) CHECK(from[static_cast<std::size_t>(n)] == n);
    }
}
