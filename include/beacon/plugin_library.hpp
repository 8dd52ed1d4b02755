#pragma once
/// \file
/// Plugins in shared libraries (POSIX dlopen): BEACON_PLUGIN exports a plugin's entry point and a
/// handshake; plugin_loader opens a library, checks the handshake before calling anything in it,
/// and loads the plugin on a plugin_host.
/// Link `${CMAKE_DL_LIBS}` (beacon::beacon does).

#include <beacon/detail/excerpt.hpp>
#include <beacon/detail/names.hpp>
#include <beacon/detail/plugin_elf.hpp>
#include <beacon/error.hpp>
#include <beacon/failure.hpp>
#include <beacon/plugin.hpp>
#include <beacon/version.hpp>

#include <dlfcn.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

/// Exports a symbol of a plugin library (default visibility, C linkage).
#define BEACON_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

/// Makes this shared library a beacon plugin whose plugin is a default-constructed `plugin_type`:
/// exports the handshake the loader checks first, and the entry point it calls then.
#define BEACON_PLUGIN(plugin_type)                                                                    \
    BEACON_PLUGIN_EXPORT const ::beacon::plugin_handshake beacon_plugin_handshake =                    \
        ::beacon::plugin_handshake::this_build();                                                      \
    BEACON_PLUGIN_EXPORT ::beacon::plugin* beacon_plugin_create() { return new plugin_type(); }

namespace beacon {

/// What a plugin library and its host must agree on, read (not called) before anything else:
/// objects of beacon, Boost.Signals2, nlohmann/json and the standard library cross the boundary
/// by reference, so both sides must lay them out alike.
struct plugin_handshake {
    /// The layout of this structure; the loader reads this field first.
    std::uint32_t layout;
    /// beacon's version, major, minor and patch: a header-only library's types change between
    /// any two releases, so host and plugin must use the same one.
    std::uint32_t beacon_version[3];
    /// BOOST_VERSION (Boost.Signals2's connection and slot types cross the boundary).
    std::uint32_t boost_version;
    /// nlohmann/json's version, major * 10000 + minor * 100 + patch.
    std::uint32_t json_version;
    /// The standard library: 1 libstdc++ with the C++11 std::string ABI, 2 libstdc++ with the old
    /// copy-on-write ABI, 3 libc++, 0 another one.
    std::uint32_t stdlib;
    /// 1 when the standard library's debug mode (_GLIBCXX_DEBUG) changes its containers' layout.
    std::uint32_t stdlib_debug;
    /// sizeof(void*) and sizeof(std::string), as a last layout check.
    std::uint32_t pointer_size;
    std::uint32_t string_size;  ///< sizeof(std::string).

    /// The layout this header reads.
    static constexpr std::uint32_t current_layout = 1;

    /// The handshake of the code being compiled now.
    static constexpr plugin_handshake this_build() noexcept {
        return {current_layout,
                {BEACON_VERSION_MAJOR, BEACON_VERSION_MINOR, BEACON_VERSION_PATCH},
                BOOST_VERSION,
                NLOHMANN_JSON_VERSION_MAJOR * 10000u + NLOHMANN_JSON_VERSION_MINOR * 100u + NLOHMANN_JSON_VERSION_PATCH,
#if defined(_LIBCPP_VERSION)
                3,
#elif defined(__GLIBCXX__) && _GLIBCXX_USE_CXX11_ABI
                1,
#elif defined(__GLIBCXX__)
                2,
#else
                0,
#endif
#if defined(_GLIBCXX_DEBUG)
                1,
#else
                0,
#endif
                static_cast<std::uint32_t>(sizeof(void*)), static_cast<std::uint32_t>(sizeof(std::string))};
    }

