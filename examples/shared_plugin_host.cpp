// Story: a host loads a plugin built as a separate shared library: dlopen(), an exported factory,
// the host's registry reached through the plugin context; unloading disconnects the plugin's
// receivers, then the library is closed.
#include <beacon/core_signals.hpp>
#include <beacon/plugin.hpp>

#include <dlfcn.h>

#include <iostream>
#include <memory>
#include <optional>

namespace {

/// A dlopen()ed library, closed when destroyed: after every object and receiver it made is gone.
class shared_library {
public:
    explicit shared_library(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
    shared_library(const shared_library&) = delete;
    shared_library& operator=(const shared_library&) = delete;
    ~shared_library() {
        if (handle_) dlclose(handle_);
    }

    explicit operator bool() const noexcept { return handle_ != nullptr; }

    /// The exported function `name`, or nullptr.
    template <class Function>
    Function* function(const char* name) const {
        return reinterpret_cast<Function*>(dlsym(handle_, name));
    }

private:
    void* handle_;
};

/// What the host saw of the plugin.
struct outcome {
    std::size_t calls_loaded = 0;    ///< Plugin receivers called while it was loaded.
    std::size_t receivers_left = 0;  ///< Receivers on the signals it used, after unload.
    std::size_t calls_unloaded = 0;  ///< Receivers called by sends after unload.
    bool same_default_registry = false;
};

/// Opens the library at `path`, loads its plugin, sends, unloads it, and closes the library.
std::optional<outcome> run(const char* path) {
    const shared_library library(path);  // declared first: closed last
    if (!library) {
        std::cerr << "cannot load " << path << ": " << dlerror() << "\n";
        return std::nullopt;
    }
    auto* create = library.function<beacon::plugin*()>("beacon_plugin_create");
    auto* plugin_default_registry = library.function<const void*()>("beacon_plugin_default_registry");
    if (!create || !plugin_default_registry) {
        std::cerr << path << " does not export the beacon plugin functions\n";
        return std::nullopt;
    }

    beacon::registry reg;
    beacon::declare_core_signals(reg);
    reg.core().seal();
    auto& user_created = reg.core().signal("user_created");
    auto& failed_login = reg.core().signal("failed_login");

    outcome out;
    beacon::plugin_host host(reg);
    host.load(std::shared_ptr<beacon::plugin>(create()));
    std::cout << "loaded plugin \"" << host.names().at(0) << "\" from " << path << "\n";
    out.calls_loaded += user_created.send("signup", {{"user", "alice"}});
    out.calls_loaded += failed_login.send("mallory");
    out.calls_loaded += failed_login.send("bob");  // the plugin listens to mallory's failures only

    // unload() gives the plugin back; dropping it here destroys it before the library closes.
    host.unload("audit");
    out.calls_unloaded += user_created.send("signup", {{"user", "carol"}});
    out.calls_unloaded += failed_login.send("mallory");
    out.receivers_left = user_created.receiver_count() + failed_login.receiver_count();
    out.same_default_registry = plugin_default_registry() == &beacon::default_registry();
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const char* path = argc > 1 ? argv[1] : BEACON_AUDIT_PLUGIN;
    const auto out = run(path);
    if (!out) return 1;
    // Printed once the library is closed, so that a crash there cannot pass for success.
    std::cout << "library closed, plugin receivers called while loaded: " << out->calls_loaded
              << ", after unload: " << out->receivers_left << " receivers left, " << out->calls_unloaded
              << " called\n";
    std::cout << "the library's default_registry() is the host's: " << std::boolalpha << out->same_default_registry
              << "\n";
}
