// Plugins: declared subscriptions (any-sender and sender-bound), load and unload, plugin-defined
// signals in ext, the subscribe-only core view, the core signal catalogue, bad input, and loads
// and unloads from many threads while others send (run under ThreadSanitizer in CI).
#include <beacon/core_signals.hpp>
#include <beacon/plugin.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using Catch::Matchers::Contains;

namespace {

/// A plugin whose table is built by a function the test can change after loading.
struct table_plugin : beacon::plugin {
    using declare_fn = std::function<beacon::subscription_table(beacon::plugin_context&)>;

    table_plugin(std::string name, declare_fn table) : plugin_name(std::move(name)), declare(std::move(table)) {}

    std::string name() const override { return plugin_name; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override { return declare(ctx); }

    std::string plugin_name;
    declare_fn declare;
};

/// CKAN's ExampleISignalPlugin: one receiver for every user_created, one for sender "admin" only.
struct audit_fixture {
    beacon::registry reg;
    beacon::plugin_host host{reg};
    std::vector<std::string> log;

    audit_fixture() {
        beacon::declare_core_signals(reg);
        reg.core().seal();
    }

    std::shared_ptr<table_plugin> audit_plugin() {
        return std::make_shared<table_plugin>("audit", [this](beacon::plugin_context& ctx) {
            return beacon::subscription_table{
                {ctx.core().signal("user_created"),
                 {[this](const beacon::event& e) { log.push_back("any:" + e.sender); },
                  {"admin", [this](const beacon::event& e) { log.push_back("admin-only:" + e.sender); }}}},
            };
        });
    }

