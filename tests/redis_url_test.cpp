// Redis URLs read as redis-py reads them (redis.from_url): percent-escapes, query options,
// unix:// sockets, the refusals (rediss://, unknown options and schemes), the masking of every
// password; against real redis-servers of the test's own (one with a password that needs escaping,
// one on a unix socket), and against redis-py itself (python3-redis, installed with the Redis part).
#include "redis_test_support.hpp"

#include <nlohmann/json.hpp>

#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

extern char** environ;

using Catch::Matchers::Contains;
using beacon_test::eventually;
using beacon_test::listener_for;
using beacon_test::numbered;
using beacon_test::redis_server;
using beacon_test::shell;
using beacon_test::url_error;
using namespace std::chrono_literals;

namespace {

using beacon::redis::detail::parse_redis_url;
using beacon::redis::detail::redis_connection;

// The password of the servers below, and its escaped form for a URL.
const std::string password = "p@ss%w/:x";
const std::string escaped = "p%40ss%25w%2F%3Ax";

// A redis-server of the test's own listening only on a unix socket (port 0), in a temporary directory.
class unix_redis_server {
public:
    unix_redis_server() {
        char dir[] = "/tmp/beacon-redis-XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        std::vector<std::string> args{"redis-server", "--port", "0", "--unixsocket", path(), "--unixsocketperm", "700",
                                      "--dir", dir_, "--save", "", "--appendonly", "no", "--logfile", dir_ + "/redis.log",
                                      "--daemonize", "no"};
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
            throw std::runtime_error("cannot start redis-server");
        }
        const bool up = eventually([&] {
            try {
                redis_connection probe(parse_redis_url(url()), 1000ms);
                return probe.command({"PING"})->type == REDIS_REPLY_STATUS;
            } catch (const beacon::redis::redis_error&) {
                return false;
            }
        });
        if (!up) throw std::runtime_error("redis-server did not come up on " + path());
    }
    unix_redis_server(const unix_redis_server&) = delete;
    unix_redis_server& operator=(const unix_redis_server&) = delete;
    ~unix_redis_server() {
        ::kill(pid_, SIGTERM);
        ::waitpid(pid_, nullptr, 0);
        std::filesystem::remove_all(dir_);
    }
    std::string path() const { return dir_ + "/redis.sock"; }
    std::string url() const { return "unix://" + path(); }

private:
    std::string dir_;
    pid_t pid_ = -1;
};

// `text` quoted for sh.
std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// A python3 that has redis-py (python3-redis), or "" when there is none.
std::string python_with_redis() {
    for (const std::string python : {"python3", "/usr/bin/python3"}) {
        if (shell(python + " -c 'import redis' >/dev/null 2>&1 && echo yes") == "yes\n") return python;
    }
    return {};
}

// What redis-py's parse_url makes of `url`: its keyword arguments as JSON, or {"error": ...}.
nlohmann::json redis_py_parse(const std::string& python, const std::string& url) {
    const std::string script =
        "import json, sys\n"
        "from redis.connection import parse_url\n"
        "try:\n"
        "    k = parse_url(sys.argv[1]); k.pop('connection_class', None); print(json.dumps(k))\n"
        "except Exception as e:\n"
        "    print(json.dumps({'error': str(e)}))\n";
    return nlohmann::json::parse(shell(python + " -c " + quoted(script) + " " + quoted(url)));
}

}  // namespace

TEST_CASE("redis URLs decode their percent-escapes in user, password, host and path", "[redis][url]") {
    auto ep = parse_redis_url("redis://:p%40ss%25w@host:6379/0");
    CHECK(ep.password == "p@ss%w");
    CHECK(ep.user.empty());
    CHECK(ep.host == "host");
    CHECK(ep.port == 6379);
    CHECK(ep.db == 0);
    CHECK(ep.url == "redis://***@host:6379/0");

    ep = parse_redis_url("redis://us%3Aer:" + escaped + "@my%2Dhost:7000/%32");
    CHECK(ep.user == "us:er");
    CHECK(ep.password == password);
    CHECK(ep.host == "my-host");
    CHECK(ep.port == 7000);
    CHECK(ep.db == 2);
    CHECK(ep.socket_path.empty());
    CHECK_FALSE(ep.socket_timeout);
    CHECK_FALSE(ep.connect_timeout);

    // An '@' in a password need not be escaped (the last '@' ends the user info), as in redis-py.
    ep = parse_redis_url("redis://bob:a@b@[::1]");
    CHECK(ep.user == "bob");
    CHECK(ep.password == "a@b");
    CHECK(ep.host == "::1");
    CHECK(ep.url == "redis://***@[::1]");
    CHECK(parse_redis_url("REDIS://Cache:6390").host == "Cache");  // the scheme in any case
    CHECK(parse_redis_url("redis://alice@h").user == "alice");
}

