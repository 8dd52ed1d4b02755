// The Redis bridge against hostile peers and careless hosts (issue 11), with a real redis-server:
// credentials in malformed URLs, silent and stopped servers.
#include <beacon/redis.hpp>

#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::free_loopback_socket;
using beacon_test::listener_for;
using beacon_test::numbered;
using beacon_test::quick;
using beacon_test::redis_server;
using beacon_test::url_error;
using beacon_test::worker_side;

namespace {

// A TCP peer on a loopback port that accepts connections (the kernel completes them). Without an
// `answer` it never reads or answers: what a consumer sees of a hung server or of something that is
// not Redis. With one, it writes `answer` for every read, as long as the client keeps sending.
class fake_peer {
public:
    explicit fake_peer(std::string answer = {}) : fd_(free_loopback_socket(port_)), answer_(std::move(answer)) {
        REQUIRE(::listen(fd_, 64) == 0);
        if (!answer_.empty()) answering_ = std::thread([this] { answer_all(); });
    }
    fake_peer(const fake_peer&) = delete;
    fake_peer& operator=(const fake_peer&) = delete;
    ~fake_peer() {
        {
            const std::lock_guard<std::mutex> lock(client_mutex_);
            stopping_ = true;
            if (client_ >= 0) ::shutdown(client_, SHUT_RDWR);  // wakes a read
        }
        ::shutdown(fd_, SHUT_RDWR);  // and the accept
        if (answering_.joinable()) answering_.join();
        ::close(fd_);
    }
    std::string url() const { return redis_server::url_for(port_); }

private:
    void answer_all() {
        for (int client; (client = ::accept(fd_, nullptr, nullptr)) >= 0;) {
            answer(client);
            const std::lock_guard<std::mutex> lock(client_mutex_);
            ::close(client);
            client_ = -1;
        }
    }

    void answer(int client) {
        {
            const std::lock_guard<std::mutex> lock(client_mutex_);
            if (stopping_) return;
            client_ = client;
        }
        char in[4096];
        while (::read(client, in, sizeof in) > 0) {
            if (::send(client, answer_.data(), answer_.size(), MSG_NOSIGNAL) < 0) break;
        }
    }

    int port_ = 0;
    int fd_;
    std::string answer_;
    std::mutex client_mutex_;
    int client_ = -1;  // the connection being answered
    bool stopping_ = false;
    std::thread answering_;
};

}  // namespace

TEST_CASE("no URL, valid or not, shows its password in a redis_error or config_error", "[redis][url][behaviour12]") {
    const std::vector<std::string> urls{
        "redis//alice:S3CRETPW@host/redis://x",  // the masking used to assume one "://" before the last '@'
        "S3CRETPW@host",                         // no scheme at all
        "redis://alice:S3CRETPW@host:99999",     // a valid scheme, a bad port
        "redis:/alice:S3CRETPW@host",
        "http://alice:S3CRETPW@host",
        "alice:S3CRETPW@host://x@host:1x",
        "redis://alice:S3CRETPW@",
    };
    for (const auto& url : urls) {
        CAPTURE(url);
        const std::string message = url_error(url);
        CHECK_THAT(message, Contains("[beacon.config_error] /url: ") && Contains("***@") && !Contains("S3CRETPW") && !Contains("alice"));

        beacon::registry host;
        beacon::listener_types types;
        beacon::redis::add_listener_types(types);
        CHECK_THROWS_WITH(beacon::load_listeners(host, {{"event_listeners", {{"q", {{"use", "redis"}, {"url", url}}}}}}, types),
                          Contains("[beacon.config_error] /event_listeners/q/url") && !Contains("S3CRETPW"));
        beacon::signal sink("core", "sink");
        beacon::redis::consumer_options options;
        options.url = url;
        CHECK_THROWS_WITH(beacon::redis::consumer(sink, options), !Contains("S3CRETPW"));
    }
    CHECK(url_error("redis//alice:S3CRETPW@host/redis://x") ==
          "[beacon.config_error] /url: url \"***@host/redis://x\": unknown scheme (expected "
          "redis://[[user]:password@]host[:port][/db][?option=value&...] or "
          "unix://[[user]:password@]/path/to/socket[?option=value&...])");
}

TEST_CASE("a Redis error quotes at most a short excerpt of a bad URL", "[redis][url][behaviour11]") {
    const std::string huge_port = "redis://host:" + std::string(1 << 20, '7');
    const std::string message = url_error(huge_port);
    CHECK_THAT(message, Contains("bad port") && Contains("... (1048589 bytes)"));
    CHECK(message.size() < 512);
    const std::string huge_host = "http://" + std::string(1 << 20, 'h');
    CHECK(url_error(huge_host).size() < 512);
    CHECK_THAT(url_error("redis://\x01\xff:1x"), Contains("\\x01\\xff"));
}