    beacon::signal& user_created() { return reg.core().signal("user_created"); }
};

}  // namespace

TEST_CASE_METHOD(audit_fixture, "no receivers without the plugin", "[plugin][subscriptions]") {
    CHECK_FALSE(user_created().has_receivers());
    CHECK(user_created().send("admin", {{"user", "alice"}}) == 0);
    CHECK(host.names().empty());
    CHECK(log.empty());
}

TEST_CASE_METHOD(audit_fixture, "loading connects the declared any-sender and sender-bound receivers",
                 "[plugin][subscriptions][behaviour2]") {
    host.load(audit_plugin());
    CHECK(host.loaded("audit"));
    CHECK(host.names() == std::vector<std::string>{"audit"});
    CHECK(user_created().receiver_count() == 2);
    CHECK(user_created().receiver_count("admin") == 2);
    CHECK(user_created().receiver_count("signup") == 1);
}

TEST_CASE_METHOD(audit_fixture, "a send from sender X reaches the receivers for X and the any-sender ones only",
                 "[plugin][subscriptions][behaviour2]") {
    host.load(audit_plugin());
    CHECK(user_created().send("admin", {{"user", "alice"}}) == 2);
    CHECK(user_created().send("signup", {{"user", "bob"}}) == 1);
    CHECK(log == std::vector<std::string>{"any:admin", "admin-only:admin", "any:signup"});
}

TEST_CASE_METHOD(audit_fixture, "unloading removes the plugin's receivers and leaves the host's alone",
                 "[plugin][unload][behaviour10]") {
    int host_calls = 0;
    beacon::scoped_connection own = user_created().connect([&](const beacon::event&) { ++host_calls; });
    auto audit = audit_plugin();
    host.load(audit);
    CHECK(user_created().receiver_count() == 3);

    CHECK(host.unload("audit") == audit);
    CHECK_FALSE(host.loaded("audit"));
    CHECK(user_created().receiver_count() == 1);
    CHECK(user_created().send("admin") == 1);
    CHECK(host_calls == 1);
    CHECK(log.empty());

    SECTION("and it can be loaded again") {
        host.load(audit);
        CHECK(user_created().send("admin") == 3);
        CHECK(log == std::vector<std::string>{"any:admin", "admin-only:admin"});
    }
}

TEST_CASE_METHOD(audit_fixture, "unload disconnects exactly what was connected, even if the table changed",
                 "[plugin][unload][behaviour10]") {
    int old_calls = 0;
    int new_calls = 0;
    auto p = std::make_shared<table_plugin>("fickle", [&](beacon::plugin_context& ctx) {
        // Connected directly through the context as well as declared in the table.
        ctx.core().signal("failed_login").connect([&](const beacon::event&) { ++old_calls; });
        return beacon::subscription_table{
            {ctx.core().signal("user_created"), {[&](const beacon::event&) { ++old_calls; }}},
            {ctx.core().signal("action_succeeded"),
             {{"package_create", [&](const beacon::event&) { ++old_calls; }}}},
        };
    });
    host.load(p);
    // The plugin now declares something else entirely: unload must not recompute anything.
    p->declare = [&](beacon::plugin_context& ctx) {
        return beacon::subscription_table{{ctx.core().signal("user_logged_in"), {[&](const beacon::event&) { ++new_calls; }}}};
    };
    auto& login = reg.core().signal("user_logged_in");
    beacon::scoped_connection bystander = login.connect([](const beacon::event&) {});

    reg.core().signal("failed_login").send("mallory");
    user_created().send("alice");
    reg.core().signal("action_succeeded").send("package_create");
    CHECK(old_calls == 3);

    host.unload("fickle");
    for (const char* name : {"failed_login", "user_created", "action_succeeded"}) {
        INFO(name);
        CHECK_FALSE(reg.core().signal(name).has_receivers());
    }
    CHECK(login.receiver_count() == 1);
    CHECK(new_calls == 0);
}

TEST_CASE_METHOD(audit_fixture, "loading the same plugin name twice is an error and keeps the first",
                 "[plugin][errors][behaviour11]") {
    host.load(audit_plugin());
    CHECK_THROWS_MATCHES(host.load(audit_plugin()), beacon::plugin_error,
                         Catch::Matchers::Message("[beacon.plugin_error] plugin \"audit\" is already loaded"));
    CHECK(user_created().receiver_count() == 2);
    user_created().send("admin");
    CHECK(log == std::vector<std::string>{"any:admin", "admin-only:admin"});
}

TEST_CASE_METHOD(audit_fixture, "loading a name while it is being loaded is an error", "[plugin][errors][behaviour11]") {
    std::string refused;
    host.load(std::make_shared<table_plugin>("nested", [&](beacon::plugin_context&) {
        try {
            host.load(audit_plugin());  // another name: fine
            host.load(std::make_shared<table_plugin>("nested", [](beacon::plugin_context&) {
                return beacon::subscription_table{};
            }));
        } catch (const beacon::plugin_error& e) {
            refused = e.what();
        }
        return beacon::subscription_table{};
    }));
    CHECK(refused == "[beacon.plugin_error] plugin \"nested\" is already being loaded");
    CHECK(host.names() == std::vector<std::string>{"audit", "nested"});
}

TEST_CASE_METHOD(audit_fixture, "unloading a plugin that is not loaded is an error", "[plugin][errors][behaviour11]") {
    CHECK_THROWS_MATCHES(host.unload("ghost"), beacon::plugin_error,
                         Catch::Matchers::Message("[beacon.plugin_error] plugin \"ghost\" is not loaded"));
    host.load(audit_plugin());
    host.unload("audit");
    CHECK_THROWS_AS(host.unload("audit"), beacon::plugin_error);
}

TEST_CASE_METHOD(audit_fixture, "bad plugin names and null plugins are rejected", "[plugin][errors][behaviour11]") {
    auto empty = [](beacon::plugin_context&) { return beacon::subscription_table{}; };
    CHECK_THROWS_MATCHES(host.load(std::make_shared<table_plugin>("", empty)), beacon::name_error,
                         Catch::Matchers::Message("[beacon.name_error] plugin name is empty"));
    CHECK_THROWS_WITH(host.load(std::make_shared<table_plugin>("my.plugin", empty)),
                      Contains("plugin name \"my.plugin\" has the separator '.' at byte 2"));
    CHECK_THROWS_WITH(host.load(nullptr), Contains("plugin_host::load: the plugin is null"));
    CHECK(host.names().empty());
}

TEST_CASE_METHOD(audit_fixture, "a plugin that fails to load leaves nothing connected", "[plugin][errors][behaviour11]") {
    bool fail = true;
    auto p = std::make_shared<table_plugin>("flaky", [&](beacon::plugin_context& ctx) {
        ctx.core().signal("failed_login").connect([](const beacon::event&) {});
        if (fail) throw std::runtime_error("configuration missing");
        return beacon::subscription_table{{ctx.core().signal("user_created"), {[](const beacon::event&) {}}}};
    });
    CHECK_THROWS_WITH(host.load(p), "configuration missing");
    CHECK_FALSE(reg.core().signal("failed_login").has_receivers());
    CHECK_FALSE(host.loaded("flaky"));

    fail = false;
    host.load(p);
    CHECK(reg.core().signal("failed_login").receiver_count() == 1);
    CHECK(user_created().receiver_count() == 1);
}

TEST_CASE_METHOD(audit_fixture, "an empty receiver in the table is an error naming plugin, signal and entry",
                 "[plugin][errors][behaviour11]") {
    auto p = std::make_shared<table_plugin>("broken", [](beacon::plugin_context& ctx) {
        return beacon::subscription_table{
            {ctx.core().signal("failed_login"), {[](const beacon::event&) {}}},
            {ctx.core().signal("user_created"),
             {[](const beacon::event&) {}, beacon::subscription(std::function<void(const beacon::event&)>{})}},
        };
    });
    CHECK_THROWS_MATCHES(
        host.load(p), beacon::plugin_error,
        Catch::Matchers::Message("[beacon.plugin_error] plugin \"broken\": receiver #1 for signal core/user_created is empty"));
    CHECK_FALSE(reg.core().signal("failed_login").has_receivers());
    CHECK_FALSE(user_created().has_receivers());
    CHECK_FALSE(host.loaded("broken"));
}

TEST_CASE_METHOD(audit_fixture, "a plugin asking for an unknown core signal fails to load", "[plugin][errors][behaviour11]") {
    auto p = std::make_shared<table_plugin>("typo", [](beacon::plugin_context& ctx) {
        return beacon::subscription_table{{ctx.core().signal("user_craeted"), {[](const beacon::event&) {}}}};
    });
    CHECK_THROWS_AS(host.load(p), beacon::unknown_signal_error);
    CHECK_THROWS_WITH(host.load(p), Contains("\"user_craeted\""));
    CHECK_FALSE(host.loaded("typo"));
}

TEST_CASE_METHOD(audit_fixture, "a context kept after unload can no longer connect", "[plugin][errors][unload]") {
    std::optional<beacon::plugin_context> kept;
    host.load(std::make_shared<table_plugin>("keeper", [&](beacon::plugin_context& ctx) {
        kept = ctx;
        return beacon::subscription_table{};
    }));
    kept->core().signal("user_created").connect([](const beacon::event&) {});
    CHECK(user_created().receiver_count() == 1);
    host.unload("keeper");
    CHECK_FALSE(user_created().has_receivers());
    CHECK_THROWS_MATCHES(kept->core().signal("user_created").connect([](const beacon::event&) {}), beacon::plugin_error,
                         Catch::Matchers::Message(
                             "[beacon.plugin_error] plugin \"keeper\" is unloaded: it cannot connect receivers any more"));
    CHECK_FALSE(user_created().has_receivers());
}

TEST_CASE_METHOD(audit_fixture, "destroying the host disconnects every plugin", "[plugin][unload]") {
    {
        beacon::plugin_host scoped(reg);
        scoped.load(audit_plugin());
        CHECK(user_created().receiver_count() == 2);
    }
    CHECK_FALSE(user_created().has_receivers());
}

TEST_CASE_METHOD(audit_fixture, "a plugin unloaded by its own receiver stays alive until the receiver returns",
                 "[plugin][unload]") {
    struct self_unloading : beacon::plugin {
        beacon::plugin_host* host = nullptr;
        std::vector<std::string> seen;
        std::string name() const override { return "self"; }
        beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
            return {{ctx.core().signal("user_logged_out"), {[this](const beacon::event& e) {
                         host->unload("self");  // drops the host's reference to this plugin
                         seen.push_back(e.sender);  // still valid: the send holds the plugin
                     }}}};
        }
    };
    auto p = std::make_shared<self_unloading>();
    p->host = &host;
    std::weak_ptr<self_unloading> watch = p;
    host.load(std::move(p));
    CHECK(reg.core().signal("user_logged_out").send("alice") == 1);
    CHECK(watch.expired());
    CHECK(reg.core().signal("user_logged_out").send("bob") == 0);
}

