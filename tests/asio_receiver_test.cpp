// Receivers bound to Asio executors (beacon::asio::on): posted, not called in the sending thread;
// disconnected, blocked, muted and tracked as any receiver; events shared; per-strand order and
// serialisation under many sending threads; failures to the sink; after-commit events.
#include <beacon/asio/receiver.hpp>

#include <beacon/asio.hpp>
#include <beacon/beacon.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
namespace net = boost::asio;

namespace {

beacon::event numbered(const std::string& sender, int n) {
    beacon::event e(sender, {{"n", n}});
    e.stamp();
    return e;
}

}  // namespace

TEST_CASE("a send posts the call to the executor and returns; the executor's thread runs it", "[asio][receiver]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<int> got;
    bool on_loop = false;
    s.connect(beacon::asio::on(io, [&](const beacon::event& e) {
        got.push_back(e.data.at("n").get<int>());
        on_loop = io.get_executor().running_in_this_thread();
    }));
    CHECK(s.send(numbered("a", 1)) == 1);
    CHECK(s.send(numbered("a", 2)) == 1);
    CHECK(got.empty());  // posted, not called
    CHECK(io.run() == 2);
    CHECK(got == std::vector<int>{1, 2});
    CHECK(on_loop);
}

TEST_CASE("bound to one sender, tracked, blocked and muted as any receiver", "[asio][receiver]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<std::string> got;
    const auto record = [&](const std::string& tag) {
        return beacon::asio::on(io, [&got, tag](const beacon::event& e) { got.push_back(tag + ":" + e.sender); });
    };
    s.connect("admin", record("bound"));
    auto owner = std::make_shared<int>(0);
    s.connect(record("tracked"), owner);
    auto blocked = s.connect(record("blocked"));
    {
        const auto block = blocked.block();
        s.send(numbered("admin", 1));
        s.send(numbered("alice", 2));
    }
    {
        const auto mute = s.mute();
        s.send(numbered("admin", 3));
    }
    io.run();
    io.restart();
    CHECK(got == std::vector<std::string>{"tracked:admin", "bound:admin", "tracked:alice"});

    got.clear();
    s.send(numbered("alice", 4));  // posted while the owner lives...
    owner.reset();                 // ...which expires before the call runs: skipped
    io.run();
    CHECK(got == std::vector<std::string>{"blocked:alice"});
}

TEST_CASE("a receiver disconnected before its posted call runs is not called", "[asio][receiver]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    int calls = 0;
    auto c = s.connect(beacon::asio::on(io, [&](const beacon::event&) { ++calls; }));
    {
        beacon::scoped_connection scoped = s.connect(beacon::asio::on(io, [&](const beacon::event&) { ++calls; }));
        s.send(numbered("a", 1));  // two calls posted
    }                              // the scoped one is disconnected
    c.disconnect();                // and this one
    CHECK(io.run() == 2);          // both posted calls run, and skip their receivers
    CHECK(calls == 0);
    CHECK(s.receiver_count() == 0);

    // The signal destroyed first: its receivers with it, and their posted calls skip.
    auto gone = std::make_unique<beacon::signal>("test", "gone");
    gone->connect(beacon::asio::on(io, [&](const beacon::event&) { ++calls; }));
    gone->send(numbered("a", 2));
    gone.reset();
    io.restart();
    io.run();
    CHECK(calls == 0);
}

TEST_CASE("every executor-bound receiver of a send shares one event: no copy per receiver", "[asio][receiver]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<const beacon::event*> seen;
    for (int i = 0; i < 3; ++i) s.connect(beacon::asio::on(io, [&](const beacon::event& e) { seen.push_back(&e); }));
    beacon::event e = numbered("a", 1);
    s.send(e);  // by reference: copied once, for the three of them
    io.run();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == seen[1]);
    CHECK(seen[1] == seen[2]);
    CHECK(seen[0] != &e);

    // Sent as a shared_ptr (stamped by the signal beforehand): that very event, no copy at all.
    seen.clear();
    beacon::event stamped = numbered("a", 2);
    s.stamp(stamped);
    const auto shared = std::make_shared<const beacon::event>(std::move(stamped));
    s.send(shared);
    io.restart();
    io.run();
    REQUIRE(seen.size() == 3);
    CHECK(seen[0] == shared.get());
    CHECK(seen[2] == shared.get());
}

