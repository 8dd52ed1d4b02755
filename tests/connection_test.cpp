// Connections: handles, RAII, blocking and lifetime tracking of shared_ptr-owned receivers.
#include <beacon/connection.hpp>

#include <beacon/signal.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <utility>

namespace {

struct counter {
    int calls = 0;
    void on_event(const beacon::event&) { ++calls; }
};

}  // namespace

TEST_CASE("a connection disconnects its receiver; copies share it", "[connection]") {
    beacon::signal sig("core", "s");
    int calls = 0;
    const auto c = sig.connect([&](const beacon::event&) { ++calls; });
    const auto copy = c;
    CHECK(c.connected());
    CHECK(c == copy);
    CHECK(c.id() > 0);
    sig.send(beacon::event("x"));
    copy.disconnect();
    CHECK_FALSE(c.connected());
    sig.send(beacon::event("x"));
    CHECK(calls == 1);
    c.disconnect();  // twice is harmless
    beacon::connection empty;
    CHECK_FALSE(empty.connected());
    empty.disconnect();
    CHECK(empty.id() == 0);
}

TEST_CASE("a scoped_connection disconnects when it goes out of scope", "[connection]") {
    beacon::signal sig("core", "s");
    int calls = 0;
    beacon::connection outer;
    {
        beacon::scoped_connection scoped = sig.connect([&](const beacon::event&) { ++calls; });
        outer = scoped.get();
        sig.send(beacon::event("x"));
        beacon::scoped_connection moved = std::move(scoped);
        CHECK(outer.connected());
        CHECK_FALSE(scoped.connected());
    }
    CHECK_FALSE(outer.connected());
    sig.send(beacon::event("x"));
    CHECK(calls == 1);

    beacon::connection kept;
    {
        beacon::scoped_connection scoped = sig.connect([&](const beacon::event&) { ++calls; });
        kept = scoped.release();
    }
    CHECK(kept.connected());
    sig.send(beacon::event("x"));
    CHECK(calls == 2);

    beacon::scoped_connection a = sig.connect([](const beacon::event&) {});
    const auto first = a.get();
    a = sig.connect([](const beacon::event&) {});
    CHECK_FALSE(first.connected());
    CHECK(a.connected());
}

TEST_CASE("blocking is scoped and shared between blocks", "[connection][behaviour9]") {
    beacon::signal sig("core", "s");
    int calls = 0;
    const auto c = sig.connect([&](const beacon::event&) { ++calls; });
    {
        auto b1 = c.block();
        CHECK(c.blocked());
        {
            auto b2 = c.block();
            b1.unblock();
            CHECK(c.blocked());
            CHECK(sig.send(beacon::event("x")) == 0);
        }
        CHECK_FALSE(c.blocked());
        sig.send(beacon::event("x"));
    }
    CHECK(c.connected());
    CHECK(calls == 1);
}

TEST_CASE("a receiver tracked by its owner goes away with it", "[connection][tracking]") {
    beacon::signal sig("core", "s");
    auto owner = std::make_shared<counter>();
    const auto any = sig.connect(&counter::on_event, owner);
    int lambda_calls = 0;
    const auto bound = sig.connect("alice", [&](const beacon::event&) { ++lambda_calls; }, owner);
    sig.send(beacon::event("alice"));
    CHECK(owner->calls == 1);
    CHECK(lambda_calls == 1);

    std::weak_ptr<counter> watch = owner;
    owner.reset();
    CHECK(watch.expired());
    CHECK_FALSE(any.connected());
    CHECK_FALSE(bound.connected());
    CHECK(sig.send(beacon::event("alice")) == 0);
    CHECK(lambda_calls == 1);
    CHECK(sig.receiver_count() == 0);
}

TEST_CASE("a tracked owner stays alive for the length of the call", "[connection][tracking]") {
    beacon::signal sig("core", "s");
    auto owner = std::make_shared<counter>();
    std::weak_ptr<counter> watch = owner;
    bool alive_during_call = false;
    sig.connect([&](const beacon::event&) {
        owner.reset();  // drops the last outside reference mid-send
        alive_during_call = !watch.expired();
    }, owner);
    sig.send(beacon::event("x"));
    CHECK(alive_during_call);
    CHECK(watch.expired());
}
