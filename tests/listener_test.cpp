// Listeners from configuration: listener types, the nested and the flat forms, actions and
// resources filters, one build per alias, unloading, and bad configuration (all or nothing).
#include <beacon/listener.hpp>
#include <beacon/outbox.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::Message;
using json = nlohmann::json;

namespace {

beacon::event change(beacon::action a, std::string resource) {
    beacon::event e("storage");
    e.action = a;
    e.resource_name = std::move(resource);
    return e;
}

/// A registry with Kinto's two signals and a "recorder" listener type: each listener logs
/// "<alias>/<its "tag" option>:<action> <resource>", and every build is counted.
struct listener_fixture {
    beacon::registry reg;
    beacon::signal& changed = reg.core().signal("resource_changed");
    beacon::signal& read = reg.core().signal("resource_read");
    beacon::listener_types types;
    std::vector<std::string> log;
    std::map<std::string, int> builds;

    listener_fixture() {
        types.add("recorder", [this](const beacon::listener_context& c) -> beacon::listener {
            ++builds[c.alias];
            const std::string tag = c.options.value("tag", "");
            return [this, name = c.alias + "/" + tag](const beacon::event& e) {
                log.push_back(name + ":" + std::string(beacon::to_string(*e.action)) + " " + e.resource_name);
            };
        });
    }

    void send_all() {
        using beacon::action;
        for (auto a : {action::create, action::update, action::delete_}) {
            for (const char* r : {"bucket", "record"}) changed.send(change(a, r));
        }
        read.send(change(action::read, "bucket"));
    }
};

}  // namespace

TEST_CASE("listener types: add, find, names, and bad registrations", "[listener][types]") {
    beacon::listener_types types;
    CHECK_FALSE(types.find("redis"));
    types.add("redis", [](const beacon::listener_context&) { return beacon::listener([](const beacon::event&) {}); });
    types.add("log", [](const beacon::listener_context&) { return beacon::listener([](const beacon::event&) {}); });
    CHECK(types.find("redis"));
    CHECK(types.names() == std::vector<std::string>{"log", "redis"});
    CHECK_THROWS_MATCHES(types.add("redis", [](const beacon::listener_context&) { return beacon::listener(); }),
                         beacon::misuse_error,
                         Message("[beacon.misuse_error] listener_types::add: listener type \"redis\" is already registered"));
    CHECK_THROWS_AS(types.add("", [](const beacon::listener_context&) { return beacon::listener(); }), beacon::misuse_error);
    CHECK_THROWS_AS(types.add("none", nullptr), beacon::misuse_error);
}

TEST_CASE_METHOD(listener_fixture, "nested form: actions default to changes, resources filter, options per alias",
                 "[listener][load]") {
    const auto loaded = beacon::load_listeners(reg, json::parse(R"({
        "event_listeners": {
            "tracker": {"use": "recorder", "actions": ["create"], "resources": ["bucket"], "tag": "t"},
            "all": {"use": "recorder", "tag": "a"},
            "reader": {"use": "recorder", "actions": ["read", "delete"], "resources": ["bucket"]}
        }
    })"), types);
    CHECK(loaded.aliases() == std::vector<std::string>{"all", "reader", "tracker"});
    send_all();
    CHECK(log == std::vector<std::string>{
                     "all/a:create bucket", "tracker/t:create bucket", "all/a:create record",
                     "all/a:update bucket", "all/a:update record",
                     "all/a:delete bucket", "reader/:delete bucket", "all/a:delete record",
                     "reader/:read bucket"});
    CHECK(builds == std::map<std::string, int>{{"all", 1}, {"reader", 1}, {"tracker", 1}});
}

TEST_CASE_METHOD(listener_fixture, "one listener object per alias, shared by both signals", "[listener][load]") {
    int counter_builds = 0;
    types.add("counter", [&](const beacon::listener_context&) -> beacon::listener {
        ++counter_builds;
        return [n = 0, this](const beacon::event&) mutable { log.push_back(std::to_string(++n)); };
    });
    const auto loaded = beacon::load_listeners(
        reg, {{"event_listeners", {{"c", {{"use", "counter"}, {"actions", {"create", "read"}}}}}}}, types);
    changed.send(change(beacon::action::create, "x"));
    read.send(change(beacon::action::read, "x"));
    changed.send(change(beacon::action::create, "x"));
    CHECK(counter_builds == 1);
    CHECK(log == std::vector<std::string>{"1", "2", "3"});
}