TEST_CASE("a plugin's signals live in ext under its name", "[plugin][ext]") {
    beacon::registry reg;
    beacon::plugin_host host(reg);
    beacon::signal* defined = nullptr;
    host.load(std::make_shared<table_plugin>("custom", [&](beacon::plugin_context& ctx) {
        defined = &ctx.define("something_happened");
        CHECK(ctx.plugin_name() == "custom");
        CHECK_THROWS_AS(ctx.define(""), beacon::name_error);
        return beacon::subscription_table{};
    }));
    CHECK(beacon::plugin_signal_name("custom", "something_happened") == "custom.something_happened");
    CHECK(defined == reg.ext().find("custom.something_happened"));
    CHECK(defined->namespace_name() == "ext");
    CHECK_FALSE(reg.core().contains("custom.something_happened"));
}

TEST_CASE("another plugin subscribes to a plugin's signal before or after it loads, and gets the same signal",
          "[plugin][ext]") {
    beacon::registry reg;
    beacon::plugin_host host(reg);
    std::vector<std::string> heard;
    const beacon::signal* seen_by_listener = nullptr;
    auto listener = std::make_shared<table_plugin>("ext", [&](beacon::plugin_context& ctx) {
        auto happened = ctx.ext("custom.something_happened");
        seen_by_listener = &happened.get();
        return beacon::subscription_table{
            {happened, {[&](const beacon::event& e) { heard.push_back(e.sender + ":" + e.data.value("what", "")); }}}};
    });
    beacon::signal* defined = nullptr;
    auto custom = std::make_shared<table_plugin>("custom", [&](beacon::plugin_context& ctx) {
        defined = &ctx.define("something_happened");
        return beacon::subscription_table{};
    });

    SECTION("listener first: the signal simply is never sent while custom is absent") {
        host.load(listener);
        CHECK(seen_by_listener->receiver_count() == 1);
        CHECK(heard.empty());
        host.load(custom);
    }
    SECTION("custom first") {
        host.load(custom);
        host.load(listener);
    }
    REQUIRE(defined == seen_by_listener);
    CHECK(defined->send("custom", {{"what", "harvest"}}) == 1);
    CHECK(heard == std::vector<std::string>{"custom:harvest"});

    host.unload("ext");
    CHECK(defined->send("custom", {{"what", "again"}}) == 0);
    CHECK(heard.size() == 1);
}

