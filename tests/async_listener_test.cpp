// Asynchronous delivery of configured listeners: the "async" setting in the nested and the flat
// form, after commit, the loader's error handler and handles, and bad settings as config_errors.
#include <beacon/async.hpp>
#include <beacon/listener.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using namespace std::chrono_literals;

namespace {

/// A listener type "mail" recording the uris it gets and the threads it runs on; throws on "/fail".
struct mail_log {
    std::mutex mutex;
    std::vector<std::string> uris;
    std::set<std::thread::id> threads;
    void add_type(beacon::listener_types& types) {
        types.add("mail", [this](const beacon::listener_context&) -> beacon::listener {
            return [this](const beacon::event& e) {
                if (e.uri == "/fail") throw std::runtime_error("smtp down");
                std::lock_guard lock(mutex);
                uris.push_back(e.uri);
                threads.insert(std::this_thread::get_id());
            };
        });
    }
};

beacon::event change(std::string uri, std::string sender = "alice") {
    beacon::event e(std::move(sender));
    e.action = beacon::action::create;
    e.resource_name = "bucket";
    e.uri = std::move(uri);
    return e;
}

}  // namespace

TEST_CASE("configured listeners take an async option, nested and flat", "[async][listener]") {
    beacon::registry reg;
    auto& changed = reg.core().signal("resource_changed");
    beacon::listener_types types;
    mail_log mail;
    mail.add_type(types);
    const auto settings = GENERATE(as<nlohmann::json>{},
        nlohmann::json::parse(R"({"event_listeners": {"mailer": {"use": "mail",
            "async": {"workers": 2, "queue": 100, "on_full": "drop_oldest", "block_timeout": 5, "order_by": "uri",
                      "shutdown_timeout": 250, "spin": 0}}}})"),
        nlohmann::json::parse(R"({"event_listeners": "mailer", "event_listeners.mailer.use": "mail",
            "event_listeners.mailer.async.workers": "2", "event_listeners.mailer.async.queue": "100",
            "event_listeners.mailer.async.on_full": "drop_oldest", "event_listeners.mailer.async.block_timeout": 5,
            "event_listeners.mailer.async.shutdown_timeout": "250", "event_listeners.mailer.async.spin": "0",
            "event_listeners.mailer.async.order_by": "uri"})"),
        nlohmann::json::parse(R"({"event_listeners": "mailer", "event_listeners.mailer.use": "mail",
            "event_listeners.mailer.async": {"workers": 2, "queue": 100, "on_full": "drop_oldest", "block_timeout": 5,
                                           "shutdown_timeout": 250, "spin": 0},
            "event_listeners.mailer.async.order_by": "uri"})"));
    auto listeners = beacon::load_listeners(reg, settings, types);
    auto* async = listeners.async("mailer");
    REQUIRE(async != nullptr);
    CHECK(async->options().workers == 2);
    CHECK(async->options().queue == 100);
    CHECK(async->options().on_full == beacon::full_policy::drop_oldest);
    CHECK(async->options().block_timeout == 5ms);
    CHECK(async->options().shutdown_timeout == 250ms);
    CHECK(async->options().spin == 0us);
    CHECK(async->options().name == "mailer");
    for (int i = 0; i < 20; ++i) changed.send(change("/buckets/b" + std::to_string(i % 2), "user-" + std::to_string(i)));
    REQUIRE(listeners.drain(std::chrono::steady_clock::now() + 20s));
    CHECK(async->stats().delivered == 20);
    std::lock_guard lock(mail.mutex);
    CHECK(mail.uris.size() == 20);
    CHECK(mail.threads.count(std::this_thread::get_id()) == 0);
    CHECK(listeners.async("nobody") == nullptr);
}