TEST_CASE_METHOD(listener_fixture, "flat form, as in Kinto's ini settings", "[listener][load][flat]") {
    const auto loaded = beacon::load_listeners(reg, json::parse(R"({
        "event_listeners": "tracker  audit",
        "event_listeners.tracker.use": "recorder",
        "event_listeners.tracker.actions": "create update",
        "event_listeners.tracker.resources": "bucket",
        "event_listeners.tracker.tag": "t",
        "event_listeners.audit.use": "recorder",
        "event_listeners.audit.resources": ["record"],
        "event_listeners.unlisted.use": "recorder",
        "other.setting": 1
    })"), types);
    CHECK(loaded.aliases() == std::vector<std::string>{"tracker", "audit"});
    send_all();
    CHECK(log == std::vector<std::string>{"tracker/t:create bucket", "audit/:create record", "tracker/t:update bucket",
                                          "audit/:update record", "audit/:delete record"});
}

TEST_CASE_METHOD(listener_fixture, "unloading one alias, all, or by destruction", "[listener][unload]") {
    const json settings = {{"event_listeners", {{"a", {{"use", "recorder"}}}, {"b", {{"use", "recorder"}}}}}};
    {
        auto loaded = beacon::load_listeners(reg, settings, types);
        CHECK(changed.receiver_count() == 1);
        CHECK(loaded.unload("a"));
        CHECK_FALSE(loaded.unload("a"));
        CHECK(loaded.aliases() == std::vector<std::string>{"b"});
        changed.send(change(beacon::action::create, "x"));
        CHECK(log == std::vector<std::string>{"b/:create x"});
        loaded.unload_all();
        changed.send(change(beacon::action::create, "x"));
        CHECK(log.size() == 1);
        CHECK(loaded.aliases().empty());
        // Nothing of the listeners is left on the signal: a lazy send builds nothing.
        CHECK_FALSE(changed.has_receivers_for("storage"));
        bool built = false;
        changed.send_lazy("storage", [&] {
            built = true;
            return change(beacon::action::create, "x");
        });
        CHECK_FALSE(built);
    }
    {
        // Unloading the last alias on a signal leaves no receiver on it either.
        auto loaded = beacon::load_listeners(reg, settings, types);
        CHECK(loaded.unload("a"));
        CHECK(changed.has_receivers());
        CHECK(loaded.unload("b"));
        CHECK_FALSE(changed.has_receivers());
        log.clear();
    }
    {
        const auto loaded = beacon::load_listeners(reg, settings, types);
        changed.send(change(beacon::action::create, "y"));
        CHECK(log.size() == 2);
    }
    changed.send(change(beacon::action::create, "z"));
    CHECK(log.size() == 2);
    CHECK_FALSE(changed.has_receivers());
    CHECK_FALSE(read.has_receivers());
}

TEST_CASE_METHOD(listener_fixture, "no event_listeners key loads nothing; listeners reach the signals they need only",
                 "[listener][load]") {
    CHECK(beacon::load_listeners(reg, json::object(), types).aliases().empty());
    CHECK(beacon::load_listeners(reg, {{"event_listeners", nullptr}}, types).aliases().empty());
    const auto loaded = beacon::load_listeners(reg, {{"event_listeners", {{"w", {{"use", "recorder"}}}}}}, types);
    CHECK(changed.has_receivers());
    CHECK_FALSE(read.has_receivers());
}

namespace {

/// Loads `settings` and returns the config_error message; checks nothing was connected or built.
std::string load_error(listener_fixture& f, const json& settings) {
    try {
        beacon::load_listeners(f.reg, settings, f.types);
    } catch (const beacon::config_error& e) {
        CHECK_FALSE(f.changed.has_receivers());
        CHECK_FALSE(f.read.has_receivers());
        return e.what();
    }
    FAIL("no config_error for " << settings.dump());
    return {};
}

}  // namespace

