#include <beacon/outbound/courier.hpp>

#include <beacon/cloudevents.hpp>
#include <beacon/hub.hpp>
#include <beacon/registry.hpp>

#include "eventually.hpp"
#include "outbound_test_support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::webhook_endpoint;

beacon::event record(const std::string& title) {
    beacon::event e("blog-api");
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.set("title", title);
    e.stamp();
    e.source = "/blog-api";
    e.type = "core.resource_changed";
    return e;
}

// An endpoint on the test's own server: loopback allowed, quick retries.
beacon::outbound::webhook local(const std::string& url, const beacon::outbound::signing_secret& secret) {
    beacon::outbound::webhook e(url, secret);
    e.allow_private = true;
    e.retry.first_delay = 20ms;
    e.retry.max_attempts = 4;
    e.timeout = 2s;
    return e;
}

beacon::outbound::courier_options quiet(beacon_test::failure_log& r) {
    beacon::outbound::courier_options o;
    o.on_failure = r.handler();
    return o;
}

}  // namespace

TEST_CASE("each event is POSTed once, signed per Standard Webhooks, its id the event's", "[webhook][courier]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    const auto secret = beacon::outbound::signing_secret::generate();
    beacon::outbound::courier courier(quiet(failures));
    beacon::hub hub("changes");
    auto envelope = courier.add(local(server.url("/ok/envelope"), secret));
    auto cloud_endpoint = local(server.url("/ok/cloud"), secret);
    cloud_endpoint.format = beacon::wire_format::cloudevents();
    auto cloud = courier.add(cloud_endpoint);
    hub.register_consumer(envelope);
    hub.register_consumer(cloud);

    const auto e = record("Café ☕");
    const auto before = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    hub.send(e);
    REQUIRE(courier.wait_idle(10s));

    const auto got = server.log("/ok/envelope");
    REQUIRE(got.size() == 1);
    const auto& r = got[0];
    CHECK(r.at("id") == e.id.to_string());
    CHECK(r.at("content_type") == "application/json");
    CHECK(r.at("body") == beacon::wire_format::envelope().encode(e));
    const auto timestamp = std::stoll(r.at("timestamp").get<std::string>());
    CHECK(timestamp >= before);
    CHECK(timestamp <= before + 5);
    CHECK(beacon::outbound::verify(secret, r.at("id").get<std::string>(), timestamp, r.at("body").get<std::string>(),
                                  r.at("signature").get<std::string>()));
    CHECK_FALSE(beacon::outbound::verify(secret, r.at("id").get<std::string>(), timestamp, r.at("body").get<std::string>() + " ",
                                        r.at("signature").get<std::string>()));

    const auto ce = server.log("/ok/cloud");
    REQUIRE(ce.size() == 1);
    CHECK(ce[0].at("content_type") == "application/cloudevents+json");
    const auto decoded = beacon::decode_cloudevent(ce[0].at("body").get<std::string>());
    CHECK(decoded.id == e.id);
    CHECK(decoded.data.at("title") == "Café ☕");

    CHECK(envelope->stats().delivered == 1);
    CHECK(envelope->stats().attempts == 1);
    CHECK(failures.all().empty());
}

