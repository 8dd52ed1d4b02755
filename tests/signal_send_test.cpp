// Signals' send forms: send, send_robust and send_collect each take a prebuilt event (const, moved,
// shared mutable or shared const), a sender with data, and a sender with a builder, with the same
// meaning.
#include <beacon/signal.hpp>

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// One entry point, called through a common shape: how many receivers it reports it called.
struct plain {
    template <class... Args>
    static std::size_t called(beacon::signal& s, Args&&... args) {
        return s.send(std::forward<Args>(args)...);
    }
};
struct robust {
    template <class... Args>
    static std::size_t called(beacon::signal& s, Args&&... args) {
        const auto errors = s.send_robust(std::forward<Args>(args)...);
        REQUIRE(errors.empty());
        return static_cast<std::size_t>(-1);  // send_robust reports errors, not calls
    }
};
struct collect {
    template <class... Args>
    static std::size_t called(beacon::signal& s, Args&&... args) {
        return s.send_collect(std::forward<Args>(args)...).size();
    }
};

struct seen {
    std::vector<std::string> senders;
    std::vector<std::string> names;
    std::vector<bool> stamped;
};

void expect_calls(std::size_t reported, std::size_t expected) {
    if (reported != static_cast<std::size_t>(-1)) CHECK(reported == expected);
}

}  // namespace

TEMPLATE_TEST_CASE("send, send_robust and send_collect take the same six forms", "[signal][send]", plain, robust,
                   collect) {
    beacon::signal sig("core", "resource_changed");
    seen got;
    auto c = sig.connect("alice", [&](const beacon::event& e) {
        got.senders.push_back(e.sender);
        got.names.push_back(e.data.value("name", std::string()));
        got.stamped.push_back(e.timestamp != 0);
    });

    const beacon::event prebuilt("alice", {{"name", "const"}});
    expect_calls(TestType::called(sig, prebuilt), 1);
    CHECK(prebuilt.timestamp == 0);  // stamped on a copy

    beacon::event moved("alice", {{"name", "moved"}});
    expect_calls(TestType::called(sig, std::move(moved)), 1);

    expect_calls(TestType::called(sig, std::make_shared<const beacon::event>("alice", nlohmann::json{{"name", "shared"}})),
                 1);
    expect_calls(TestType::called(sig, std::shared_ptr<const beacon::event>()), 0);

    const auto mutable_shared = std::make_shared<beacon::event>("alice", nlohmann::json{{"name", "shared in place"}});
    expect_calls(TestType::called(sig, mutable_shared), 1);
    CHECK(mutable_shared->timestamp != 0);  // stamped in place: id, timestamp, type and source
    CHECK(!beacon::signal::needs_stamp(*mutable_shared));
    CHECK(mutable_shared->type == "core.resource_changed");
    expect_calls(TestType::called(sig, std::shared_ptr<beacon::event>()), 0);

    expect_calls(TestType::called(sig, "alice", nlohmann::json{{"name", "data"}}), 1);
    expect_calls(TestType::called(sig, "alice", [] { return beacon::event("whoever", {{"name", "built"}}); }), 1);

    CHECK(got.senders == std::vector<std::string>(6, "alice"));
    CHECK(got.names == std::vector<std::string>{"const", "moved", "shared", "shared in place", "data", "built"});
    CHECK(got.stamped == std::vector<bool>(6, true));
}

TEMPLATE_TEST_CASE("every send form builds nothing when nobody listens or the signal is muted",
                   "[signal][send][behaviour3]", plain, robust, collect) {
    beacon::signal sig("core", "resource_changed");
    int built = 0;
    auto make = [&] {
        ++built;
        return beacon::event("bob");
    };
    auto c = sig.connect("alice", [](const beacon::event&) {});
    expect_calls(TestType::called(sig, "bob", make), 0);
    expect_calls(TestType::called(sig, "bob"), 0);
    {
        const auto mute = sig.mute();
        expect_calls(TestType::called(sig, "alice", make), 0);
        expect_calls(TestType::called(sig, beacon::event("alice")), 0);
        const auto unsent = std::make_shared<beacon::event>("alice");
        expect_calls(TestType::called(sig, unsent), 0);
        CHECK(unsent->timestamp == 0);  // a muted signal stamps nothing
    }
    CHECK(built == 0);
    expect_calls(TestType::called(sig, "alice", make), 1);
    CHECK(built == 1);
}

TEST_CASE("send_robust and send_collect of a sender and data or a builder behave as of an event", "[signal][send]") {
    beacon::signal sig("core", "resource_changed");
    auto thrower = sig.connect([](const beacon::event&) -> int { throw std::runtime_error("boom"); });
    auto doubler = sig.connect([](const beacon::event& e) { return 2 * e.data.value("n", 0); });

    const auto errors = sig.send_robust("alice", {{"n", 4}});
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].receiver_id == thrower.id());
    CHECK(sig.send_robust("alice", [] { return beacon::event("x"); }).size() == 1);

    thrower.disconnect();
    const auto results = sig.send_collect("alice", [] { return beacon::event("x", {{"n", 21}}); });
    REQUIRE(results.size() == 1);
    CHECK(results[0].receiver_id == doubler.id());
    CHECK(results[0].value == 42);
    CHECK(sig.send_collect(beacon::event("alice", {{"n", 1}}))[0].value == 2);
}
