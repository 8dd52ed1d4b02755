// Registries and namespaces: singletons per name, namespaces apart, name checks, sealing.
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;

TEST_CASE("same name in the same namespace gives the same signal", "[registry][behaviour1]") {
    beacon::registry reg;
    auto& first = reg.core().signal("request_started");
    auto& second = reg.core().signal("request_started");
    CHECK(&first == &second);
    CHECK(first.name() == "request_started");
    CHECK(first.namespace_name() == "core");
    CHECK(&reg.ns("core") == &reg.core());
    CHECK(&reg.ns("ext") == &reg.ext());
}

TEST_CASE("same name in two namespaces gives two signals", "[registry][behaviour1]") {
    beacon::registry reg;
    auto& in_core = reg.core().signal("something");
    auto& in_ext = reg.ext().signal("something");
    auto& in_custom = reg.ns("audit").signal("something");
    CHECK(&in_core != &in_ext);
    CHECK(&in_core != &in_custom);
    CHECK(&in_ext != &in_custom);
    CHECK(in_custom.namespace_name() == "audit");
    CHECK(&reg.ns("audit") == &reg.ns("audit"));
    CHECK(reg.namespace_names() == std::vector<std::string>{"audit", "core", "ext"});
}

TEST_CASE("two registries do not share signals", "[registry]") {
    beacon::registry a;
    beacon::registry b;
    CHECK(&a.core().signal("x") != &b.core().signal("x"));
    CHECK(&beacon::default_registry() == &beacon::default_registry());
}

TEST_CASE("a namespace lists its signals, and find never creates one", "[registry]") {
    beacon::registry reg;
    auto& ns = reg.ns("listing");
    CHECK(ns.size() == 0);
    CHECK(ns.find("b") == nullptr);
    CHECK_FALSE(ns.contains("b"));
    CHECK(ns.size() == 0);
    ns.signal("b");
    ns.signal("a");
    ns.signal("b");
    CHECK(ns.names() == std::vector<std::string>{"a", "b"});
    CHECK(ns.find("a") == &ns.signal("a"));
}

TEST_CASE("bad names are errors that say what is wrong", "[registry][behaviour11]") {
    beacon::registry reg;
    CHECK_THROWS_AS(reg.core().signal(""), beacon::name_error);
    CHECK_THROWS_WITH(reg.core().signal(""), Contains("signal name is empty"));
    CHECK_THROWS_WITH(reg.core().signal("bad\nname"), Contains("control character (code 10) at byte 3"));
    CHECK_THROWS_WITH(reg.core().signal(std::string("nul\0x", 5)), Contains("code 0"));
    CHECK_THROWS_WITH(reg.core().signal(std::string(300, 'a')), Contains("300 bytes long (at most 256)"));
    CHECK_THROWS_WITH(reg.ns(""), Contains("namespace name is empty"));
    CHECK_THROWS_AS(reg.ns("tab\there"), beacon::name_error);
    CHECK(reg.core().size() == 0);
    CHECK(reg.namespace_names().size() == 2);
    // Names may hold anything else: dots, spaces, UTF-8.
    CHECK(reg.ext().signal("custom.something happened é").name() == "custom.something happened é");
}

TEST_CASE("a sealed namespace rejects unknown names but keeps its signals", "[registry][behaviour11]") {
    beacon::registry reg;
    auto& declared = reg.core().signal("request_started");
    reg.core().seal();
    CHECK(reg.core().sealed());
    CHECK(&reg.core().signal("request_started") == &declared);
    CHECK_THROWS_AS(reg.core().signal("reqest_started"), beacon::unknown_signal_error);
    CHECK_THROWS_WITH(reg.core().signal("reqest_started"),
                      Contains("namespace \"core\" has no signal \"reqest_started\"") && Contains("sealed"));
    CHECK(reg.core().names() == std::vector<std::string>{"request_started"});
    // ext stays get-or-create: a signal of an absent plugin is simply never sent.
    CHECK_FALSE(reg.ext().sealed());
    CHECK(reg.ext().signal("custom.something_happened").send("anyone") == 0);
}

TEST_CASE("get-or-create is thread-safe", "[registry][behaviour8]") {
    beacon::registry reg;
    constexpr std::size_t threads = 8;
    constexpr std::size_t names = 200;
    std::vector<std::vector<beacon::signal*>> seen(threads);
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (std::size_t i = 0; i < names; ++i) {
                const std::size_t n = (i * 7 + t) % names;
                seen[t].push_back(&reg.ns("ns" + std::to_string(n % 3)).signal("s" + std::to_string(n)));
            }
        });
    }
    for (auto& th : pool) th.join();
    for (std::size_t t = 0; t < threads; ++t) {
        for (std::size_t i = 0; i < names; ++i) {
            const std::size_t n = (i * 7 + t) % names;
            REQUIRE(seen[t][i] == &reg.ns("ns" + std::to_string(n % 3)).signal("s" + std::to_string(n)));
        }
    }
    CHECK(reg.ns("ns0").size() + reg.ns("ns1").size() + reg.ns("ns2").size() == names);
}

TEST_CASE("a registry's source is stamped on its events; a bad source is refused", "[registry][identity]") {
    beacon::registry reg;
    CHECK_THAT(reg.source(), Catch::Matchers::StartsWith("urn:beacon:"));
    reg.set_source("https://shop.example/api");
    std::vector<beacon::event> got;
    auto c = reg.ns("billing").signal("paid").connect([&](const beacon::event& e) { got.push_back(e); });
    reg.ns("billing").signal("paid").send(beacon::event("cashier"));
    REQUIRE(got.size() == 1);
    CHECK(got[0].source == "https://shop.example/api");
    CHECK(got[0].type == "billing.paid");
    beacon::event own("cashier");
    own.source = "urn:elsewhere";
    own.type = "com.example.paid";
    reg.ns("billing").signal("paid").send(own);
    REQUIRE(got.size() == 2);
    CHECK(got[1].source == "urn:elsewhere");
    CHECK(got[1].type == "com.example.paid");
    CHECK_THROWS_AS(reg.set_source(""), beacon::config_error);
    CHECK_THROWS_WITH(reg.set_source("urn:a b"), Catch::Matchers::Contains("spaces or control characters"));
    CHECK_THROWS_AS(reg.set_source(std::string(2000, 'a')), beacon::config_error);
    CHECK(reg.source() == "https://shop.example/api");
}

TEST_CASE("enable_stats counts the signals of every namespace, those made before and after", "[registry][stats]") {
    beacon::registry reg;
    auto& before = reg.core().signal("resource_changed");
    auto& untouched = reg.ns("other").signal("quiet");
    reg.enable_stats();
    auto& after = reg.core().signal("resource_read");
    auto& in_new_namespace = reg.ns("billing").signal("invoice_paid");
    auto& in_old_namespace = reg.ns("other").signal("loud");
    int calls = 0;
    std::vector<beacon::scoped_connection> keep;
    for (auto* s : {&before, &after, &in_new_namespace, &in_old_namespace}) {
        keep.emplace_back(s->connect([&](const beacon::event&) { ++calls; }));
        s->send("alice");
        s->send("bob");
    }
    CHECK(calls == 8);
    for (auto* s : {&before, &after, &in_new_namespace, &in_old_namespace}) {
        CHECK(s->stats().sends == 2);
        CHECK(s->stats().receiver_calls == 2);
    }
    CHECK(untouched.stats().sends == 0);
    reg.ns("billing").enable_stats();  // again: nothing changes
    CHECK(in_new_namespace.stats().sends == 2);
}