TEST_CASE("a receiver on a signal shares each event, a worker writes it; one it cannot write is discarded and reported",
          "[webhook][courier][signal]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    const auto secret = beacon::outbound::signing_secret::generate();
    beacon::outbound::courier courier(quiet(failures));
    auto c = courier.add(local(server.url("/ok/shared"), secret));
    beacon::registry reg;
    auto& changed = reg.core().signal("resource_changed");
    const auto connection = changed.connect(c->receiver());

    const auto shared = std::make_shared<const beacon::event>(record("shared"));
    const auto copied = record("sent by reference");
    auto bad = record("x");
    bad.set("title", std::string("\xff\xfe not UTF-8"));
    changed.send(shared);
    changed.send(copied);
    changed.send(bad);
    REQUIRE(courier.wait_idle(10s));

    const auto got = server.log("/ok/shared");
    REQUIRE(got.size() == 2);
    for (const auto* e : {shared.get(), &copied}) {
        const auto it = std::find_if(got.begin(), got.end(), [&](const auto& r) { return r.at("id") == e->id.to_string(); });
        REQUIRE(it != got.end());
        CHECK(it->at("body") == beacon::wire_format::envelope().encode(*e));
        CHECK(beacon::outbound::verify(secret, e->id.to_string(), std::stoll(it->at("timestamp").get<std::string>()),
                                      it->at("body").get<std::string>(), it->at("signature").get<std::string>()));
    }
    const auto s = c->stats();
    CHECK(s.queued == 3);
    CHECK(s.delivered == 2);
    CHECK(s.discarded == 1);
    CHECK(s.refused == 0);
    CHECK(s.attempts == 2);
    CHECK_THAT(failures.all(), Catch::Contains("event " + bad.id.to_string() + " discarded: [beacon.encode_error]"));
}

TEST_CASE("a failing endpoint is retried with backoff until it answers 2xx", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    auto c = courier.add(local(server.url("/fail/2/a"), beacon::outbound::signing_secret::generate()));
    c->consume(record("x"));
    REQUIRE(courier.wait_idle(10s));
    const auto got = server.log("/fail/2/a");
    REQUIRE(got.size() == 3);
    CHECK(got[0].at("id") == got[2].at("id"));  // the same delivery, made again
    // The second wait is about twice the first (20 ms, then 40 ms, each up to 25% shorter).
    CHECK(got[1].at("at").get<double>() - got[0].at("at").get<double>() >= 0.014);
    CHECK(got[2].at("at").get<double>() - got[1].at("at").get<double>() >= 0.029);
    const auto s = c->stats();
    CHECK(s.attempts == 3);
    CHECK(s.rejected == 2);
    CHECK(s.delivered == 1);
    CHECK(s.given_up == 0);
    CHECK(failures.all().empty());
}

TEST_CASE("a dead endpoint's retries do not hold back new events for another endpoint", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    auto options = quiet(failures);
    options.workers = 1;  // one worker: it must take new events between the retries
    beacon::outbound::courier courier(options);
    auto dead_endpoint = local(server.url("/fail/9999/dead"), beacon::outbound::signing_secret::generate());
    dead_endpoint.retry.first_delay = 1ms;
    dead_endpoint.retry.max_delay = 1ms;  // a retry is always due
    dead_endpoint.retry.max_attempts = 50;
    auto dead = courier.add(dead_endpoint);
    auto healthy = courier.add(local(server.url("/ok/healthy"), beacon::outbound::signing_secret::generate()));
    for (int i = 0; i < 20; ++i) dead->consume(record("x"));
    REQUIRE(eventually([&] { return dead->stats().attempts >= 20; }));  // every event is retrying now
    healthy->consume(record("y"));
    REQUIRE(eventually([&] { return healthy->stats().delivered == 1; }));
    CHECK(dead->stats().attempts < 60);  // taken in turn with the retries, not after the 1,000 of them
    CHECK(dead->stats().given_up == 0);
    courier.stop();
}

TEST_CASE("an endpoint failing every attempt is given up after the last one, and reported", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    auto endpoint = local(server.url("/fail/99/b"), beacon::outbound::signing_secret::generate());
    endpoint.retry.max_attempts = 3;
    auto c = courier.add(endpoint);
    const auto e = record("x");
    c->consume(e);
    REQUIRE(courier.wait_idle(10s));
    CHECK(server.log("/fail/99/b").size() == 3);
    CHECK(c->stats().given_up == 1);
    CHECK(c->stats().rejected == 3);
    CHECK_THAT(failures.all(), Catch::Contains("beacon.outbound: outbound: http://127.0.0.1:" + std::to_string(server.port()) +
                                               "/fail/... failed: [beacon.transport_error] event " + e.id.to_string() +
                                               " given up after 3 attempt(s); the last: HTTP 500"));
}

