// Exception safety: whatever position a receiver throws from, the signal stays consistent and
// usable: no leaked or lost connections, counts right, scoped states restored.
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

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

TEST_CASE("a receiver throwing at any position leaves the signal consistent", "[exceptions][behaviour7]") {
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
          "[exceptions][behaviour7]") {
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

TEST_CASE("scoped mutes and blocks held by a throwing receiver are released", "[exceptions]") {
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

TEST_CASE("an exception from a nested send unwinds through the outer one", "[exceptions][behaviour6]") {
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

TEST_CASE("a throwing event builder sends nothing", "[exceptions][behaviour3]") {
    beacon::signal sig("core", "s");
    int calls = 0;
    sig.connect([&](const beacon::event&) { ++calls; });
    CHECK_THROWS_WITH(sig.send_lazy("x", []() -> beacon::event { throw std::runtime_error("cannot build"); }),
                      "cannot build");
    CHECK(calls == 0);
    CHECK(sig.send_lazy("x", [] { return beacon::event(); }) == 1);
}

namespace {

// Three writes in three collections: three merged events per unit of work.
void notify_three(beacon::resource_notifier& notifier) {
    for (const char* collection : {"a", "b", "c"}) {
        beacon::event e("alice");
        e.action = beacon::action::update;
        e.resource_name = "record";
        e.uri = std::string("/buckets/b/collections/") + collection + "/records/r";
        notifier.notify(e);
    }
}

}  // namespace

TEST_CASE("a before-commit receiver throwing at any position fails the commit and leaves the registry usable",
          "[exceptions][unit_of_work]") {
    for (int position = 0; position < 3; ++position) {
        beacon::registry reg;
        beacon::resource_notifier notifier(reg);
        int sent_before = 0, sent_after = 0;
        reg.core().signal("resource_changed").connect([&](const beacon::event&) {
            if (sent_before++ == position) throw std::runtime_error("veto");
        });
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++sent_after; });
        INFO("thrower at " << position);
        bool stored = false;
        {
            beacon::unit_of_work uow(notifier);
            notify_three(notifier);
            CHECK_THROWS_WITH(uow.commit([&] { stored = true; }), "veto");
            CHECK(uow.status() == beacon::unit_of_work::state::failed);
            uow.rollback();
        }
        CHECK_FALSE(stored);
        CHECK(sent_before == position + 1);
        CHECK(sent_after == 0);
        CHECK(notifier.current() == nullptr);

        beacon::unit_of_work again(notifier);
        notify_three(notifier);
        again.commit();
        CHECK(sent_after == 3);
        CHECK(reg.core().signal("resource_changed").receiver_count() == 1);
    }
}

TEST_CASE("an after-commit receiver throwing at any position is reported and the rest is delivered",
          "[exceptions][unit_of_work]") {
    for (int position = 0; position < 3; ++position) {
        std::vector<std::string> reported;
        std::vector<std::string> reported_uris;  // `ev` is valid only during the handler's call
        beacon::registry reg;
        beacon::resource_notifier notifier(reg, [&](const beacon::failure& f) {
            reported.push_back(f.message());
            reported_uris.push_back(f.ev ? f.ev->uri : "no event");
        });
        int calls = 0, others = 0;
        std::size_t observed = 0;
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) {
            if (calls++ == position) throw std::runtime_error("mail server down");
        });
        reg.core().signal("after_resource_changed").connect([&](const beacon::event&) { ++others; });
        notifier.on_after_commit([&](const std::vector<beacon::event>& batch) { observed += batch.size(); });
        INFO("thrower at " << position);
        {
            beacon::unit_of_work uow(notifier);
            notify_three(notifier);
            CHECK_NOTHROW(uow.commit());
            CHECK(uow.status() == beacon::unit_of_work::state::committed);
        }
        CHECK(calls == 3);
        CHECK(others == 3);
        CHECK(observed == 3);
        REQUIRE(reported.size() == 1);
        CHECK(reported[0] == "mail server down");
        CHECK(reported_uris[0] == "/buckets/b/collections/" + std::string(1, static_cast<char>('a' + position)) + "/records/r");
        CHECK(notifier.current() == nullptr);
    }
}
