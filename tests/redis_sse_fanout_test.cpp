// Web push across processes: a hub's events published once on a Redis channel (a real
// redis-server of the test's own) and served by two web servers subscribed to it, with the same
// SSE ids on both, so that a browser resumes on either; a bad message is reported and skipped.
#include <beacon/redis/sse_fanout.hpp>

#include <beacon/web.hpp>

#include "redis_server.hpp"
#include "sse_client.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

using Catch::Matchers::StartsWith;
using beacon_test::http_client;
namespace web = beacon::web;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<http_client> subscribe_user(boost::asio::io_context& io, web::server& s, const std::string& user,
                                            const std::string& extra = "") {
    auto c = std::make_unique<http_client>(io, s.port());
    c->get("/user_notifications?user=" + user, extra);
    const auto head = c->head();
    REQUIRE(head);
    REQUIRE_THAT(*head, StartsWith("HTTP/1.1 200 OK"));
    return c;
}

std::string title(const beacon_test::sse_frame& f) { return nlohmann::json::parse(f.data).at("title"); }

web::sse_options user_stream() {
    web::sse_options o;
    o.authorize = [](const web::request& req) -> std::optional<std::string> {
        const std::string_view target = web::to_string_view(req.target());
        const auto at = target.find("?user=");
        if (at == std::string_view::npos) return std::nullopt;
        return std::string(target.substr(at + 6));
    };
    o.for_user = web::recipient_audience;
    o.encode = web::notification_json;
    return o;
}

beacon::event notification_to(const std::string& title, std::vector<std::string> to) {
    web::notification n;
    n.event_type = "user";
    n.title = title;
    n.sender = "john";
    n.recipients = std::move(to);
    return n.to_event();
}

}  // namespace

TEST_CASE("two web servers serve one hub's events through Redis pub/sub", "[web][redis]") {
    beacon_test::redis_server redis;
    const std::string channel = "beacon.web.UserHub";

    // The process sending: its hub publishes once, to Redis.
    beacon::hubs hubs;
    auto user_hub = hubs.create_hub("UserHub");
    user_hub->register_consumer(std::make_shared<beacon::redis::push_forwarder>(redis.url(), channel));

    // Two web processes, each subscribed.
    std::mutex m;
    std::vector<std::string> errors;
    std::vector<std::string> wheres;  // each failure's `where`
    const auto on_failure = [&](const beacon::failure& f) {
        std::lock_guard lock(m);
        errors.push_back(f.message());
        wheres.push_back(f.where);
    };
    beacon::redis::consumer_options sub;
    sub.url = redis.url();
    sub.channel = channel;
    sub.poll_timeout = 50ms;
    web::server a, b;
    beacon::redis::sse_fanout fan_a(a.add_stream("/user_notifications", user_stream()), sub, on_failure);
    beacon::redis::sse_fanout fan_b(b.add_stream("/user_notifications", user_stream()), sub, on_failure);
    a.start();
    b.start();
    REQUIRE(beacon_test::eventually([&] {
        const auto r = redis.command({"PUBSUB", "NUMSUB", channel});
        return r->elements == 2 && r->element[1]->integer == 2;
    }));

    boost::asio::io_context io;
    auto alice_a = subscribe_user(io, a, "alice");
    auto alice_b = subscribe_user(io, b, "alice");
    auto bob_b = subscribe_user(io, b, "bob");
    REQUIRE(beacon_test::eventually([&] {
        return fan_a.stream()->stats().connections == 1 && fan_b.stream()->stats().connections == 2;
    }));

    hubs.send(notification_to("for bob", {"bob"}));
    hubs.send(notification_to("for alice", {"alice"}));
    const auto on_a = alice_a->next_event();
    const auto on_b = alice_b->next_event();
    const auto bobs = bob_b->next_event();
    REQUIRE(on_a);
    REQUIRE(on_b);
    REQUIRE(bobs);
    CHECK(title(*on_a) == "for alice");
    CHECK(title(*on_b) == "for alice");
    CHECK(title(*bobs) == "for bob");
    CHECK(on_a->id == on_b->id);  // the id travels with the event: the same on every server
    CHECK(on_a->id == nlohmann::json::parse(on_a->data).at("event_id"));

    // A bad message on the channel is reported and skipped; what follows is served.
    redis.command({"PUBLISH", channel, "{not json"});
    // alice leaves server A; two more events; she comes back on server B and resumes there.
    alice_a.reset();
    REQUIRE(beacon_test::eventually([&] { return fan_a.stream()->stats().connections == 0; }));
    hubs.send(notification_to("missed 1", {"alice"}));
    hubs.send(notification_to("missed 2", {"alice", "bob"}));
    const auto b1 = alice_b->next_event();
    const auto b2 = alice_b->next_event();
    REQUIRE(b2);
    auto back = subscribe_user(io, b, "alice", "Last-Event-ID: " + on_a->id + "\r\n");
    const auto r1 = back->next_event();
    const auto r2 = back->next_event();
    REQUIRE(r1);
    REQUIRE(r2);
    CHECK(title(*r1) == "missed 1");
    CHECK(title(*r2) == "missed 2");
    CHECK(r2->id == b2->id);
    // Each server's consumer reports the bad message in its own thread: wait for both.
    const auto reported = [&] {
        std::lock_guard lock(m);
        return errors.size();
    };
    REQUIRE(beacon_test::eventually([&] { return reported() >= 2; }));
    std::lock_guard lock(m);
    CHECK(errors.size() == 2);  // one per server
    for (const auto& e : errors) CHECK_THAT(e, StartsWith("[beacon.decode_error]"));
    for (const auto& w : wheres) CHECK_THAT(w, StartsWith("redis::consumer of channel beacon.web.UserHub, message \"{not json"));
}

TEST_CASE("an event published twice is served once", "[web][redis][dedup]") {
    beacon_test::redis_server redis;
    const std::string channel = "beacon.web.UserHub";
    beacon::redis::push_forwarder publish(redis.url(), channel);
    beacon::redis::consumer_options sub;
    sub.url = redis.url();
    sub.channel = channel;
    sub.poll_timeout = 50ms;
    web::server a;
    beacon::redis::sse_fanout fan(a.add_stream("/user_notifications", user_stream()), sub);
    a.start();
    REQUIRE(beacon_test::eventually([&] { return redis.command({"PUBSUB", "NUMSUB", channel})->element[1]->integer == 1; }));
    boost::asio::io_context io;
    auto alice = subscribe_user(io, a, "alice");
    REQUIRE(beacon_test::eventually([&] { return fan.stream()->stats().connections == 1; }));

    beacon::event twice = notification_to("twice", {"alice"});
    twice.stamp();  // one id, published twice (a retried publish)
    publish.consume(twice);
    publish.consume(twice);
    publish.consume(notification_to("next", {"alice"}));
    const auto first = alice->next_event();
    const auto second = alice->next_event();
    REQUIRE(first);
    REQUIRE(second);
    CHECK(title(*first) == "twice");
    CHECK(title(*second) == "next");
    CHECK(fan.duplicates_dropped() == 1);
}