TEST_CASE("the factory does not see the async setting, which the loader takes", "[async][listener]") {
    beacon::registry reg;
    beacon::listener_types types;
    std::vector<nlohmann::json> seen;
    types.add("strict", [&](const beacon::listener_context& c) -> beacon::listener {
        seen.push_back(c.options);
        return [](const beacon::event&) {};
    });
    auto listeners = beacon::load_listeners(reg, nlohmann::json::parse(R"({"event_listeners": "a b",
        "event_listeners.a.use": "strict", "event_listeners.a.async.workers": "2", "event_listeners.a.url": "x",
        "event_listeners.b.use": "strict", "event_listeners.b.async": {"queue": 5}})"), types);
    CHECK(seen == std::vector<nlohmann::json>{{{"use", "strict"}, {"url", "x"}}, {{"use", "strict"}}});
    CHECK(listeners.async("a")->options().workers == 2);
    CHECK(listeners.async("b")->options().queue == 5);
}

TEST_CASE("\"async\": true takes the defaults, false or absent keeps the listener synchronous", "[async][listener]") {
    beacon::registry reg;
    beacon::listener_types types;
    mail_log mail;
    mail.add_type(types);
    auto listeners = beacon::load_listeners(reg, nlohmann::json::parse(R"({"event_listeners": {
        "a": {"use": "mail", "async": true}, "b": {"use": "mail", "async": false}, "c": {"use": "mail"}}})"), types);
    REQUIRE(listeners.async("a") != nullptr);
    CHECK(listeners.async("a")->options().workers == 1);
    CHECK(listeners.async("a")->options().queue == 10000);
    CHECK(listeners.async("a")->options().on_full == beacon::full_policy::block);
    CHECK(listeners.async("b") == nullptr);
    CHECK(listeners.async("c") == nullptr);
    reg.core().signal("resource_changed").send(change("/buckets/x"));
    {
        std::lock_guard lock(mail.mutex);
        CHECK(mail.uris.size() >= 2);  // b and c, synchronously
    }
    REQUIRE(listeners.drain(std::chrono::steady_clock::now() + 20s));
    std::lock_guard lock(mail.mutex);
    CHECK(mail.uris.size() == 3);
}

TEST_CASE("a configured async listener's failures go to the loader's on_failure as part::listener; unloading drops and joins", "[async][listener][failure]") {
    beacon::registry reg;
    beacon::listener_types types;
    mail_log mail;
    mail.add_type(types);
    std::promise<std::string> failure;
    auto listeners = beacon::load_listeners(
        reg, nlohmann::json::parse(R"({"event_listeners": {"mailer": {"use": "mail", "async": {"workers": 1}}}})"), types,
        [&](const beacon::failure& f) {
            failure.set_value(std::string(beacon::to_string(f.part)) + " / " + f.where + " / " + f.receiver + " / " + f.ev->uri + ": " + f.message());
        });
    auto& changed = reg.core().signal("resource_changed");
    changed.send(change("/fail"));
    CHECK(failure.get_future().get() == "listener / mailer / listener type \"mail\" / /fail: smtp down");
    REQUIRE(listeners.drain(std::chrono::steady_clock::now() + 20s));
    CHECK(listeners.async("mailer")->stats().failed == 1);
    REQUIRE(listeners.unload("mailer"));  // destroys its async_receiver: nothing queued is left
    CHECK(listeners.async("mailer") == nullptr);
    changed.send(change("/buckets/after-unload"));
    std::lock_guard lock(mail.mutex);
    CHECK(mail.uris.empty());
}

TEST_CASE("an async after_commit listener gets only committed events, in commit order", "[async][listener][unit_of_work]") {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    beacon::listener_types types;
    mail_log mail;
    mail.add_type(types);
    auto listeners = beacon::load_listeners(reg, nlohmann::json::parse(R"({"event_listeners": "mailer",
        "event_listeners.mailer.use": "mail", "event_listeners.mailer.resources": "bucket",
        "event_listeners.mailer.async.after_commit": "true"})"), types);
    CHECK(reg.core().signal("resource_changed").receiver_count() == 0);
    CHECK(reg.core().signal("after_resource_changed").receiver_count() == 1);
    for (int i = 0; i < 30; ++i) {
        beacon::unit_of_work uow(notifier);
        notifier.notify(change("/buckets/b" + std::to_string(i)));
        if (i % 3 == 0) uow.rollback();
        else uow.commit();
    }
    REQUIRE(listeners.drain(std::chrono::steady_clock::now() + 20s));
    std::vector<std::string> expected;
    for (int i = 0; i < 30; ++i) {
        if (i % 3 != 0) expected.push_back("/buckets/b" + std::to_string(i));
    }
    std::lock_guard lock(mail.mutex);
    CHECK(mail.uris == expected);
}