    /// Why a plugin with handshake `other` cannot run in a host with this one; empty when it can.
    std::string incompatibility(const plugin_handshake& other) const {
        const auto dotted = [](const std::uint32_t (&v)[3]) {
            return std::to_string(v[0]) + "." + std::to_string(v[1]) + "." + std::to_string(v[2]);
        };
        const auto differ = [](const char* what, std::uint32_t plugin, std::uint32_t host) {
            return std::string("built with ") + what + " " + std::to_string(plugin) + ", this host with " +
                   std::to_string(host);
        };
        if (std::memcmp(other.beacon_version, beacon_version, sizeof beacon_version) != 0) {
            return "built against beacon " + dotted(other.beacon_version) + ", this host uses beacon " +
                   dotted(beacon_version);
        }
        if (other.boost_version != boost_version) return differ("BOOST_VERSION", other.boost_version, boost_version);
        if (other.json_version != json_version) return differ("nlohmann/json", other.json_version, json_version);
        if (other.stdlib != stdlib) {
            return differ("standard library ABI (1 libstdc++, 2 libstdc++ old string ABI, 3 libc++)", other.stdlib,
                          stdlib);
        }
        if (other.stdlib_debug != stdlib_debug) return differ("_GLIBCXX_DEBUG", other.stdlib_debug, stdlib_debug);
        if (other.pointer_size != pointer_size) return differ("sizeof(void*)", other.pointer_size, pointer_size);
        if (other.string_size != string_size) return differ("sizeof(std::string)", other.string_size, string_size);
        return {};
    }
};

namespace detail {

/// How much of a file name or a loader's message a plugin_error quotes (as a detail::excerpt).
inline constexpr std::size_t plugin_quote_bytes = 200;

inline std::string dl_error() {
    const char* message = dlerror();
    return message ? message : "unknown dlopen error";
}

[[noreturn]] inline void refuse_plugin_file(const std::filesystem::path& file, const std::string& cause) {
    throw plugin_error("plugin library \"" + excerpt(file.string(), plugin_quote_bytes) + "\" " + cause);
}

// Refuses `file` unless its handshake `theirs` matches the host's.
inline void check_plugin_handshake(const std::filesystem::path& file, const plugin_handshake& theirs) {
    if (theirs.layout != plugin_handshake::current_layout) {
        refuse_plugin_file(file, "is an incompatible build: handshake layout " + std::to_string(theirs.layout) +
                                     ", this host reads " + std::to_string(plugin_handshake::current_layout));
    }
    if (auto why = plugin_handshake::this_build().incompatibility(theirs); !why.empty()) {
        refuse_plugin_file(file, "is an incompatible build: " + why);
    }
}

// What plugin_loader::load_file checks before dlopen (a regular file, its ELF contents, its
// handshake's bytes against the host's): the handshake the file stores, or a plugin_error.
inline plugin_handshake check_plugin_library(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) refuse_plugin_file(file, "does not exist (no such file)");
    const auto checked = check_plugin_file(file, sizeof(plugin_handshake));
    if (!checked.problem.empty()) refuse_plugin_file(file, checked.problem);
    plugin_handshake stored{};
    std::memcpy(&stored, checked.handshake.data(), sizeof stored);
    check_plugin_handshake(file, stored);
    return stored;
}

// Refuses a plugin name that plugin_loader::load cannot look up (name_error, plugin_error).
inline void check_plugin_name(std::string_view name) {
    check_name("plugin", name);
    if (name.find('/') != std::string_view::npos) {
        throw plugin_error("plugin name \"" + excerpt(name, plugin_quote_bytes) + "\" has a '/': name a plugin, or use load_file");
    }
}

}  // namespace detail

/// Opens plugin libraries and loads their plugins on a plugin_host. A library's file is read first
/// (an ELF shared object of this machine with a handshake and an entry point; the handshake's bytes
/// compared with the host's); only then is it opened with RTLD_NOW | RTLD_LOCAL (its static
/// initializers run then, as for any library), and its `beacon_plugin_create` called.
///
/// A library refused from its file is never mapped; one refused after it was opened (its entry
/// point throws or makes no plugin) is closed again. Once its entry point has made a plugin, the
/// library stays mapped until the process exits (RTLD_NODELETE): beacon is header-only, so a
/// signal, a sender bucket or a Boost.Signals2 slot made by the plugin's code carries pointers
/// into that code and may live on in the host's registry after the plugin is gone. Unloading a
/// plugin disconnects its receivers and destroys the plugin object once no send uses it; the
/// library's handle is released with the plugin object. Loading the same file again makes a new
/// plugin object from the same mapping (its static variables keep their values); a changed file
/// at the same path is not reloaded. Thread-safe; the host must outlive the loader.
class plugin_loader {
public:
    /// A loader for `host`, looking plugins up by name in `search_path`, in order. What fails
    /// where no caller can catch it (unloading in the destructor) is reported to `on_failure` as a
    /// `failure` of part::plugin (empty: the process-wide sink, see set_failure_sink).
    explicit plugin_loader(plugin_host& host, std::vector<std::filesystem::path> search_path = {},
                           failure_handler on_failure = {})
        : host_(&host), search_path_(std::move(search_path)), on_failure_(std::move(on_failure)) {}
    plugin_loader(const plugin_loader&) = delete;
    plugin_loader& operator=(const plugin_loader&) = delete;

    /// Unloads the plugins this loader loaded that are still loaded. A plugin that fails to unload
    /// (which a destructor cannot throw) is reported, with `where` its file and `receiver` its
    /// name, and the others are unloaded still.
    ~plugin_loader() noexcept {
        std::map<std::string, std::filesystem::path, std::less<>> loaded;
        try {
            loaded = files();
        } catch (...) {
            report({part::plugin, "~plugin_loader", "", nullptr, std::current_exception()}, on_failure_);
        }
        for (const auto& [name, file] : loaded) {
            try {
                if (host_->loaded(name)) host_->unload(name);
            } catch (...) {
                report({part::plugin, file.string(), name, nullptr, std::current_exception()}, on_failure_);
            }
        }
    }

