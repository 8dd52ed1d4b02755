// The Redis bridge against hostile peers and careless hosts (issue 11), with a real redis-server:
// credentials in malformed URLs, silent and stopped servers.
#include <beacon/redis.hpp>

#include "redis_test_support.hpp"

#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;
using beacon_test::eventually;
using beacon_test::free_port;
using beacon_test::listener_for;
using beacon_test::numbered;
using beacon_test::quick;
using beacon_test::redis_server;
using beacon_test::worker_side;

namespace {

// The message of the redis_error parsing `url` throws, or "" when it parses.
std::string url_error(const std::string& url) {
    try {
        beacon::detail::parse_redis_url(url);
    } catch (const beacon::redis_error& e) {
        return e.what();
    }
    return {};
}

// A TCP peer on a loopback port that accepts connections (the kernel completes them) and never
// reads or answers: what a consumer sees of a hung server or of something that is not Redis.
class silent_peer {
public:
    silent_peer() : fd_(::socket(AF_INET, SOCK_STREAM, 0)), port_(free_port()) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(port_));
        REQUIRE(fd_ >= 0);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::listen(fd_, 64) == 0);
    }
    silent_peer(const silent_peer&) = delete;
    silent_peer& operator=(const silent_peer&) = delete;
    ~silent_peer() { ::close(fd_); }
    std::string url() const { return redis_server::url_for(port_); }

private:
    int fd_;
    int port_;
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
        CHECK_THAT(message, Contains("[beacon.redis_error]") && Contains("***@") && !Contains("S3CRETPW") && !Contains("alice"));

        beacon::registry host;
        beacon::listener_types types;
        beacon::add_redis_listener_type(types);
        CHECK_THROWS_WITH(beacon::load_listeners(host, {{"event_listeners", {{"q", {{"use", "redis"}, {"url", url}}}}}}, types),
                          Contains("[beacon.config_error] /event_listeners/q/url") && !Contains("S3CRETPW"));
        beacon::signal sink("core", "sink");
        beacon::redis_consumer_options options;
        options.url = url;
        CHECK_THROWS_WITH(beacon::redis_consumer(sink, options), !Contains("S3CRETPW"));
    }
    CHECK(url_error("redis//alice:S3CRETPW@host/redis://x") ==
          "[beacon.redis_error] url \"***@host/redis://x\": expected the scheme redis:// "
          "(redis://[[user]:password@]host[:port][/db])");
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
    silent_peer peer;
    worker_side got;
    auto options = quick(peer.url());
    options.channel = "beacon.live";
    options.timeout = 200ms;
    got.start(options);
    REQUIRE(eventually([&] { return got.error_count() >= 2; }, 10s));
    got.stop();
    for (const auto& e : got.errors) CHECK_THAT(e, Contains("no reply to PING within 200 ms") && Contains(peer.url()));
}
