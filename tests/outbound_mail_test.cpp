#include <beacon/outbound/mail.hpp>

#include <beacon/hub.hpp>
#include <beacon/outbound/courier.hpp>

#include "eventually.hpp"
#include "outbound_test_support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using beacon_test::child_process;

// tests/smtp_server.py (aiosmtpd) with STARTTLS and AUTH alice/wonderland, on `port` (0: its own).
std::unique_ptr<child_process> smtp_server(const beacon_test::test_ca& ca, int port = 0) {
    return std::make_unique<child_process>(std::vector<std::string>{"/usr/bin/python3", BEACON_TEST_SOURCE_DIR "/smtp_server.py",
                                                                    std::to_string(port), ca.file("server.pem"),
                                                                    ca.file("server.key"), "alice", "wonderland"});
}

beacon::outbound::mail local_mail(const beacon_test::test_ca& ca, int port) {
    beacon::outbound::mail m("smtp://127.0.0.1:" + std::to_string(port), "beacon@example.org");
    m.allow_private = true;
    m.ca_file = ca.file("ca.pem");
    m.username = "alice";
    m.password = "wonderland";
    m.retry.first_delay = 100ms;
    m.retry.max_attempts = 3;
    m.timeout = 5s;
    return m;
}

beacon::event change(const std::string& title) {
    beacon::event e("blog-api");
    e.action = beacon::action::update;
    e.uri = "/buckets/blog/collections/articles/records/a1";
    e.user_id = "basicauth:alice";
    e.set("title", title);
    e.stamp();
    return e;
}

// What Python's e-mail parser (not beacon's code) reads in `message`: the subject, the
// recipients and the decoded text, one per line.
std::string parsed_by_python(const std::string& message) {
    char path[] = "/tmp/beacon-mail-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, message.data(), message.size()) == static_cast<ssize_t>(message.size()));
    ::close(fd);
    const std::string command = std::string("/usr/bin/python3 -c \"import email, email.policy, sys; "
                                            "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default); "
                                            "print(m['subject']); print(m['to']); print(m['message-id']); print(m.get_content(), end='')\" ") +
                                path;
    std::FILE* p = ::popen(command.c_str(), "r");
    std::string out;
    char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, p)) > 0;) out.append(buffer, n);
    ::pclose(p);
    std::remove(path);
    return out;
}

}  // namespace

TEST_CASE("a hub's events are mailed over STARTTLS with AUTH, from the templates, to the recipients", "[mail]") {
    beacon_test::test_ca ca;
    auto server = smtp_server(ca);
    const int port = server->port();
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options;
    options.on_failure = failures.handler();
    beacon::outbound::courier courier(options);
    auto m = local_mail(ca, port);
    m.to = {"editors@example.org"};
    m.to_data = "notify";
    m.subject = beacon::outbound::message_template::parse("{{action}}: {{ data.title }}");
    m.body = beacon::outbound::message_template::parse("{{uri}} was changed by {{user_id}}.\nTitle: {{data.title}}\n");
    beacon::hub hub("mail");
    auto c = courier.add(m);
    hub.register_consumer(c);
    auto e = change("Café ☕ naïve — 😀 日本語, a title long enough to need two encoded words");
    e.set("notify", {"bob@example.org", "carol@example.org"});
    hub.send(e);
    REQUIRE(courier.wait_idle(20s));
    INFO(failures.all());
    REQUIRE(c->stats().delivered == 1);

    const auto got = nlohmann::json::parse(server->read_line());
    CHECK(got.at("from") == "beacon@example.org");
    CHECK(got.at("to") == nlohmann::json{"editors@example.org", "bob@example.org", "carol@example.org"});
    CHECK(parsed_by_python(got.at("data").get<std::string>()) ==
          "update: Café ☕ naïve — 😀 日本語, a title long enough to need two encoded words\n"
          "editors@example.org, bob@example.org, carol@example.org\n"
          "<" + e.id.to_string() + "@beacon>\n"
          "/buckets/blog/collections/articles/records/a1 was changed by basicauth:alice.\n"
          "Title: Café ☕ naïve — 😀 日本語, a title long enough to need two encoded words\n");
    CHECK(failures.all().empty());
}