TEST_CASE("bad async settings are config_errors naming the key; nothing is connected", "[async][listener]") {
    beacon::registry reg;
    beacon::listener_types types;
    mail_log mail;
    mail.add_type(types);
    struct bad {
        const char* settings;
        const char* key;
        const char* message;
    };
    const auto b = GENERATE(values<bad>({
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"workers": 0}}}})", "/event_listeners/m/async/workers",
         "expected an integer from 1 to 256, got 0"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"workers": "two"}}}})", "/event_listeners/m/async/workers",
         "expected an integer from 1 to 256, got \"two\""},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"workers": 2.5}}}})", "/event_listeners/m/async/workers",
         "expected an integer"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"queue": 20000000}}}})", "/event_listeners/m/async/queue",
         "expected an integer from 1 to 10000000, got 20000000"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"queue": -1}}}})", "/event_listeners/m/async/queue",
         "expected an integer from 1 to 10000000, got -1"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"on_full": "wait"}}}})", "/event_listeners/m/async/on_full",
         "expected one of block, drop_newest, drop_oldest, throw_error, got \"wait\""},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"on_full": "throw"}}}})", "/event_listeners/m/async/on_full",
         "expected one of block, drop_newest, drop_oldest, throw_error, got \"throw\""},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"order_by": 3}}}})", "/event_listeners/m/async/order_by",
         "expected one of sender, uri, got 3"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"after_commit": "maybe"}}}})",
         "/event_listeners/m/async/after_commit", "expected one of true, false"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"block_timeout": 99999999}}}})",
         "/event_listeners/m/async/block_timeout", "expected an integer from 0 to 3600000"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"shutdown_timeout": 3600001}}}})",
         "/event_listeners/m/async/shutdown_timeout", "expected an integer from 0 to 3600000"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"spin": 10001}}}})", "/event_listeners/m/async/spin",
         "expected an integer from 0 to 10000"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"block_ms": 5}}}})", "/event_listeners/m/async/block_ms",
         "unknown async option \"block_ms\""},
        {R"({"event_listeners": {"m": {"use": "mail", "async": {"wokers": 2}}}})", "/event_listeners/m/async/wokers",
         "unknown async option \"wokers\" (expected workers, queue, on_full, block_timeout, shutdown_timeout, spin, order_by or after_commit)"},
        {R"({"event_listeners": {"m": {"use": "mail", "async": "yes"}}})", "/event_listeners/m/async",
         "expected an object of async options or a boolean, got string"},
        {R"({"event_listeners": "m", "event_listeners.m.use": "mail", "event_listeners.m.async.workers": "-1"})",
         "/event_listeners.m.async.workers", "expected an integer from 1 to 256, got \"-1\""},
        {R"({"event_listeners": "m", "event_listeners.m.use": "mail", "event_listeners.m.async.queue": "1e3"})",
         "/event_listeners.m.async.queue", "expected an integer"},
        {R"({"event_listeners": "m", "event_listeners.m.use": "mail", "event_listeners.m.async.queue": ""})",
         "/event_listeners.m.async.queue", "expected an integer"},
        {R"({"event_listeners": "m", "event_listeners.m.use": "mail", "event_listeners.m.async": {"queue": 5},
             "event_listeners.m.async.queue": "6"})",
         "/event_listeners.m.async.queue", "async option \"queue\" is given twice"},
        {R"({"event_listeners": "m", "event_listeners.m.use": "mail", "event_listeners.m.async": false,
             "event_listeners.m.async.queue": "6"})",
         "/event_listeners.m.async.queue", "an async option is set while \"async\" is false"},
    }));
    CAPTURE(b.settings);
    try {
        beacon::load_listeners(reg, nlohmann::json::parse(b.settings), types);
        FAIL("no config_error");
    } catch (const beacon::config_error& e) {
        CHECK(e.alias() == "m");
        CHECK(e.key() == b.key);
        CHECK_THAT(e.what(), Contains(b.message));
    }
    CHECK(reg.core().signal("resource_changed").receiver_count() == 0);
}