TEST_CASE("a server's error reply is quoted as a short printable excerpt", "[redis][failure][behaviour11]") {
    const std::string reason = "ERR \x01" + std::string(100000, 'e');
    fake_peer peer("-" + reason + "\r\n");
    auto listener = listener_for(peer.url());
    try {
        listener.forward(numbered(1));
        FAIL("an error reply was not thrown");
    } catch (const beacon::redis::redis_error& e) {
        const std::string message = e.what();
        CHECK_THAT(message, Contains(peer.url() + ": LPUSH beacon.events: ERR \\x01eee") &&
                                Contains("... (" + std::to_string(reason.size()) + " bytes)"));
        CHECK(message.size() < 512);
    }
}

TEST_CASE("a channel consumer detects a stopped server within its timeout, reports it and reconnects",
          "[redis][channel][failure]") {
    redis_server server;
    worker_side got;
    auto options = quick(server.url());
    options.channel = "beacon.live";
    options.timeout = 300ms;
    got.start(options);
    REQUIRE(eventually([&] { return server.command({"PUBSUB", "NUMSUB", "beacon.live"})->element[1]->integer == 1; }));

    server.signal(SIGSTOP);
    REQUIRE(eventually([&] { return got.error_count() >= 1; }, 10s));
    server.signal(SIGCONT);
    CHECK_THAT(got.first_error(), Contains("[beacon.redis_error] " + server.url() + ": SUBSCRIBE beacon.live: no reply to PING within 300 ms"));

    // Reconnected and subscribed again: what is published now arrives (at most once: publish until it does).
    auto listener = listener_for(server.url(), "unused", "beacon.live");
    REQUIRE(eventually([&] {
        listener.forward(numbered(1));
        return got.event_count() >= 1;
    }, 10s));
    got.stop();
}

TEST_CASE("a channel consumer whose peer accepts and never answers reports it on every attempt", "[redis][channel][failure]") {
    fake_peer peer;
    worker_side got;
    auto options = quick(peer.url());
    options.channel = "beacon.live";
    options.timeout = 200ms;
    got.start(options);
    REQUIRE(eventually([&] { return got.error_count() >= 2; }, 10s));
    got.stop();
    for (const auto& e : got.errors) CHECK_THAT(e, Contains("no reply to PING within 200 ms") && Contains(peer.url()));
}

namespace {

// A record event in collection `collection` (so that units of work do not merge them), whose
// title is `title`.
beacon::event titled(int n, const std::string& collection, const std::string& title) {
    beacon::event e = numbered(n);
    e.uri = "/buckets/b/collections/" + collection + "/records/r" + std::to_string(n);
    e.data["title"] = title;
    return e;
}

// The numbers of the events in `list`, oldest first.
std::vector<int> listed(redis_server& server, const std::string& list) {
    std::vector<int> out;
    for (long long i = server.llen(list) - 1; i >= 0; --i) {
        out.push_back(beacon::parse_event(server.command({"LINDEX", list, std::to_string(i)})->str).data.at("n").get<int>());
    }
    return out;
}

const std::string latin1 = "caf\xe9";  // not UTF-8

}  // namespace

TEST_CASE("invalid UTF-8 is an encode_error naming the event and the field; the batch's good events are published",
          "[redis][batch][behaviour11]") {
    redis_server server;
    auto listener = listener_for(server.url());
    CHECK_THROWS_WITH(listener.forward(titled(1, "c1", latin1)),
                      Contains("[beacon.encode_error] /data/title: invalid UTF-8 (byte 0xe9 at offset 3") &&
                          Contains("in event create record /buckets/b/collections/c1/records/r1 from \"producer\""));
    beacon::event bad_uri = numbered(2);
    bad_uri.uri = "/buckets/" + latin1;
    CHECK_THROWS_WITH(listener.forward(bad_uri), Contains("[beacon.encode_error] /uri: invalid UTF-8") && Contains("/buckets/caf\\xe9"));
    beacon::event bad_record = numbered(3);
    bad_record.impacted_records.push_back({std::nullopt, nlohmann::json{{"tags", {"ok", latin1}}}});
    CHECK_THROWS_WITH(listener.forward(bad_record), Contains("[beacon.encode_error] /impacted_records/0/new/tags/1: invalid UTF-8"));
    CHECK(server.llen("beacon.events") == 0);

    SECTION("forward(batch)") {
        CHECK_THROWS_WITH(listener.forward(std::vector<beacon::event>{titled(1, "c1", "ok"), titled(2, "c2", latin1),
                                                                      titled(3, "c3", "fine")}),
                          Contains("[beacon.encode_error] /data/title") && Contains("records/r2"));
        CHECK(listed(server, "beacon.events") == std::vector<int>{1, 3});
    }
    SECTION("the after-commit observer") {
        beacon::registry host;
        std::vector<std::string> failures;
        beacon::resource_notifier notifier(host, [&](const beacon::failure& f) { failures.push_back(f.message()); });
        notifier.on_after_commit(listener);
        beacon::unit_of_work request(notifier);
        request.notify(titled(1, "c1", "ok"));
        request.notify(titled(2, "c2", latin1));
        request.notify(titled(3, "c3", "fine"));
        request.commit();
        CHECK(listed(server, "beacon.events") == std::vector<int>{1, 3});
        REQUIRE(failures.size() == 1);
        CHECK_THAT(failures[0], Contains("[beacon.encode_error] /data/title: invalid UTF-8") && Contains("records/r2"));
    }
    SECTION("the configured redis listener") {
        beacon_test::notifier_host kinto;
        auto loaded = beacon::load_listeners(
            kinto.host, {{"event_listeners", {{"queue", {{"use", "redis"}, {"url", kinto.server.url()}}}}}}, kinto.types);
        beacon::unit_of_work request(kinto.notifier);
        request.notify(titled(1, "c1", "ok"));
        request.notify(titled(2, "c2", latin1));
        request.notify(titled(3, "c3", "fine"));
        request.commit();
        CHECK(listed(kinto.server, "beacon.events") == std::vector<int>{1, 3});
        REQUIRE(kinto.failures.size() == 1);
        CHECK_THAT(kinto.failures[0], Contains("[beacon.encode_error] /data/title: invalid UTF-8") && Contains("records/r2"));
    }
}