TEST_CASE("wait_idle returns only once a given-up event has been reported", "[webhook][courier][faults]") {
    // The handler is still running when wait_idle starts: the event is under way until it returns.
    // (wait_idle returned at once: the event stopped counting before it was reported.)
    webhook_endpoint server;
    std::promise<void> release;
    const auto released = release.get_future().share();
    std::atomic<bool> reporting{false}, reported{false};
    beacon::outbound::courier_options options;
    options.on_failure = [&](const beacon::failure&) {
        reporting = true;
        released.wait();
        reported = true;
    };
    beacon::outbound::courier courier(options);
    auto endpoint = local(server.url("/fail/99/slow-report"), beacon::outbound::signing_secret::generate());
    endpoint.retry.max_attempts = 1;
    courier.add(endpoint)->consume(record("x"));
    REQUIRE(eventually([&] { return reporting.load(); }));
    CHECK_FALSE(courier.wait_idle(100ms));  // still reporting
    std::thread releasing([&] {
        std::this_thread::sleep_for(100ms);
        release.set_value();
    });
    CHECK(courier.wait_idle(10s));
    CHECK(reported);
    releasing.join();
}

TEST_CASE("410 Gone disables the endpoint: nothing is sent to it after", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options = quiet(failures);
    options.workers = 1;
    beacon::outbound::courier courier(options);
    auto c = courier.add(local(server.url("/gone/c"), beacon::outbound::signing_secret::generate()));
    c->consume(record("1"));
    REQUIRE(courier.wait_idle(10s));
    c->consume(record("2"));
    c->consume(record("3"));
    REQUIRE(courier.wait_idle(10s));
    CHECK(server.log("/gone/c").size() == 1);
    const auto s = c->stats();
    CHECK(s.disabled);
    CHECK(s.attempts == 1);
    CHECK(s.refused == 2);
    CHECK_THAT(failures.all(), Catch::Contains("HTTP 410 Gone: the endpoint is disabled"));
    CHECK_THAT(failures.all(), Catch::Contains("refused: the endpoint is disabled (it answered 410 Gone)"));
}

TEST_CASE("429 and 503 with Retry-After wait as told, then deliver", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    auto busy = courier.add(local(server.url("/busy/d"), beacon::outbound::signing_secret::generate()));
    auto unavailable = courier.add(local(server.url("/unavailable/d"), beacon::outbound::signing_secret::generate()));
    busy->consume(record("x"));
    unavailable->consume(record("y"));
    REQUIRE(courier.wait_idle(10s));
    for (const auto* path : {"/busy/d", "/unavailable/d"}) {
        const auto got = server.log(path);
        REQUIRE(got.size() == 2);
        // The backoff alone would have waited 20 ms; Retry-After said 1 s.
        CHECK(got[1].at("at").get<double>() - got[0].at("at").get<double>() >= 0.95);
    }
    CHECK(busy->stats().throttled == 1);
    CHECK(busy->stats().delivered == 1);
    CHECK(unavailable->stats().throttled == 1);
    CHECK(unavailable->stats().delivered == 1);
}

TEST_CASE("an endpoint that hangs times out; one that resets fails to deliver; both are retried", "[webhook][courier][faults]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    auto hanging = local(server.url("/hang/e"), beacon::outbound::signing_secret::generate());
    hanging.timeout = 300ms;
    hanging.retry.max_attempts = 2;
    auto resetting = local(server.url("/reset/e"), beacon::outbound::signing_secret::generate());
    resetting.retry.max_attempts = 2;
    auto h = courier.add(hanging);
    auto r = courier.add(resetting);
    h->consume(record("x"));
    r->consume(record("y"));
    REQUIRE(courier.wait_idle(10s));
    CHECK(h->stats().timed_out == 2);
    CHECK(h->stats().given_up == 1);
    CHECK(r->stats().network_errors == 2);
    CHECK(r->stats().given_up == 1);
    CHECK(server.log("/reset/e").size() == 2);
    CHECK_THAT(failures.all(), Catch::Contains("/hang/... failed: [beacon.transport_error] event") &&
                                   Catch::Contains("given up after 2 attempt(s); the last: Timeout was reached"));
}