    /// Checks the plugin library at `file` (an ELF shared object of this machine defining a
    /// handshake of the right size and an entry point function, read from the file), compares its
    /// handshake with the host's, and only then opens it, creates its plugin and loads it on the
    /// host; returns the plugin's name. Every failure is a plugin_error naming the file and the
    /// cause (no such file, not an ELF shared library, no handshake or entry point, an
    /// incompatible build, an entry point that throws or makes no plugin), except what
    /// plugin_host::load throws. A library refused before its entry point made a plugin is not
    /// left mapped (see the class's comment).
    std::string load_file(const std::filesystem::path& file) {
        // Checked in the file first: a library refused here is never mapped and runs nothing.
        detail::check_plugin_library(file);

        // Opened without RTLD_NODELETE, so that closing a library refused from here on unmaps it.
        void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr) fail(file, "cannot be opened: " + detail::excerpt(detail::dl_error(), detail::plugin_quote_bytes));
        const std::unique_ptr<void, int (*)(void*)> opened(handle, dlclose);
        // The mapped handshake: the file was checked, but the mapping is what the code uses.
        const auto* theirs = static_cast<const plugin_handshake*>(dlsym(handle, "beacon_plugin_handshake"));
        if (theirs == nullptr) fail(file, "has no symbol beacon_plugin_handshake once opened");
        check_handshake(file, *theirs);
        using create_function = plugin*();
        auto* create = reinterpret_cast<create_function*>(dlsym(handle, "beacon_plugin_create"));
        if (create == nullptr) fail(file, "has no symbol beacon_plugin_create once opened");

        std::unique_ptr<plugin> owned;  // destroyed, on a refusal, while the library is still open
        std::string threw;
        try {
            owned.reset(create());
        } catch (const std::exception& e) {  // its what() is copied before the library can close
            threw = std::string("failed in beacon_plugin_create: ") + e.what();
        } catch (...) {
            threw = "failed in beacon_plugin_create: unknown exception";
        }
        if (!threw.empty()) fail(file, detail::excerpt(threw, detail::plugin_quote_bytes));
        if (!owned) fail(file, "beacon_plugin_create returned no plugin");

        // From now on the plugin's code may leave pointers into the library in the host: it stays
        // mapped (RTLD_NODELETE). The handle is released with the plugin object (dlclose never
        // unmaps it then: safe to call from the plugin's own code, where the last reference to
        // the plugin may be dropped).
        void* resident = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD | RTLD_NODELETE);
        if (resident == nullptr) fail(file, "cannot be kept loaded: " + detail::excerpt(detail::dl_error(), detail::plugin_quote_bytes));
        std::shared_ptr<void> library(resident, [](void* h) { dlclose(h); });
        std::shared_ptr<plugin> made(owned.release(), [library](plugin* p) { delete p; });
        std::string name = made->name();
        host_->load(std::move(made));
        std::lock_guard lock(mutex_);
        loaded_[name] = file;
        return name;
    }

    /// Loads the plugin called `name` from the first of `lib<name>.so` and `<name>.so` found in the
    /// search path. Throws plugin_error naming what was tried when none exists.
    std::string load(std::string_view name) {
        detail::check_plugin_name(name);
        std::string tried;
        for (const auto& dir : search_path_) {
            for (const std::string& candidate : {"lib" + std::string(name) + ".so", std::string(name) + ".so"}) {
                const auto file = dir / candidate;
                std::error_code ec;
                if (std::filesystem::is_regular_file(file, ec)) return load_file(file);
                tried += (tried.empty() ? "" : ", ") + file.string();
            }
        }
        throw plugin_error("plugin \"" + std::string(name) + "\" not found in the search path" +
                           (tried.empty() ? std::string(" (empty)") : " (tried " + tried + ")"));
    }

    /// CKAN's `ckan.plugins = a b c`: loads the plugins named in `names` (separated by spaces), in
    /// order, and returns their names. All or nothing: when one fails, those loaded before it
    /// are unloaded and the error is thrown.
    std::vector<std::string> load_all(std::string_view names) {
        std::vector<std::string> done;
        std::istringstream words{std::string(names)};
        try {
            for (std::string name; words >> name;) done.push_back(load(name));
        } catch (...) {
            for (auto it = done.rbegin(); it != done.rend(); ++it) unload(*it);
            throw;
        }
        return done;
    }

    /// Unloads plugin `name` (plugin_host::unload) and gives the plugin object back. Throws
    /// plugin_error when no plugin of that name is loaded.
    std::shared_ptr<plugin> unload(std::string_view name) {
        auto gone = host_->unload(name);
        std::lock_guard lock(mutex_);
        if (const auto it = loaded_.find(name); it != loaded_.end()) loaded_.erase(it);
        return gone;
    }

    /// The file each plugin this loader loaded came from, by plugin name.
    std::map<std::string, std::filesystem::path, std::less<>> files() const {
        std::lock_guard lock(mutex_);
        return loaded_;
    }

private:
    static void check_handshake(const std::filesystem::path& file, const plugin_handshake& theirs) {
        detail::check_plugin_handshake(file, theirs);
    }
    [[noreturn]] static void fail(const std::filesystem::path& file, const std::string& cause) {
        detail::refuse_plugin_file(file, cause);
    }

    plugin_host* host_;
    std::vector<std::filesystem::path> search_path_;
    failure_handler on_failure_;
    mutable std::mutex mutex_;
    std::map<std::string, std::filesystem::path, std::less<>> loaded_;
};

}  // namespace beacon
