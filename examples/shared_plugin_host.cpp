// Story: a host loads the plugins its configuration names (CKAN's `ckan.plugins = audit`) from
// shared libraries in a plugin directory; the loader checks each library's build against the
// host's before calling it; unloading disconnects the plugin's receivers.
#include <beacon/core_signals.hpp>
#include <beacon/plugin_library.hpp>

#include <dlfcn.h>

#include <iostream>

int main() {
    beacon::registry reg;
    beacon::declare_core_signals(reg);
    reg.core().seal();
    auto& user_created = reg.core().signal("user_created");
    auto& failed_login = reg.core().signal("failed_login");

    beacon::plugin_host host(reg);
    beacon::plugin_loader loader(host, {BEACON_PLUGIN_DIR});
    for (const auto& name : loader.load_all("audit")) std::cout << "loaded plugin \"" << name << "\"\n";

    std::size_t calls_loaded = user_created.send("signup", {{"user", "alice"}});
    calls_loaded += failed_login.send("mallory");
    calls_loaded += failed_login.send("bob");  // the plugin listens to mallory's failures only

    loader.unload("audit");
    std::size_t calls_unloaded = user_created.send("signup", {{"user", "carol"}});
    calls_unloaded += failed_login.send("mallory");
    std::cout << "plugin receivers called while loaded: " << calls_loaded << ", after unload: "
              << user_created.receiver_count() + failed_login.receiver_count() << " receivers left, "
              << calls_unloaded << " called\n";

    // A library built with hidden visibility has a default_registry() of its own: plugins use the
    // registry their context gives them, never default_registry().
    void* library = dlopen(BEACON_PLUGIN_DIR "/libaudit.so", RTLD_NOW | RTLD_NOLOAD);
    if (library == nullptr) return 1;
    auto* plugin_default_registry = reinterpret_cast<const void* (*)()>(dlsym(library, "beacon_plugin_default_registry"));
    std::cout << "the library's default_registry() is the host's: " << std::boolalpha
              << (plugin_default_registry && plugin_default_registry() == &beacon::default_registry()) << "\n";
    dlclose(library);
}