TEST_CASE("redis URL query options: db, the timeouts, username and password", "[redis][url]") {
    auto ep = parse_redis_url("redis://h?db=3&socket_timeout=0.5&socket_connect_timeout=2");
    CHECK(ep.db == 3);
    CHECK(ep.socket_timeout == 500ms);
    CHECK(ep.connect_timeout == 2000ms);
    CHECK(ep.url == "redis://h?db=3&socket_timeout=0.5&socket_connect_timeout=2");
    CHECK(parse_redis_url("redis://h?socket_timeout=.25").socket_timeout == 250ms);
    CHECK(parse_redis_url("redis://h?socket_timeout=0.0001").socket_timeout == 1ms);  // rounded up
    CHECK(parse_redis_url("redis://h?socket_timeout=86400").socket_timeout == 86400000ms);
    // As redis-py: a db in the query wins over the path's.
    CHECK(parse_redis_url("redis://h/1?db=2").db == 2);
    CHECK(parse_redis_url("redis://h/1?").db == 1);
    CHECK(parse_redis_url("redis://h/?&db=4&").db == 4);

    // A query password is read as redis-py reads it ('+' a space), and never shown.
    ep = parse_redis_url("redis://h?password=s3%2Bcr+et&username=bob");
    CHECK(ep.password == "s3+cr et");
    CHECK(ep.user == "bob");
    CHECK(ep.url == "redis://h?password=***&username=***");
    // Decoded twice, as redis-py does (parse_qs, then unquote), the second time leniently.
    CHECK(parse_redis_url("redis://h?password=a%2541%25zz").password == "aA%zz");
    CHECK(parse_redis_url("redis://h?db=%2531").db == 1);
    // The user info wins over the query, as in redis-py.
    ep = parse_redis_url("redis://alice:pw@h?password=other&username=eve");
    CHECK(ep.user == "alice");
    CHECK(ep.password == "pw");

    // The connection's timeouts: socket_timeout replaces the I/O timeout, socket_connect_timeout bounds connecting.
    CHECK(redis_connection(parse_redis_url("redis://h?socket_timeout=0.25"), 2000ms).io_timeout() == 250ms);
    CHECK(redis_connection(parse_redis_url("redis://h?socket_connect_timeout=0.25"), 2000ms).io_timeout() == 2000ms);
    beacon::signal sink("core", "sink");
    beacon::redis::consumer_options options;
    options.url = "redis://127.0.0.1:1?socket_timeout=0.3";
    CHECK(beacon::redis::consumer(sink, options).options().timeout == 300ms);
}

TEST_CASE("unix:// URLs name a socket path", "[redis][url]") {
    auto ep = parse_redis_url("unix:///path/to/redis.sock?db=1");
    CHECK(ep.socket_path == "/path/to/redis.sock");
    CHECK(ep.host.empty());
    CHECK(ep.db == 1);
    ep = parse_redis_url("unix://user:" + escaped + "@/run/redis%20x.sock?socket_timeout=1.5");
    CHECK(ep.socket_path == "/run/redis x.sock");
    CHECK(ep.user == "user");
    CHECK(ep.password == password);
    CHECK(ep.socket_timeout == 1500ms);
    CHECK(ep.url == "unix://***@/run/redis%20x.sock?socket_timeout=1.5");
}