TEST_CASE("a redirect is not followed (not even to a private address)", "[webhook][courier][faults][ssrf]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    auto endpoint = local(server.url("/redirect/f"), beacon::outbound::signing_secret::generate());
    endpoint.retry.max_attempts = 1;
    auto c = courier.add(endpoint);
    c->consume(record("x"));
    REQUIRE(courier.wait_idle(10s));
    CHECK(c->stats().rejected == 1);
    CHECK(c->stats().given_up == 1);
    CHECK_THAT(failures.all(), Catch::Contains("the last: HTTP 302 (redirects are not followed)"));
}

TEST_CASE("requests never reach loopback, private or link-local addresses unless allowed", "[webhook][courier][ssrf]") {
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    const auto secret = beacon::outbound::signing_secret::generate();
    for (const char* url : {"http://127.0.0.1/x", "http://10.1.2.3/x", "http://172.16.0.1/x", "http://192.168.1.1/x",
                            "http://169.254.169.254/latest/meta-data", "http://100.64.0.1/x", "http://0.0.0.0/x",
                            "http://[::1]/x", "http://[fe80::1]/x", "http://[fd00::1]/x", "http://[::ffff:127.0.0.1]/x",
                            "http://[::ffff:a9fe:a9fe]/x", "http://[64:ff9b::a00:1]/x", "http://[2002:0a00:0001::1]/x",
                            "http://224.0.0.1/x", "http://[::]/x", "http://[64:ff9b:1::a00:1]/x", "http://[fec0::1]/x",
                            "http://[::ffff:0:7f00:1]/x", "http://[2001:0:4136:e378::1]/x", "http://[100::1]/x",
                            "http://127.1/x", "http://2130706433/x", "http://0x7f.1/x"}) {
        INFO(url);
        CHECK_THROWS_AS(courier.add(beacon::outbound::webhook(url, secret)), beacon::config_error);
    }
    CHECK_THROWS_WITH(courier.add(beacon::outbound::webhook("http://169.254.169.254/latest", secret)),
                      "[beacon.config_error] /url: http://169.254.169.254/latest: the host is a link-local address "
                      "(endpoint option allow_private permits it)");
    CHECK_NOTHROW(courier.add(beacon::outbound::webhook("https://93.184.215.14/hook", secret)));
    CHECK_NOTHROW(courier.add(beacon::outbound::webhook("http://[2606:4700::1]/hook", secret)));

    // A name is judged on the addresses it resolves to, when the request connects: nothing is sent.
    webhook_endpoint server;
    beacon::outbound::webhook by_name(server.url("/ok/g", "localhost"), secret);
    by_name.retry.max_attempts = 1;
    auto c = courier.add(by_name);
    c->consume(record("x"));
    REQUIRE(courier.wait_idle(10s));
    CHECK(server.log("/ok/g").empty());
    CHECK(c->stats().address_refused == 1);
    CHECK_THAT(failures.all(), Catch::Contains("refused to connect: 127.0.0.1 is a loopback address") ||
                                   Catch::Contains("refused to connect: ::1 is a loopback address"));
}

