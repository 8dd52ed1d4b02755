// libFuzzer target: what plugin_loader checks before dlopen, on outside input. The input is a
// plugin name, then a 0x00, then a plugin library's bytes (any: seeds are small ELF shared
// objects with and without a handshake). The name is looked up as plugin_loader::load looks it
// up (in an empty search path: nothing is ever found, so nothing is ever opened) and checked as a
// path under that directory; the bytes are written to a file, which goes through the checks
// plugin_loader::load_file makes before dlopen (never dlopen itself), and are checked in memory.
// Contract: a name is refused with a name_error or plugin_error, a path and a file either pass or
// are refused with a plugin_error "plugin library \"<an excerpt of the path>\" <cause>" under
// 4 KiB, nothing else; the file's check and the check of the same bytes in memory agree (the same
// cause, or the same handshake); no crash, no read past the bytes (AddressSanitizer).
#include <beacon/plugin_library.hpp>
#include <beacon/registry.hpp>

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;

void require(bool ok) {
    if (!ok) std::abort();
}

// An empty search path directory and the file each input's bytes go to, removed at exit; in
// memory (/dev/shm) where there is one: truncating a file on a disk may wait for the disk.
fs::path scratch() {
    std::error_code ec;
    return fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
}

struct fixture {
    fs::path root = scratch() / ("beacon_plugin_file_fuzz." + std::to_string(::getpid()));
    fs::path empty = root / "empty";
    fs::path file = root / "libinput.so";
    beacon::registry reg;
    beacon::plugin_host host{reg};
    beacon::plugin_loader loader{host, {empty}};

    fixture() { fs::create_directories(empty); }
    ~fixture() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
};

// The pre-dlopen checks of `path`: it passes, or a plugin_error names it; returns the cause.
std::string check_library(const fs::path& path) {
    try {
        beacon::detail::check_plugin_library(path);
        return {};
    } catch (const beacon::plugin_error& refused) {
        const std::string_view what = refused.what();
        const std::string prefix =
            "[beacon.plugin_error] plugin library \"" + beacon::detail::excerpt(path.string(), 200) + "\" ";
        require(what.size() < 4096 && what.substr(0, prefix.size()) == prefix);
        return std::string(what.substr(prefix.size()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static fixture f;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto cut = in.find('\0');
    const std::string_view name = in.substr(0, cut);
    const std::string_view bytes = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);

    // The name: refused, never found (the search path is empty), never opened.
    try {
        (void)f.loader.load(name);
        std::abort();
    } catch (const beacon::name_error& bad) {
        require(std::string_view(bad.what()).size() < 4096);
    } catch (const beacon::plugin_error& bad) {
        require(std::string_view(bad.what()).size() < 4096);
    }
    (void)check_library(f.empty / name);

    // The bytes, as a file and in memory.
    {
        std::ofstream out(f.file, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        require(static_cast<bool>(out));
    }
    const std::string cause = check_library(f.file);
    const auto in_memory = beacon::detail::check_plugin_bytes(bytes, sizeof(beacon::plugin_handshake));
    if (!in_memory.problem.empty()) {
        require(cause == in_memory.problem);
        require(in_memory.handshake.empty());
    } else {
        // The ELF check passed: the handshake's bytes, then the comparison with the host's.
        require(in_memory.handshake.size() == sizeof(beacon::plugin_handshake));
        const auto from_file = beacon::detail::check_plugin_file(f.file, sizeof(beacon::plugin_handshake));
        require(from_file.problem.empty() && from_file.handshake == in_memory.handshake);
        require(cause.empty() || cause.rfind("is an incompatible build: ", 0) == 0);
    }
    return 0;
}