TEST_CASE("every refused redis URL names the URL (masked) and what is wrong", "[redis][url]") {
    const auto expect = [](const std::string& url, const std::string& what) {
        CAPTURE(url);
        const std::string message = url_error(url);
        CHECK_THAT(message, Contains("[beacon.config_error] /url: url \"") && Contains(what));
        CHECK_THAT(message, !Contains("S3CRET"));
    };
    expect("redis://:p%zz@h", "\": bad percent-escape in the password (expected % and two hex digits");
    expect("redis://:S3CRET%4@h", "bad percent-escape in the password");
    expect("redis://a%g1:S3CRET@h", "bad percent-escape in the user name");
    expect("redis://h%2", "bad percent-escape in the host");
    expect("redis://h/%x1", "bad percent-escape in the path");
    expect("unix:///tmp/%", "bad percent-escape in the socket path");
    expect("redis://h?password=S3CRET%zz", "bad percent-escape in the value of URL option password");
    expect("redis://h?foo=1",
           "unknown URL option \"foo\" (accepted: db, socket_timeout, socket_connect_timeout, username, password)");
    expect("redis://h?ssl_cert_reqs=none", "unknown URL option \"ssl_cert_reqs\"");
    expect("redis://h?db", "URL option db has no value");
    expect("redis://h?db=", "URL option db has no value");
    expect("redis://h?db=1&db=2", "URL option db given twice");
    expect("redis://h?db=x", "bad value for URL option db \"x\" (expected a whole number in 0..1073741824)");
    expect("redis://h?socket_timeout=0", "bad value \"0\" for URL option socket_timeout (expected seconds from 0.001 to 86400");
    expect("redis://h?socket_timeout=-1", "bad value \"-1\" for URL option socket_timeout");
    expect("redis://h?socket_connect_timeout=1e3", "bad value \"1e3\" for URL option socket_connect_timeout");
    expect("redis://h?socket_timeout=86400.001", "for URL option socket_timeout");
    expect("redis://h?socket_timeout=nan", "for URL option socket_timeout");
    // Found by the URL fuzzer: a long number of seconds overflowed while being read.
    expect("redis://h?socket_timeout=66666666666666666666666", "for URL option socket_timeout");
    expect("redis://h?socket_timeout=000000000000000000001.5x", "for URL option socket_timeout");
    CHECK(parse_redis_url("redis://h?socket_timeout=0000000000000000000001.5000000001").socket_timeout == 1501ms);
    expect("rediss://:S3CRET@h:6380", "rediss:// (TLS) is not supported: this build's hiredis (Debian's 0.14.1) has no TLS");
    expect("rediss://h", "stunnel");
    expect("http://h", "unknown scheme (expected redis://[[user]:password@]host[:port][/db][?option=value&...] or unix://");
    expect("redis:/h", "unknown scheme");
    expect("redis://h:0", "bad port \"0\" (expected a whole number in 1..65535)");
    expect("redis://h/x", "bad database number \"x\"");
    expect("redis://h/1/2", "bad database number \"1/2\"");
    expect("redis://:S3CRET@:6379", "missing host");
    expect("redis://h x", "bad host \"h x\"");
    expect("redis://h%00", "bad host \"h\\x00\"");
    expect("redis://::1", "bad host");
    expect("redis://h#frag", "a fragment ('#') is not accepted");
    expect("redis://:S3/CRET@h", "'/', '?' or '#' before the last '@': percent-encode them");
    expect("redis://h/0?password=S3CRET@x", "'/', '?' or '#' before the last '@'");
    expect("unix://host/tmp/r.sock", "a unix:// URL has no host (expected unix:///path/to/socket)");
    expect("unix://", "missing socket path");
    expect("unix://" + std::string(108, 'p'), "a unix:// URL has no host");
    expect("unix:///" + std::string(107, 'p'), "socket path longer than 107 bytes");
    expect("unix:///tmp/a%00b", "the socket path holds a NUL byte");
    CHECK(url_error("unix:///" + std::string(106, 'p')).empty());

    // Exact messages: the display form keeps the query's db and timeouts, and masks the rest.
    CHECK(url_error("redis://:S3CRET@h?foo=S3CRET&db=1") ==
          "[beacon.config_error] /url: url \"redis://***@h?foo=***&db=1\": unknown URL option \"foo\" "
          "(accepted: db, socket_timeout, socket_connect_timeout, username, password)");
    CHECK(url_error("redis://h?password=S3CRET@x&db=1") ==
          "[beacon.config_error] /url: url \"redis://***@***&db=1\": '/', '?' or '#' before the last '@': percent-encode "
          "them in a user name or password (%2F, %3F, %23), and an '@' after the host (%40)");
}

TEST_CASE("a password that needs escaping reaches a real server through its escaped URL", "[redis][url]") {
    redis_server server;
    server.command({"CONFIG", "SET", "requirepass", password});
    const std::string at = "@127.0.0.1:" + std::to_string(server.port());

    // The escaped URL delivers, to the database it names.
    listener_for("redis://:" + escaped + at + "/2").forward(numbered(1));
    listener_for("redis://" + at.substr(1) + "/?db=2&password=" + escaped + "&socket_timeout=2").forward(numbered(2));
    redis_connection db2(parse_redis_url("redis://default:" + escaped + at + "?db=2"), 2000ms);
    CHECK(db2.command({"LLEN", "beacon.events"})->integer == 2);

    // The unescaped URL is refused before connecting; a wrong password fails at AUTH. Neither shows it.
    CHECK_THROWS_WITH(listener_for("redis://:" + password + at), Contains("[beacon.config_error] /url") && !Contains("ss%w"));
    CHECK_THROWS_WITH(listener_for("redis://:p%40ss%25w" + at).forward(numbered(3)),
                      Contains("[beacon.redis_error] redis://***" + at) && Contains("AUTH") && !Contains("p@ss") &&
                          !Contains("p%40ss"));
    CHECK_THROWS_WITH(listener_for("redis://" + at.substr(1) + "?password=wr0ngpw").forward(numbered(3)),
                      Contains("[beacon.redis_error] redis://127.0.0.1:") && Contains("password=***") && !Contains("wr0ngpw"));

    // A user name alone authenticates as that user (AUTH user ""), as redis-py does: here a nopass ACL user.
    server.command({"ACL", "SETUSER", "alice", "on", "nopass", "~*", "+@all"});
    auto as_alice = listener_for("redis://alice@127.0.0.1:" + std::to_string(server.port()) + "/2");
    as_alice.forward(numbered(4));
    CHECK(db2.command({"LLEN", "beacon.events"})->integer == 3);
    CHECK_THAT(std::string(db2.command({"CLIENT", "LIST"})->str), Contains("user=alice"));
}