TEST_CASE("many threads sending to receivers bound to strands of a pool: each strand runs one call at a time, "
          "in each sender's order, and nothing is lost",
          "[asio][receiver][threads][behaviour8]") {
    constexpr int senders = 8, per_sender = 2000, strands = 4;
    net::thread_pool pool(4);
    beacon::signal s("test", "changed");
    struct strand_state {
        std::atomic<int> inside{0};
        int overlaps = 0;                 // written on its strand only
        std::map<std::string, int> last;  // per sender: the last n seen, on its strand only
        int out_of_order = 0;
        int calls = 0;
    };
    std::vector<strand_state> state(strands);
    for (int k = 0; k < strands; ++k) {
        auto strand = net::make_strand(pool);
        s.connect(beacon::asio::on(strand, [&st = state[static_cast<std::size_t>(k)], strand](const beacon::event& e) {
            if (st.inside.fetch_add(1) != 0 || !strand.running_in_this_thread()) ++st.overlaps;
            const int n = e.data.at("n").get<int>();
            auto [it, fresh] = st.last.emplace(e.sender, n);
            if (!fresh) {
                if (n != it->second + 1) ++st.out_of_order;
                it->second = n;
            }
            ++st.calls;
            st.inside.fetch_sub(1);
        }));
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < senders; ++t) {
        threads.emplace_back([&s, t] {
            for (int n = 0; n < per_sender; ++n) s.send(numbered("sender-" + std::to_string(t), n));
        });
    }
    for (auto& t : threads) t.join();
    pool.join();  // runs what was posted, then stops
    for (const auto& st : state) {
        CHECK(st.calls == senders * per_sender);
        CHECK(st.overlaps == 0);
        CHECK(st.out_of_order == 0);
        CHECK(st.last.size() == static_cast<std::size_t>(senders));
    }
}

TEST_CASE("a receiver's exception is reported as a failure of part asio and the loop goes on", "[asio][receiver][failure]") {
    net::io_context io;
    beacon::signal s("test", "changed");
    std::vector<std::string> reports;
    const auto previous = beacon::set_failure_sink([&](const beacon::failure& f) {
        reports.push_back(std::string(beacon::to_string(f.part)) + " " + f.where + " " + (f.ev ? f.ev->sender : "") +
                          " " + f.message());
    });
    int after = 0;
    s.connect(beacon::asio::on(io, [](const beacon::event&) { throw std::runtime_error("quota exceeded"); }));
    s.connect(beacon::asio::on(io, [&](const beacon::event&) { ++after; }));
    CHECK(s.send(numbered("alice", 1)) == 2);  // the send itself does not fail
    io.run();
    beacon::set_failure_sink(previous);
    REQUIRE(reports.size() == 1);
    CHECK(reports[0] == "asio test.changed alice quota exceeded");
    CHECK(after == 1);
}

TEST_CASE("a unit of work's after-commit events reach executor-bound receivers; a rollback sends none",
          "[asio][receiver][unit_of_work]") {
    net::io_context io;
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    std::vector<std::string> got;
    reg.core().signal("after_resource_changed").connect(beacon::asio::on(io, [&](const beacon::event& e) {
        got.push_back(e.uri + " x" + std::to_string(e.impacted_records.size()));
    }));
    const auto created = [](const std::string& id) {
        beacon::event e("alice");
        e.action = beacon::action::create;
        e.resource_name = "record";
        e.uri = "/buckets/b/collections/c/records/" + id;
        e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", id}}});
        return e;
    };
    {
        beacon::unit_of_work uow(notifier);
        notifier.notify(created("r1"));
        notifier.notify(created("r2"));
        uow.commit();
    }
    {
        beacon::unit_of_work uow(notifier);
        notifier.notify(created("r3"));
        uow.rollback();
    }
    CHECK(got.empty());  // posted at commit, run by the loop
    io.run();
    REQUIRE(got.size() == 1);
    CHECK_THAT(got[0], Contains("/buckets/b/collections/c/records/r1") && Contains("x2"));
}