TEST_CASE_METHOD(listener_fixture, "bad configuration names the alias and the key, and connects nothing",
                 "[listener][errors][behaviour11]") {
    const json good = {{"use", "recorder"}};
    auto with = [&](const json& bad) { return json{{"event_listeners", {{"a", good}, {"bad", bad}}}}; };

    CHECK(load_error(*this, with({{"actions", {"create"}}})) ==
          "[beacon.config_error] /event_listeners/bad/use (alias \"bad\"): missing required key \"use\" (the listener type)");
    CHECK(load_error(*this, with({{"use", 3}})) ==
          "[beacon.config_error] /event_listeners/bad/use (alias \"bad\"): expected a listener type name, got number");
    CHECK(load_error(*this, with({{"use", "redis"}})) ==
          "[beacon.config_error] /event_listeners/bad/use (alias \"bad\"): unknown listener type \"redis\" (known: recorder)");
    CHECK(load_error(*this, with({{"use", "recorder"}, {"actions", {"create", "crate"}}})) ==
          "[beacon.config_error] /event_listeners/bad/actions/1 (alias \"bad\"): unknown action \"crate\" "
          "(expected create, update, delete or read)");
    CHECK(load_error(*this, with({{"use", "recorder"}, {"actions", {"create", 1}}})) ==
          "[beacon.config_error] /event_listeners/bad/actions/1 (alias \"bad\"): expected a string, got number");
    CHECK(load_error(*this, with({{"use", "recorder"}, {"actions", {{"create", true}}}})) ==
          "[beacon.config_error] /event_listeners/bad/actions (alias \"bad\"): expected an array of strings, got object");
    CHECK(load_error(*this, with({{"use", "recorder"}, {"resources", {""}}})) ==
          "[beacon.config_error] /event_listeners/bad/resources/0 (alias \"bad\"): empty name");
    CHECK(load_error(*this, with("recorder")) ==
          "[beacon.config_error] /event_listeners/bad (alias \"bad\"): expected an object of listener settings, got string");
    CHECK(load_error(*this, {{"event_listeners", {{"", good}}}}) == "[beacon.config_error] /event_listeners/: empty alias");
    CHECK(load_error(*this, {{"event_listeners", {{"a/b~c", {{"use", "x"}}}}}}) ==
          "[beacon.config_error] /event_listeners/a~1b~0c/use (alias \"a/b~c\"): unknown listener type \"x\" (known: recorder)");
    CHECK(load_error(*this, {{"event_listeners", 7}}) ==
          "[beacon.config_error] /event_listeners: expected an object or a string of space-separated aliases, got number");
    CHECK(load_error(*this, json::array()) == "[beacon.config_error] /: expected a settings object, got array");
    CHECK(builds.empty());
}

TEST_CASE_METHOD(listener_fixture, "bad flat configuration names the flat key", "[listener][errors][flat]") {
    CHECK(load_error(*this, {{"event_listeners", "a b a"}, {"event_listeners.a.use", "recorder"},
                             {"event_listeners.b.use", "recorder"}}) ==
          "[beacon.config_error] /event_listeners (alias \"a\"): alias \"a\" is listed twice");
    CHECK(load_error(*this, {{"event_listeners", "a b"}, {"event_listeners.a.use", "recorder"}}) ==
          "[beacon.config_error] /event_listeners.b.use (alias \"b\"): missing required key \"use\" (the listener type)");
    CHECK(load_error(*this, {{"event_listeners", "a"}, {"event_listeners.a.use", "recorder"},
                             {"event_listeners.a.actions", "create reed"}}) ==
          "[beacon.config_error] /event_listeners.a.actions (alias \"a\"): unknown action \"reed\" "
          "(expected create, update, delete or read)");
    CHECK(builds.empty());
}

TEST_CASE_METHOD(listener_fixture, "a failing factory: nothing built before it stays connected", "[listener][errors]") {
    types.add("picky", [](const beacon::listener_context& c) -> beacon::listener {
        if (!c.options.contains("url")) c.fail("url", "missing required key \"url\"");
        if (c.options["url"] == "crash") throw std::runtime_error("cannot reach server");
        if (c.options["url"] == "none") return nullptr;
        return [](const beacon::event&) {};
    });
    auto load = [&](const json& picky) {
        return load_error(*this, {{"event_listeners", {{"a", {{"use", "recorder"}}}, {"z", picky}}}});
    };
    CHECK(load({{"use", "picky"}}) == "[beacon.config_error] /event_listeners/z/url (alias \"z\"): missing required key \"url\"");
    CHECK(load({{"use", "picky"}, {"url", "crash"}}) ==
          "[beacon.config_error] /event_listeners/z/use (alias \"z\"): listener type \"picky\" failed: cannot reach server");
    CHECK(load({{"use", "picky"}, {"url", "none"}}) ==
          "[beacon.config_error] /event_listeners/z/use (alias \"z\"): listener type \"picky\" built no listener");
    CHECK(builds.at("a") == 3);  // "a" was built each time, then dropped unconnected
    CHECK(log.empty());

    beacon::listener_context flat{"t", json::object(), &reg, "/event_listeners.t."};
    CHECK(flat.key("url") == "/event_listeners.t.url");
}