TEST_CASE("a unix:// URL reaches a redis-server on a unix socket", "[redis][url]") {
    unix_redis_server server;
    listener_for(server.url() + "?db=1").forward(numbered(1));
    redis_connection db1(parse_redis_url(server.url() + "?db=1"), 2000ms);
    CHECK(db1.command({"LLEN", "beacon.events"})->integer == 1);
    redis_connection db0(parse_redis_url(server.url()), 2000ms);
    CHECK(db0.command({"LLEN", "beacon.events"})->integer == 0);

    // With a password, and a consumer that pops what the forwarder pushed.
    db0.command({"CONFIG", "SET", "requirepass", password});
    const std::string secured = "unix://:" + escaped + "@" + server.path() + "?socket_connect_timeout=0.5";
    listener_for(secured).forward(numbered(7));
    beacon_test::worker_side got;
    got.start(beacon_test::quick(secured));
    CHECK(eventually([&] { return got.event_count() == 1; }));
    got.stop();
    CHECK(got.numbers() == std::vector<int>{7});
    CHECK_THROWS_WITH(listener_for(server.url()).forward(numbered(8)),
                      Contains("[beacon.redis_error] unix://") && Contains("NOAUTH"));
}

TEST_CASE("redis-py reads every URL beacon accepts alike, and reaches the same servers", "[redis][url][python]") {
    const std::string python = python_with_redis();
    // scripts/deps.sh installs python3-redis with the Redis part: its absence is a failure, not a skip.
    REQUIRE_FALSE(python.empty());
    const std::vector<std::string> urls{
        "redis://:p%40ss%25w@host:6379/0",
        "redis://us%3Aer:" + escaped + "@my%2Dhost:7000/%32",
        "redis://bob:a@b@[::1]",
        "redis://alice@h",
        "redis://h?db=3&socket_timeout=0.5&socket_connect_timeout=2",
        "redis://h/1?db=2",
        "redis://h?password=s3%2Bcr+et&username=bob",
        "redis://alice:pw@h?password=other&username=eve",
        "redis://h?socket_timeout=.25",
        "redis://h?password=a%2541%25zz&db=%2531",
        "unix:///path/to/redis.sock?db=1",
        "unix://user:" + escaped + "@/run/redis%20x.sock?socket_timeout=1.5",
    };
    for (const auto& url : urls) {
        CAPTURE(url);
        const auto ep = parse_redis_url(url);
        const auto py = redis_py_parse(python, url);
        REQUIRE_FALSE(py.contains("error"));
        CHECK(py.value("host", std::string()) == ep.host);
        CHECK(py.value("path", std::string()) == ep.socket_path);
        if (ep.socket_path.empty()) CHECK(py.value("port", 6379) == ep.port);
        CHECK(py.value("db", 0) == ep.db);
        CHECK(py.value("username", std::string()) == ep.user);
        CHECK(py.value("password", std::string()) == ep.password);
        CHECK(py.value("socket_timeout", 0.0) == (ep.socket_timeout ? static_cast<double>(ep.socket_timeout->count()) / 1000 : 0.0));
        CHECK(py.value("socket_connect_timeout", 0.0) ==
              (ep.connect_timeout ? static_cast<double>(ep.connect_timeout->count()) / 1000 : 0.0));
    }

    // Live: the escaped URLs beacon uses log redis-py in too, over TCP and a unix socket.
    redis_server tcp;
    tcp.command({"CONFIG", "SET", "requirepass", password});
    unix_redis_server local;
    redis_connection(parse_redis_url(local.url()), 2000ms).command({"CONFIG", "SET", "requirepass", password});
    const std::vector<std::string> live{"redis://:" + escaped + "@127.0.0.1:" + std::to_string(tcp.port()) + "/1?socket_timeout=2",
                                        "unix://:" + escaped + "@" + local.path() + "?db=1"};
    for (const auto& url : live) {
        CAPTURE(url);
        listener_for(url).forward(numbered(1));
        const std::string script = "import redis, sys\nr = redis.from_url(sys.argv[1])\nprint(r.ping(), r.llen('beacon.events'))\n";
        CHECK(shell(python + " -c " + quoted(script) + " " + quoted(url) + " 2>&1") == "True 1\n");
    }
}