TEST_CASE("a signal view reads its signal and connects only for its plugin", "[plugin][capability]") {
    beacon::registry reg;
    beacon::plugin_host host(reg);
    auto& started = reg.core().signal("request_started");
    int host_calls = 0;
    beacon::scoped_connection host_receiver = started.connect([&](const beacon::event&) { ++host_calls; });
    host.load(std::make_shared<table_plugin>("reader", [&](beacon::plugin_context& ctx) {
        const auto view = ctx.core().signal("request_started");
        CHECK(&view.get() == &started);
        CHECK(view.get().name() == "request_started");
        CHECK(view.get().namespace_name() == "core");
        CHECK(view.get().receiver_count() == 1);
        CHECK(ctx.core().contains("request_started"));
        CHECK(ctx.core().names() == std::vector<std::string>{"request_started"});
        beacon::connection mine = view.connect("ckan", [](const beacon::event&) {});
        CHECK(view.get().receiver_count("ckan") == 2);
        mine.disconnect();  // a plugin may disconnect what it connected itself
        return beacon::subscription_table{};
    }));
    CHECK(started.receiver_count() == 1);
    CHECK(started.send("ckan") == 1);
    CHECK(host_calls == 1);
}

TEST_CASE("declare_core_signals declares the CKAN and Kinto catalogue before core is sealed", "[plugin][catalogue]") {
    beacon::registry reg;
    beacon::declare_core_signals(reg);
    beacon::declare_core_signals(reg);  // idempotent
    std::set<std::string> expected;
    for (const auto& s : beacon::core_signal_catalogue) {
        expected.insert(std::string(s.name));
        CHECK((s.origin == "ckan" || s.origin == "kinto"));
        CHECK_FALSE(s.sender.empty());
        CHECK_FALSE(s.keys.empty());
    }
    CHECK(expected.size() == beacon::core_signal_catalogue.size());
    const auto names = reg.core().names();
    CHECK(std::set<std::string>(names.begin(), names.end()) == expected);
    for (const char* name : {"request_started", "request_finished", "register_blueprint", "resource_download",
                             "failed_login", "user_created", "user_logged_in", "user_logged_out",
                             "request_password_reset", "perform_password_reset", "action_succeeded", "resource_read",
                             "resource_changed", "after_resource_read", "after_resource_changed", "server_flushed"}) {
        CHECK(expected.count(name) == 1);
    }
    reg.core().seal();
    CHECK_NOTHROW(beacon::declare_core_signals(reg));

    beacon::registry sealed_early;
    sealed_early.core().seal();
    CHECK_THROWS_WITH(beacon::declare_core_signals(sealed_early), Contains("has no signal \"request_started\""));
}