TEST_CASE("an event nested 100,000 levels deep is an encode_error for the listener, not a crash", "[redis][behaviour11]") {
    redis_server server;
    nlohmann::json deep = nlohmann::json::array();
    nlohmann::json* at = &deep;
    for (int i = 0; i < 100000; ++i) at = &at->emplace_back(nlohmann::json::array());
    beacon::event e = numbered(1);
    e.data["deep"] = std::move(deep);
    for (const auto& format : {beacon::wire_format::envelope(), beacon::wire_format::kinto()}) {
        beacon::redis::forwarder_options options;
        options.url = server.url();
        options.format = format;
        CHECK_THROWS_WITH(beacon::redis::forwarder(options).forward(e),
                          Contains("[beacon.encode_error] /data/deep/0/0/0") && Contains("nests deeper than 128 levels"));
    }
    CHECK(server.llen("beacon.events") == 0);
}

TEST_CASE("poison messages (deep, oversized, huge and malformed) are dead-lettered with short errors, unparsed when too "
          "large, and the events behind them are delivered; also when a crashed consumer left one in its processing list",
          "[redis][list][failure][behaviour11]") {
    redis_server server;
    auto listener = listener_for(server.url());
    listener.forward(numbered(1));
    const std::string deep_array = R"({"payload":{"deep":)" + std::string(100000, '[') + std::string(100000, ']') + "}}";
    std::string deep_object = R"({"payload":)";
    for (int i = 0; i < 100000; ++i) deep_object += R"({"a":)";
    deep_object += "1" + std::string(100000, '}') + "}";
    const std::string oversized(3 << 20, '[');                              // 3 MiB of '[': past max_bytes
    const std::string unterminated = R"({"payload":{"uri":")" + std::string(900000, 'x');  // within it, not JSON
    server.command({"LPUSH", "beacon.events", deep_array});
    server.command({"LPUSH", "beacon.events", oversized});
    server.command({"LPUSH", "beacon.events", unterminated});
    listener.forward(numbered(2));
    server.command({"LPUSH", "beacon.events.processing", deep_object});  // what a crashed consumer left

    worker_side got;
    auto options = quick(server.url());
    options.dead_letter = "beacon.dead";
    options.limits.max_bytes = 1 << 20;
    got.start(options);
    REQUIRE(eventually([&] { return got.event_count() == 2 && server.llen("beacon.dead") == 4; }));
    got.stop();

    CHECK(got.numbers() == std::vector<int>{1, 2});
    REQUIRE(got.errors.size() == 4);
    for (const auto& message : got.errors) {
        CHECK_THAT(message, Contains("[beacon.decode_error]"));
        CHECK(message.size() < 512);
    }
    CHECK_THAT(got.errors[0], Contains("/payload/a/a/a") && Contains("nests deeper than 128 levels"));  // re-queued first
    CHECK_THAT(got.errors[1], Contains("/payload/deep/0/0") && Contains("nests deeper than 128 levels"));
    CHECK_THAT(got.errors[2], Contains("message of 3145728 bytes exceeds the limit of 1048576 bytes"));
    CHECK_THAT(got.errors[3], Contains("not valid JSON"));
    CHECK(server.llen("beacon.events") == 0);
    CHECK(server.llen("beacon.events.processing") == 0);
}
