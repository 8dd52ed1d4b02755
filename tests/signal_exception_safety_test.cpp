// Exception safety: whatever position a receiver throws from, the signal stays consistent and
// usable: no leaked or lost connections, counts right, scoped states restored.
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr int receivers = 6;

// Receivers 0-2 listen to any sender, 3-5 are bound to "s"; the one numbered `thrower` throws.
struct line_up {
    beacon::signal sig{"core", "s"};
    std::vector<int> called;
    std::vector<beacon::connection> connections;
    int thrower = -1;

    line_up() {
        for (int i = 0; i < receivers; ++i) {
            auto receiver = [this, i](const beacon::event&) {
                called.push_back(i);
                if (i == thrower) throw std::runtime_error("receiver " + std::to_string(i));
            };
            connections.push_back(i < 3 ? sig.connect(receiver) : sig.connect("s", receiver));
        }
    }
};

}  // namespace

TEST_CASE("a receiver throwing at any position leaves the signal consistent", "[signal][exceptions][behaviour7]") {
    for (int position = 0; position < receivers; ++position) {
        line_up l;
        l.thrower = position;
        INFO("thrower at " << position);
        CHECK_THROWS_WITH(l.sig.send(beacon::event("s")), "receiver " + std::to_string(position));
        std::vector<int> expected;
        for (int i = 0; i <= position; ++i) expected.push_back(i);
        CHECK(l.called == expected);
        CHECK(l.sig.receiver_count() == receivers);
        for (const auto& c : l.connections) CHECK(c.connected());

        l.thrower = -1;
        l.called.clear();
        CHECK(l.sig.send(beacon::event("s")) == receivers);
        CHECK(l.called == std::vector<int>{0, 1, 2, 3, 4, 5});
    }
}

TEST_CASE("a robust send reports exactly the receivers that threw, for every combination",
          "[signal][exceptions][behaviour7]") {
    constexpr int count = 5;
    for (unsigned mask = 0; mask < (1U << count); ++mask) {
        beacon::signal sig("core", "s");
        std::vector<int> called;
        std::vector<beacon::connection> connections;
        for (int i = 0; i < count; ++i) {
            auto receiver = [&called, mask, i](const beacon::event&) {
                called.push_back(i);
                if (mask & (1U << i)) throw std::logic_error(std::to_string(i));
            };
            connections.push_back(i % 2 == 0 ? sig.connect(receiver) : sig.connect("s", receiver));
        }
        const auto errors = sig.send_robust(beacon::event("s"));
        INFO("mask " << mask);
        // Any-sender receivers (even numbers) come first, then the bound ones.
        CHECK(called == std::vector<int>{0, 2, 4, 1, 3});
        std::vector<std::uint64_t> expected_ids;
        for (unsigned i : {0u, 2u, 4u, 1u, 3u}) {
            if (mask & (1U << i)) expected_ids.push_back(connections[i].id());
        }
        std::vector<std::uint64_t> ids;
        for (const auto& e : errors) ids.push_back(e.receiver_id);
        CHECK(ids == expected_ids);
        for (const auto& e : errors) {
            CHECK(std::to_string(std::find_if(connections.begin(), connections.end(),
                                              [&](const beacon::connection& c) { return c.id() == e.receiver_id; }) -
                                 connections.begin()) == e.message());
        }
        CHECK(sig.receiver_count() == count);
    }
}

TEST_CASE("scoped mutes and blocks held by a throwing receiver are released", "[signal][exceptions]") {
    beacon::signal sig("core", "s");
    beacon::connection other;
    sig.connect([&](const beacon::event& e) {
        if (e.sender != "throw") return;
        auto quiet = sig.mute();
        auto blocked = other.block();
        throw std::runtime_error("while muted and blocking");
    });
    int other_calls = 0;
    other = sig.connect([&](const beacon::event&) { ++other_calls; });
    CHECK_THROWS(sig.send(beacon::event("throw")));
    CHECK_FALSE(sig.muted());
    CHECK_FALSE(other.blocked());
    CHECK(sig.send(beacon::event("ok")) == 2);
    CHECK(other_calls == 1);
}

TEST_CASE("an exception from a nested send unwinds through the outer one", "[signal][exceptions][behaviour6]") {
    beacon::registry reg;
    auto& outer = reg.core().signal("outer");
    auto& inner = reg.core().signal("inner");
    int after = 0;
    outer.connect([&](const beacon::event&) { inner.send(beacon::event("nested")); });
    outer.connect([&](const beacon::event&) { ++after; });
    auto bad = inner.connect([](const beacon::event&) { throw std::runtime_error("inner failed"); });
    CHECK_THROWS_WITH(outer.send(beacon::event("x")), "inner failed");
    CHECK(after == 0);
    bad.disconnect();
    CHECK(outer.send(beacon::event("x")) == 2);
    CHECK(after == 1);
}

TEST_CASE("a throwing event builder sends nothing", "[signal][exceptions][behaviour3]") {
    beacon::signal sig("core", "s");
    int calls = 0;
    sig.connect([&](const beacon::event&) { ++calls; });
    CHECK_THROWS_WITH(sig.send_lazy("x", []() -> beacon::event { throw std::runtime_error("cannot build"); }),
                      "cannot build");
    CHECK(calls == 0);
    CHECK(sig.send_lazy("x", [] { return beacon::event(); }) == 1);
}