TEST_CASE("a sealed core without Kinto's signals is a configuration error", "[listener][errors]") {
    beacon::registry reg;
    reg.core().signal("resource_changed");
    reg.core().seal();
    beacon::listener_types types;
    types.add("nop", [](const beacon::listener_context&) { return beacon::listener([](const beacon::event&) {}); });
    const auto writes = beacon::load_listeners(reg, {{"event_listeners", {{"w", {{"use", "nop"}}}}}}, types);
    CHECK(reg.core().signal("resource_changed").has_receivers());
    CHECK_THROWS_MATCHES(
        beacon::load_listeners(reg, {{"event_listeners", {{"r", {{"use", "nop"}, {"actions", "read"}}}}}}, types),
        beacon::config_error,
        Message("[beacon.config_error] /event_listeners/r/actions (alias \"r\"): needs the signal core/resource_read, "
                "which the host's sealed core namespace does not declare"));
}

TEST_CASE_METHOD(listener_fixture, "a factory gets its alias's filter and hands the loader connections to keep",
                 "[listener][keep]") {
    using beacon::action;
    beacon::signal& audit = reg.ns("app").signal("audit");
    std::vector<std::string> audited;
    types.add("auditor", [&](const beacon::listener_context& c) -> beacon::listener {
        c.keep(audit.connect([&audited, alias = c.alias, pass = c.filter](const beacon::event& e) {
            if (pass(e)) audited.push_back(alias + ":" + std::string(beacon::to_string(*e.action)) + " " + e.resource_name);
        }));
        return [](const beacon::event&) {};
    });
    types.add("broken", [](const beacon::listener_context&) -> beacon::listener { throw std::runtime_error("no"); });

    {
        auto loaded = beacon::load_listeners(
            reg, {{"event_listeners", {{"buckets", {{"use", "auditor"}, {"actions", "create"}, {"resources", "bucket"}}},
                                       {"changes", {{"use", "auditor"}}}}}},
            types);
        CHECK(audit.receiver_count() == 2);
        for (auto a : {action::create, action::update, action::read}) {
            for (const char* r : {"bucket", "record"}) audit.send(change(a, r));
        }
        CHECK(audited == std::vector<std::string>{"buckets:create bucket", "changes:create bucket", "changes:create record",
                                                  "changes:update bucket", "changes:update record"});
        loaded.unload("buckets");
        CHECK(audit.receiver_count() == 1);
        loaded.unload_all();
        CHECK(audit.receiver_count() == 0);
    }

    // All or nothing: a later factory that fails disconnects what an earlier one kept.
    CHECK(load_error(*this, {{"event_listeners", {{"a", {{"use", "auditor"}}}, {"z", {{"use", "broken"}}}}}}) ==
          "[beacon.config_error] /event_listeners/z/use (alias \"z\"): listener type \"broken\" failed: no");
    CHECK(audit.receiver_count() == 0);
    {
        const auto scoped = beacon::load_listeners(reg, {{"event_listeners", {{"a", {{"use", "auditor"}}}}}}, types);
        CHECK(audit.receiver_count() == 1);
    }
    CHECK(audit.receiver_count() == 0);
}

namespace {

// A host's own outbox: rows in a vector; its relay a flag that says whether it still exists.
struct memory_outbox : beacon::outbox {
    std::vector<beacon::event> rows;
    std::shared_ptr<int> relays = std::make_shared<int>(0);
    void add(const beacon::event& e) override { rows.push_back(e); }
    std::unique_ptr<beacon::relay> make_relay(beacon::relay_publisher, beacon::failure_handler) override {
        struct counted : beacon::relay {
            std::shared_ptr<int> count;
            explicit counted(std::shared_ptr<int> c) : count(std::move(c)) { ++*count; }
            ~counted() override { --*count; }
            void start() override {}
            void stop() noexcept override {}
            std::size_t run_once() override { return 0; }
            beacon::relay_stats stats() const noexcept override { return {}; }
        };
        return std::make_unique<counted>(relays);
    }
};

}  // namespace

