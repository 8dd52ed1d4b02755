// Plugins in shared libraries: a real .so loaded, unloaded and reloaded; a library built against
// another beacon version, one without a handshake, a missing file and a missing plugin refused
// with a plugin_error naming the file and the cause; loading the plugins a configuration names.
#include <beacon/plugin_library.hpp>
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using Catch::Matchers::Contains;

namespace {

const std::filesystem::path plugin_dir = BEACON_TEST_PLUGIN_DIR;
const std::filesystem::path counter_file = plugin_dir / "libcounter.so";

/// A function the counter library exports, looked up in the mapping the loader opened.
int counter_function(const char* name) {
    void* handle = dlopen(counter_file.c_str(), RTLD_NOW | RTLD_NOLOAD);
    REQUIRE(handle != nullptr);
    auto* f = reinterpret_cast<int (*)()>(dlsym(handle, name));
    REQUIRE(f != nullptr);
    const int value = f();
    dlclose(handle);
    return value;
}

struct library_fixture {
    beacon::registry reg;
    beacon::signal& user_created = reg.core().signal("user_created");
    beacon::plugin_host host{reg};
};

}  // namespace

TEST_CASE_METHOD(library_fixture, "a plugin library is loaded, unloaded and loaded again", "[plugin_library]") {
    beacon::plugin_loader loader(host);
    CHECK(loader.load_file(counter_file) == "counter");
    CHECK(host.loaded("counter"));
    CHECK(loader.files().at("counter") == counter_file);
    CHECK(counter_function("counter_live_plugins") == 1);
    const int before = counter_function("counter_calls");
    CHECK(user_created.send("admin") == 2);  // the table's receiver and the one connected through ctx
    CHECK(user_created.send("bob") == 1);
    CHECK(counter_function("counter_calls") == before + 3);
    // A receiver in the library's table returns a value: collected as blinker's send does.
    const auto results = reg.ext().signal("isignal_number").send_collect("10");
    REQUIRE(results.size() == 1);
    CHECK(results[0].value == 100);

    // Unloading disconnects everything the plugin connected; the plugin object lives while held.
    auto gone = loader.unload("counter");
    CHECK_FALSE(host.loaded("counter"));
    CHECK(loader.files().empty());
    CHECK(user_created.send("admin") == 0);
    CHECK_FALSE(reg.ext().signal("isignal_number").has_receivers());
    CHECK(counter_function("counter_live_plugins") == 1);
    gone.reset();
    CHECK(counter_function("counter_live_plugins") == 0);
    CHECK(counter_function("counter_calls") == before + 3);

    // Loaded again: a new plugin object, connected again.
    CHECK(loader.load_file(counter_file) == "counter");
    CHECK(counter_function("counter_live_plugins") == 1);
    CHECK(user_created.send("admin") == 2);
    CHECK_THROWS_WITH(loader.load_file(counter_file), Contains("plugin \"counter\" is already loaded"));
    CHECK(counter_function("counter_live_plugins") == 1);
}

TEST_CASE_METHOD(library_fixture, "destroying the loader unloads the plugins it loaded", "[plugin_library]") {
    {
        beacon::plugin_loader loader(host, {plugin_dir});
        CHECK(loader.load("counter") == "counter");
        CHECK(user_created.has_receivers());
    }
    CHECK_FALSE(host.loaded("counter"));
    CHECK_FALSE(user_created.has_receivers());
    CHECK(counter_function("counter_live_plugins") == 0);
}

TEST_CASE_METHOD(library_fixture, "a library built against another beacon version is refused before it is called",
                 "[plugin_library][errors]") {
    beacon::plugin_loader loader(host);
    const auto foreign = plugin_dir / "libcounter_foreign.so";
    const std::string host_version = std::to_string(BEACON_VERSION_MAJOR) + "." +
                                     std::to_string(BEACON_VERSION_MINOR) + "." +
                                     std::to_string(BEACON_VERSION_PATCH);
    const std::string plugin_version = std::to_string(BEACON_VERSION_MAJOR + 1) + "." +
                                       std::to_string(BEACON_VERSION_MINOR) + "." +
                                       std::to_string(BEACON_VERSION_PATCH);
    CHECK_THROWS_MATCHES(loader.load_file(foreign), beacon::plugin_error,
                         Catch::Matchers::Message("[beacon.plugin_error] plugin library \"" + foreign.string() +
                                                  "\" is an incompatible build: built against beacon " +
                                                  plugin_version + ", this host uses beacon " + host_version));
    CHECK(host.names().empty());
    CHECK_FALSE(user_created.has_receivers());
    // Refused from its file: never mapped, so neither its initializers nor its entry point ran.
    CHECK(dlopen(foreign.c_str(), RTLD_NOW | RTLD_NOLOAD) == nullptr);
}