TEST_CASE("the SMTP server down, then up: the message is retried and delivered once", "[mail][faults]") {
    beacon_test::test_ca ca;
    auto server = smtp_server(ca);
    const int port = server->port();
    server.reset();  // down
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options;
    options.on_failure = failures.handler();
    beacon::outbound::courier courier(options);
    auto m = local_mail(ca, port);
    m.to = {"editors@example.org"};
    m.retry.max_attempts = 30;
    m.retry.first_delay = 100ms;
    m.retry.max_delay = 300ms;
    auto c = courier.add(m);
    c->consume(change("x"));
    REQUIRE(beacon_test::eventually([&] { return c->stats().network_errors >= 2; }));
    server = smtp_server(ca, port);  // up again, on the same port
    REQUIRE(server->port() == port);
    REQUIRE(courier.wait_idle(20s));
    const auto s = c->stats();
    CHECK(s.delivered == 1);
    CHECK(s.given_up == 0);
    CHECK(s.attempts == s.network_errors + 1);
    CHECK(nlohmann::json::parse(server->read_line()).at("to") == nlohmann::json{"editors@example.org"});
    CHECK(failures.all().empty());
}

TEST_CASE("a refused login and a refused recipient are retried, given up and reported, no password shown", "[mail][faults]") {
    beacon_test::test_ca ca;
    auto server = smtp_server(ca);
    const int port = server->port();
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options;
    options.on_failure = failures.handler();
    beacon::outbound::courier courier(options);
    auto wrong = local_mail(ca, port);
    wrong.to = {"editors@example.org"};
    wrong.password = "not-the-password";
    wrong.retry.max_attempts = 2;
    auto full = local_mail(ca, port);
    full.to = {"someone@full.example"};
    full.retry.max_attempts = 2;
    auto w = courier.add(wrong);
    auto f = courier.add(full);
    w->consume(change("x"));
    f->consume(change("y"));
    REQUIRE(courier.wait_idle(20s));
    CHECK(w->stats().rejected == 2);
    CHECK(w->stats().given_up == 1);
    CHECK(f->stats().rejected == 2);
    CHECK(f->stats().given_up == 1);
    const auto text = failures.all();
    CHECK_THAT(text, Catch::Contains("smtp://127.0.0.1:" + std::to_string(port) + "/ failed: [beacon.transport_error] event"));
    CHECK_THAT(text, Catch::Contains("Login denied (SMTP 535)"));
    CHECK_THAT(text, Catch::Contains("(SMTP 552)"));
    CHECK_THAT(text, !Catch::Contains("not-the-password") && !Catch::Contains("wonderland"));
}

TEST_CASE("mail configuration: bad URLs, addresses and missing recipients are config errors naming the key", "[mail][config]") {
    beacon::outbound::courier courier;
    const auto refuses = [&](beacon::outbound::mail m, const std::string& key, const std::string& says) {
        try {
            courier.add(std::move(m));
            FAIL("accepted; wanted a config_error at " + key);
        } catch (const beacon::config_error& bad) {
            CHECK(bad.key() == key);
            CHECK_THAT(bad.what(), Catch::Contains(says));
        }
    };
    beacon::outbound::mail good("smtps://mail.example.org", "beacon@example.org");
    good.to = {"editors@example.org"};
    CHECK_NOTHROW(courier.add(good));
    auto m = good;
    m.url = "https://mail.example.org";
    refuses(m, "/url", "unknown scheme \"https\" (the URL is smtp or smtps)");
    m = good;
    m.url = "smtp://10.0.0.5:25";
    refuses(m, "/url", "the host is a private address");
    m = good;
    m.from = "beacon";
    refuses(m, "/from", "an address has one \"@\" with a name on each side");
    m = good;
    m.to = {"editors@example.org", "eve@example.org\r\nBcc: all"};
    refuses(m, "/to/1", "no space, control character");
    m = good;
    m.to.clear();
    refuses(m, "/to", "a mail endpoint needs recipients");
}

TEST_CASE("an event naming a bad recipient is refused and reported, not mailed", "[mail][config]") {
    beacon_test::failure_log failures;
    beacon::outbound::courier_options options;
    options.on_failure = failures.handler();
    beacon::outbound::courier courier(options);
    beacon::outbound::mail m("smtps://mail.example.org", "beacon@example.org");
    m.to_data = "notify";
    auto c = courier.add(m);
    auto e = change("x");
    e.set("notify", "eve@example.org>\r\nBcc: all");
    c->consume(e);
    auto none = change("y");
    c->consume(none);
    CHECK(c->stats().refused == 2);
    CHECK(c->stats().queued == 0);
    CHECK_THAT(failures.all(), Catch::Contains("[beacon.encode_error] /data/notify: an address holds no space"));
    CHECK_THAT(failures.all(), Catch::Contains("an e-mail without a recipient"));
}

TEST_CASE("a subject's line breaks cannot add headers", "[mail]") {
    const std::string message = beacon::outbound::detail::mail_message(
        "a@example.org", {"b@example.org"}, "hello\r\nBcc: all@example.org", "body", "0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    CHECK_THAT(message, Catch::Contains("\r\nSubject: hello  Bcc: all@example.org\r\n"));
    CHECK_THAT(message, !Catch::Contains("\r\nBcc:"));
}