TEST_CASE("bad endpoint URLs are config errors naming the key, never quoting credentials", "[webhook][courier][config]") {
    beacon::outbound::courier courier;
    const auto secret = beacon::outbound::signing_secret::generate();
    CHECK_THROWS_WITH(courier.add(beacon::outbound::webhook("ftp://example.org/x", secret)),
                      "[beacon.config_error] /url: unknown scheme \"ftp\" (the URL is http or https)");
    CHECK_THROWS_AS(courier.add(beacon::outbound::webhook("not a url", secret)), beacon::config_error);
    try {
        courier.add(beacon::outbound::webhook("admin:hunter2@example.com/x", secret));  // no scheme: not a URL
        FAIL("a URL without a scheme was accepted");
    } catch (const beacon::config_error& bad) {
        CHECK_THAT(bad.what(), !Catch::Contains("admin") && !Catch::Contains("hunter2"));
    }
    // Shown: the path's first segment only (a Slack webhook's token is in its path).
    CHECK(courier.add(beacon::outbound::webhook("https://hooks.slack.com/services/T0/B0/s3cr3tT0k3n", secret))->shown_url() ==
          "https://hooks.slack.com/services/...");
    try {
        courier.add(beacon::outbound::webhook("http://user:s3cr3t@[oops/x?token=t0k3n", secret));
        FAIL("a bad URL was accepted");
    } catch (const beacon::config_error& bad) {
        CHECK(bad.key() == "/url");
        CHECK_THAT(bad.what(), !Catch::Contains("s3cr3t") && !Catch::Contains("t0k3n"));
    }
    auto zero = beacon::outbound::webhook("https://example.org/x", secret);
    zero.timeout = 0ms;
    CHECK_THROWS_WITH(courier.add(zero), "[beacon.config_error] /timeout: an endpoint's timeout must be positive");
}

TEST_CASE("credentials and query of an endpoint's URL never appear in a report", "[webhook][courier][config]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    const std::string url = "http://alice:pa55word@127.0.0.1:" + std::to_string(server.port()) + "/gone/h?token=t0k3n";
    auto c = courier.add(local(url, beacon::outbound::signing_secret::generate()));
    CHECK(c->shown_url() == "http://127.0.0.1:" + std::to_string(server.port()) + "/gone/...");
    c->consume(record("1"));
    REQUIRE(courier.wait_idle(10s));
    c->consume(record("2"));
    REQUIRE(server.log("/gone/h?token=t0k3n").size() == 1);  // they were sent
    const auto text = failures.all();
    CHECK_THAT(text, Catch::Contains("HTTP 410"));
    CHECK_THAT(text, !Catch::Contains("pa55word") && !Catch::Contains("t0k3n") && !Catch::Contains("alice"));
}

TEST_CASE("HTTPS endpoints are verified against the CA given, and refused without it", "[webhook][courier][tls]") {
    beacon_test::test_ca ca;
    webhook_endpoint server(ca.file("server.pem"), ca.file("server.key"), ca.file("ca.pem"));
    beacon_test::failure_log failures;
    beacon::outbound::courier courier(quiet(failures));
    const std::string url = "https://localhost:" + std::to_string(server.port()) + "/ok/tls";
    auto trusted = local(url, beacon::outbound::signing_secret::generate());
    trusted.ca_file = ca.file("ca.pem");
    auto untrusted = local(url, beacon::outbound::signing_secret::generate());
    untrusted.retry.max_attempts = 1;
    auto good = courier.add(trusted);
    auto bad = courier.add(untrusted);
    good->consume(record("x"));
    bad->consume(record("y"));
    REQUIRE(courier.wait_idle(10s));
    CHECK(good->stats().delivered == 1);
    CHECK(bad->stats().network_errors == 1);
    CHECK(bad->stats().given_up == 1);
    CHECK(server.log("/ok/tls").size() == 1);
    CHECK_THAT(failures.all(), Catch::Contains("https://localhost:" + std::to_string(server.port()) + "/ok/... failed"));
}