TEST_CASE("each field of the handshake is compared", "[plugin_library][errors]") {
    const auto host = beacon::plugin_handshake::this_build();
    CHECK(host.incompatibility(host).empty());
    auto other = host;
    other.boost_version += 100;
    CHECK_THAT(host.incompatibility(other), Contains("BOOST_VERSION"));
    other = host;
    other.json_version += 1;
    CHECK_THAT(host.incompatibility(other), Contains("nlohmann/json"));
    other = host;
    other.stdlib = 3;
    CHECK_THAT(host.incompatibility(other), Contains("standard library ABI"));
    other = host;
    other.stdlib_debug = 1 - host.stdlib_debug;
    CHECK_THAT(host.incompatibility(other), Contains("_GLIBCXX_DEBUG"));
    other = host;
    other.string_size += 8;
    CHECK_THAT(host.incompatibility(other), Contains("sizeof(std::string)"));
}

TEST_CASE_METHOD(library_fixture, "missing file, missing symbol, missing plugin: plugin_error naming file and cause",
                 "[plugin_library][errors]") {
    beacon::plugin_loader loader(host, {plugin_dir / "nowhere", plugin_dir});
    const auto missing = plugin_dir / "libabsent.so";
    CHECK_THROWS_MATCHES(loader.load_file(missing), beacon::plugin_error,
                         Catch::Matchers::Message("[beacon.plugin_error] plugin library \"" + missing.string() +
                                                  "\" does not exist (no such file)"));
    const auto bare = plugin_dir / "libcounter_bare.so";
    CHECK_THROWS_MATCHES(loader.load_file(bare), beacon::plugin_error,
                         Catch::Matchers::Message("[beacon.plugin_error] plugin library \"" + bare.string() +
                                                  "\" has no symbol beacon_plugin_handshake: not a beacon plugin "
                                                  "(export one with BEACON_PLUGIN)"));
    // Not a shared library at all: refused from its first bytes.
    CHECK_THROWS_WITH(loader.load_file(std::filesystem::path(BEACON_TEST_SOURCE_FILE)),
                      Contains("plugin library \"" BEACON_TEST_SOURCE_FILE "\" is not an ELF shared library: no ELF header"));
    CHECK_THROWS_WITH(loader.load("absent"), Contains("plugin \"absent\" not found in the search path (tried " +
                                                      (plugin_dir / "nowhere" / "libabsent.so").string()));
    CHECK_THROWS_AS(loader.load("../counter"), beacon::plugin_error);
    CHECK_THROWS_AS(loader.load(""), beacon::name_error);
    CHECK(host.names().empty());
}

TEST_CASE_METHOD(library_fixture, "the plugins a configuration names are loaded from the search path, all or nothing",
                 "[plugin_library][config]") {
    beacon::plugin_loader loader(host, {plugin_dir});
    // CKAN's `ckan.plugins = a b c`.
    CHECK(loader.load_all("  counter ") == std::vector<std::string>{"counter"});
    CHECK(host.names() == std::vector<std::string>{"counter"});
    loader.unload("counter");
    CHECK_THROWS_WITH(loader.load_all("counter counter_foreign"), Contains("is an incompatible build"));
    CHECK(host.names().empty());
    CHECK_FALSE(user_created.has_receivers());
    CHECK(loader.load_all("").empty());
}

TEST_CASE_METHOD(library_fixture, "loading and unloading a library while other threads send", "[plugin_library][threads]") {
    beacon::plugin_loader loader(host);
    std::atomic<bool> stop{false};
    std::atomic<long> sends{0};
    std::thread sender([&] {
        while (!stop.load()) sends += static_cast<long>(user_created.send("admin"));
    });
    for (int i = 0; i < 20; ++i) {
        loader.load_file(counter_file);
        loader.unload("counter");
    }
    stop = true;
    sender.join();
    CHECK_FALSE(user_created.has_receivers());
    CHECK(counter_function("counter_live_plugins") == 0);
}