TEST_CASE_METHOD(listener_fixture, "a factory claims a registered outbox by name and holds its relay while the alias is loaded",
                 "[listener][outbox]") {
    memory_outbox box;
    types.add_outbox("main", box);
    CHECK_THROWS_WITH(types.add_outbox("main", box), Contains("already registered"));
    types.add("into_outbox", [](const beacon::listener_context& c) -> beacon::listener {
        if (c.async) c.fail("outbox", "not async");
        beacon::outbox& into = c.outbox("outbox");
        c.hold(std::shared_ptr<beacon::relay>(into.make_relay(nullptr, {})));
        return [&into](const beacon::event& e) { into.add(e); };
    });
    {
        auto loaded = beacon::load_listeners(reg, {{"event_listeners", {{"a", {{"use", "into_outbox"}, {"outbox", "main"}}}}}}, types);
        CHECK(*box.relays == 1);
        changed.send(change(beacon::action::create, "record"));
        CHECK(box.rows.size() == 1);
        loaded.unload("a");
        CHECK(*box.relays == 0);  // released with the alias
    }
    CHECK(load_error(*this, {{"event_listeners", {{"a", {{"use", "into_outbox"}, {"outbox", "nope"}}}}}}) ==
          "[beacon.config_error] /event_listeners/a/outbox (alias \"a\"): unknown outbox \"nope\" (registered: main)");
    CHECK(load_error(*this, {{"event_listeners", {{"a", {{"use", "into_outbox"}, {"outbox", "main"}}},
                                                  {"b", {{"use", "into_outbox"}, {"outbox", "main"}}}}}}) ==
          "[beacon.config_error] /event_listeners/b/outbox (alias \"b\"): outbox \"main\" serves another alias "
          "already (its rows carry no destination)");
    CHECK(*box.relays == 0);  // all or nothing: the first alias's relay went with the failed load
    CHECK(load_error(*this, {{"event_listeners", {{"a", {{"use", "into_outbox"}, {"outbox", "main"}, {"async", true}}}}}}) ==
          "[beacon.config_error] /event_listeners/a/outbox (alias \"a\"): not async");
    auto again = beacon::load_listeners(reg, {{"event_listeners", {{"a", {{"use", "into_outbox"}, {"outbox", "main"}}}}}}, types);
    CHECK(*box.relays == 1);  // a later load may claim it again
}

TEST_CASE_METHOD(listener_fixture, "settings nested 100,000 levels deep are a config_error, not a stack overflow",
                 "[listener][errors][behaviour11]") {
    // Built in place: copying (or comparing) such a value would itself recurse once per level.
    json settings;
    settings["event_listeners"]["deep"]["use"] = "recorder";
    json* at = &settings["event_listeners"]["deep"]["tag"];
    for (int i = 0; i < 100000; ++i) at = &(*at)["x"];
    const std::string message = load_error(*this, settings);
    CHECK(message.rfind("[beacon.config_error] /event_listeners/deep/tag/x/x/", 0) == 0);
    CHECK(message.find("nests deeper than 128 levels") != std::string::npos);
    CHECK(message.size() < 1024);
    CHECK(builds.empty());
}

TEST_CASE_METHOD(listener_fixture, "every configured listener is timed: calls, failures and a duration histogram",
                 "[listener][stats]") {
    types.add("flaky", [](const beacon::listener_context&) -> beacon::listener {
        return [](const beacon::event& e) {
            std::this_thread::sleep_for(std::chrono::milliseconds(3));
            if (e.resource_name == "record") throw std::runtime_error("cannot index");
        };
    });
    auto loaded = beacon::load_listeners(reg, nlohmann::json::parse(R"({"event_listeners": {
        "fast": {"use": "recorder"}, "slow": {"use": "flaky", "resources": ["bucket", "record"]}}})"), types);
    using beacon::action;
    changed.send(change(action::create, "bucket"));
    changed.send(change(action::update, "bucket"));
    CHECK_THROWS_WITH(changed.send(change(action::create, "record")), "cannot index");

    const auto fast = loaded.stats("fast");
    const auto slow = loaded.stats("slow");
    REQUIRE(fast);
    REQUIRE(slow);
    CHECK_FALSE(loaded.stats("nobody"));
    CHECK(fast->calls == 3);
    CHECK(fast->failures == 0);
    CHECK(slow->calls == 3);
    CHECK(slow->failures == 1);
    // 3 ms each: none within 2.5 ms, all within 1 s; cumulative buckets; the sum is at least 9 ms.
    const auto& h = slow->duration;
    CHECK(h.count == 3);
    CHECK(h.buckets[4] == 0);  // <= 0.0025 s
    CHECK(h.buckets[9] == 3);  // <= 1 s
    CHECK(std::is_sorted(h.buckets.begin(), h.buckets.end()));
    CHECK(h.sum >= 0.009);
    CHECK(fast->duration.buckets.back() == 3);
}