TEST_CASE("a full queue refuses events and reports each; stopping reports what was left", "[webhook][courier][limits]") {
    webhook_endpoint server;
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options = quiet(failures);
    options.workers = 1;
    options.max_queued = 2;
    beacon::outbound::courier courier(options);
    auto hanging = local(server.url("/hang/i"), beacon::outbound::signing_secret::generate());
    hanging.timeout = 3s;
    auto c = courier.add(hanging);
    for (int i = 0; i < 5; ++i) c->consume(record(std::to_string(i)));
    CHECK(c->stats().queued == 2);
    CHECK(c->stats().refused == 3);
    CHECK_THAT(failures.all(), Catch::Contains("refused: the queue is full (2 events)"));
    REQUIRE(eventually([&] { return server.log("/hang/i").size() == 1; }));
    courier.stop();  // aborts the attempt under way, discards the one queued
    const auto s = c->stats();
    CHECK(s.discarded == 1);
    CHECK(s.given_up == 1);
    CHECK_THAT(failures.all(), Catch::Contains("stopped with 1 event(s) not delivered"));
    c->consume(record("late"));
    CHECK(c->stats().refused == 4);
    CHECK_THAT(failures.all(), Catch::Contains("refused: the courier is stopped"));
}

TEST_CASE("a failure handler may stop the courier from the courier's own worker", "[webhook][courier][limits]") {
    webhook_endpoint server;
    beacon::outbound::courier* self = nullptr;
    std::atomic<int> stops{0};
    beacon::outbound::courier_options options;
    options.on_failure = [&](const beacon::failure&) {
        ++stops;
        self->stop();  // stops without joining (from a worker): the destructor joins the workers
    };
    beacon::outbound::courier courier(options);
    self = &courier;
    auto endpoint = local(server.url("/fail/99/stop"), beacon::outbound::signing_secret::generate());
    endpoint.retry.max_attempts = 1;
    auto c = courier.add(endpoint);
    c->consume(record("x"));
    REQUIRE(eventually([&] { return stops.load() == 1; }));
    REQUIRE(courier.wait_idle(10s));
    CHECK(c->stats().given_up == 1);
    c->consume(record("late"));  // the courier is stopped: refused, reported (the handler's stop returns at once)
    CHECK(c->stats().refused == 1);
}

TEST_CASE("a courier stopped by its own worker is destroyed only once its workers end", "[webhook][courier][limits]") {
    // One worker blocks in the failure handler of one event; the other's handler for another
    // event stops the courier. Destroying the courier must then wait for the first. (It was a
    // std::terminate: the destructor's stop() returned at once, the courier being stopped, and
    // destroyed the threads that the handler's stop() was still joining.)
    webhook_endpoint server;
    std::promise<void> release;
    const auto released = release.get_future().share();
    std::atomic<bool> blocking{false}, stopping{false}, blocked_done{false};
    beacon::outbound::courier* self = nullptr;
    const auto to_block = record("block"), to_stop = record("stop");  // told apart by their ids
    beacon::outbound::courier_options options;
    options.workers = 2;
    options.on_failure = [&](const beacon::failure& f) {
        const auto about = [&](const beacon::event& e) { return f.message().find(e.id.to_string()) != std::string::npos; };
        if (about(to_block) && !blocking.exchange(true)) {
            released.wait();
            blocked_done = true;
        } else if (about(to_stop) && !stopping.exchange(true)) {
            self->stop();
        }
    };
    auto courier = std::make_unique<beacon::outbound::courier>(options);
    self = courier.get();
    auto block = local(server.url("/fail/99/block"), beacon::outbound::signing_secret::generate());
    block.retry.max_attempts = 1;
    auto stop = local(server.url("/fail/99/stop"), beacon::outbound::signing_secret::generate());
    stop.retry.max_attempts = 1;
    courier->add(block)->consume(to_block);
    REQUIRE(eventually([&] { return blocking.load(); }));
    courier->add(stop)->consume(to_stop);
    REQUIRE(eventually([&] { return stopping.load(); }));
    std::this_thread::sleep_for(100ms);  // the handler's stop() under way (a slow machine only hides the defect)
    std::thread destroying([&] { courier.reset(); });
    std::this_thread::sleep_for(100ms);
    release.set_value();
    destroying.join();
    CHECK(blocked_done);  // the destructor returned after the blocked handler did
}