TEST_CASE("docs/plugins.md documents every catalogue signal with its sender and keys", "[plugin][catalogue]") {
    std::ifstream in(BEACON_SOURCE_DIR "/docs/plugins.md");
    REQUIRE(in);
    std::stringstream text;
    text << in.rdbuf();
    std::vector<std::string> rows;
    for (std::string line; std::getline(text, line);) {
        if (line.rfind("| `", 0) == 0) rows.push_back(line);
    }
    for (const auto& s : beacon::core_signal_catalogue) {
        const std::string row_start = "| `" + std::string(s.name) + "` |";
        const auto row = std::find_if(rows.begin(), rows.end(), [&](const std::string& r) { return r.rfind(row_start, 0) == 0; });
        INFO(s.name);
        REQUIRE(row != rows.end());
        CHECK_THAT(*row, Contains(std::string(s.sender)) && Contains(std::string(s.keys)));
    }
}

TEST_CASE("loads and unloads from many threads while others send lose no delivery", "[plugin][concurrency][behaviour8]") {
    beacon::registry reg;
    beacon::declare_core_signals(reg);
    reg.core().seal();
    beacon::plugin_host host(reg);
    auto& created = reg.core().signal("user_created");
    auto& changed = reg.core().signal("resource_changed");

    std::atomic<long> stable_any{0};
    std::atomic<long> stable_record{0};
    host.load(std::make_shared<table_plugin>("stable", [&](beacon::plugin_context& ctx) {
        return beacon::subscription_table{
            {ctx.core().signal("user_created"), {[&](const beacon::event&) { stable_any.fetch_add(1); }}},
            {ctx.core().signal("resource_changed"), {{"record", [&](const beacon::event&) { stable_record.fetch_add(1); }}}},
        };
    }));

    std::atomic<long> churn_calls{0};
    auto churn_plugin = [&](std::string name) {
        return std::make_shared<table_plugin>(std::move(name), [&](beacon::plugin_context& ctx) {
            ctx.define("loaded").send("churn");
            return beacon::subscription_table{
                {ctx.core().signal("user_created"), {[&](const beacon::event&) { churn_calls.fetch_add(1); }}},
                {ctx.core().signal("resource_changed"),
                 {{"record", [&](const beacon::event&) { churn_calls.fetch_add(1); }},
                  {"bucket", [&](const beacon::event&) { churn_calls.fetch_add(1); }}}},
            };
        });
    };

    // Threads 0 and 1 race to load the same name; thread 2 has a name of its own. Each makes a
    // fixed number of attempts and unloads what it loaded.
    constexpr int attempts = 150;
    std::vector<int> loads(3, 0);
    std::vector<int> refused(3, 0);
    std::atomic<int> loaders_running{3};
    std::vector<std::thread> loaders;
    for (std::size_t t = 0; t < 3; ++t) {
        loaders.emplace_back([&, t] {
            const std::string name = t < 2 ? "shared" : "own";
            for (int i = 0; i < attempts; ++i) {
                try {
                    host.load(churn_plugin(name));
                } catch (const beacon::plugin_error&) {
                    ++refused[t];
                    continue;
                }
                ++loads[t];
                (void)host.names();
                host.unload(name);
            }
            loaders_running.fetch_sub(1);
        });
    }

    // Senders keep sending until every loader is done (and at least 200 times each).
    constexpr std::size_t senders = 3;
    std::vector<long> sends(senders, 0);
    std::vector<long> record_sends(senders, 0);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < senders; ++t) {
        pool.emplace_back([&, t] {
            for (long i = 0; i < 200 || loaders_running.load() != 0; ++i) {
                created.send("signup", {{"user", i}});
                ++sends[t];
                const bool record = (i + static_cast<long>(t)) % 2 == 0;
                changed.send(beacon::event(record ? "record" : "bucket"));
                if (record) ++record_sends[t];
            }
        });
    }
    for (auto& th : loaders) th.join();
    for (auto& th : pool) th.join();

    long expected_any = 0;
    long expected_record = 0;
    for (std::size_t t = 0; t < senders; ++t) {
        expected_any += sends[t];
        expected_record += record_sends[t];
    }
    CHECK(stable_any.load() == expected_any);
    CHECK(stable_record.load() == expected_record);
    CHECK(loads[2] == attempts);  // nobody else loads "own"
    CHECK(refused[2] == 0);
    CHECK(loads[0] + refused[0] == attempts);
    CHECK(loads[1] + refused[1] == attempts);
    CHECK(host.names() == std::vector<std::string>{"stable"});
    CHECK(created.receiver_count() == 1);
    CHECK(changed.receiver_count() == 1);
}
