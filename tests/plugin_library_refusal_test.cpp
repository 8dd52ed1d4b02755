// Plugin libraries the loader refuses (issue 21, item 4): each failure is a plugin_error naming
// the file and the cause; what can be checked in the file (ELF header, dynamic symbols, the
// handshake's bytes) is checked before dlopen runs the library's initializers; a library that had
// to be opened and is refused is closed: no rejected library stays mapped.
#include <beacon/plugin_library.hpp>
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <dlfcn.h>
#include <elf.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using Catch::Matchers::Message;

// The largest single allocation made through operator new while `watching` (for the test of a
// file whose header claims a huge section header table).
namespace {
std::atomic<bool> watching{false};
std::atomic<std::size_t> largest{0};
}  // namespace

// g++ 12 sees free() in the replacement operator delete below and, inlining through std's
// allocators, pairs it with a `new` expression (-Wmismatched-new-delete): but every operator new
// of this program is the one below, which allocates with malloc.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    if (watching.load(std::memory_order_relaxed) && n > largest.load(std::memory_order_relaxed)) largest = n;
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
// Every form that may pair with the deletes below is replaced, so that each pair is malloc/free
// (else ASan sees its own nothrow new freed here: alloc-dealloc-mismatch).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n == 0 ? 1 : n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace {

const std::filesystem::path plugin_dir = BEACON_TEST_PLUGIN_DIR;

std::filesystem::path library(const std::string& name) { return plugin_dir / ("lib" + name + ".so"); }

struct refusal_fixture {
    beacon::registry reg;
    beacon::plugin_host host{reg};
    beacon::plugin_loader loader{host};
};

std::string prefix(const std::filesystem::path& file) {
    return "[beacon.plugin_error] plugin library \"" + file.string() + "\" ";
}

// Whether `file` is mapped into this process, from /proc/self/maps.
bool mapped(const std::filesystem::path& file) {
    std::ifstream maps("/proc/self/maps");
    const std::string text{std::istreambuf_iterator<char>(maps), std::istreambuf_iterator<char>()};
    REQUIRE_FALSE(text.empty());
    return text.find(file.string()) != std::string::npos;
}

// Whether the named broken library's static initializers ran (see tests/plugins/broken_plugin.cpp).
bool initialized(const std::string& name) {
    const char* ran = std::getenv("BEACON_TEST_BROKEN_INITIALIZED");
    return ran != nullptr && std::string(ran).find(name + " ") != std::string::npos;
}

// A file under the test's own temporary directory holding `bytes`.
std::filesystem::path write_file(const std::string& name, const std::string& bytes) {
    const auto dir = std::filesystem::temp_directory_path() / "beacon_plugin_refusal";
    std::filesystem::create_directories(dir);
    const auto file = dir / name;
    std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
    return file;
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE_METHOD(refusal_fixture, "an entry point that throws comes out of load_file as a plugin_error naming the file",
                 "[plugin_library][errors]") {
    const auto file = library("broken_throws");
    CHECK_THROWS_MATCHES(loader.load_file(file), beacon::plugin_error,
                         Message(prefix(file) + "failed in beacon_plugin_create: the plugin's database is down"));
    CHECK(host.names().empty());
    CHECK_FALSE(mapped(file));  // opened, refused, closed
}

TEST_CASE_METHOD(refusal_fixture, "a null entry point is refused before the library is opened", "[plugin_library][errors]") {
    const auto null_entry = library("broken_null_entry");
    CHECK_THROWS_MATCHES(loader.load_file(null_entry), beacon::plugin_error,
                         Message(prefix(null_entry) +
                                 "has a beacon_plugin_create that is not a function (export it with BEACON_PLUGIN)"));
    CHECK_FALSE(initialized("broken_null_entry"));
    // An entry point that returns no plugin had to be called: the library is closed again.
    const auto returns_null = library("broken_returns_null");
    CHECK_THROWS_MATCHES(loader.load_file(returns_null), beacon::plugin_error,
                         Message(prefix(returns_null) + "beacon_plugin_create returned no plugin"));
    CHECK_FALSE(mapped(returns_null));
    CHECK(host.names().empty());
}

TEST_CASE_METHOD(refusal_fixture, "a 1-byte handshake symbol is refused, never read past its end", "[plugin_library][errors]") {
    const auto file = library("broken_tiny_handshake");
    // 1 byte, or 32 under AddressSanitizer, which pads the symbol with a redzone: short either way.
    CHECK_THROWS_MATCHES(loader.load_file(file), beacon::plugin_error,
                         Catch::Matchers::Predicate<beacon::plugin_error>([&](const beacon::plugin_error& e) {
                             const std::string what = e.what();
                             return what.rfind(prefix(file) + "is an incompatible build: its beacon_plugin_handshake is ",
                                               0) == 0 &&
                                    what.find(" bytes, this host reads " +
                                              std::to_string(sizeof(beacon::plugin_handshake))) != std::string::npos;
                         }));
    CHECK_FALSE(initialized("broken_tiny_handshake"));
}

TEST_CASE_METHOD(refusal_fixture, "a file that is not an ELF shared library of this machine is refused before dlopen",
                 "[plugin_library][errors]") {
    const std::string elf = read_file(library("counter"));
    REQUIRE(elf.size() > 4096);
    const auto text = write_file("libtext.so", "not a library\n");
    CHECK_THROWS_MATCHES(loader.load_file(text), beacon::plugin_error,
                         Message(prefix(text) + "is not an ELF shared library: no ELF header"));
    const auto empty = write_file("libempty.so", "");
    CHECK_THROWS_MATCHES(loader.load_file(empty), beacon::plugin_error,
                         Message(prefix(empty) + "is not an ELF shared library: no ELF header"));
    const auto truncated = write_file("libtruncated.so", elf.substr(0, 100));
    CHECK_THROWS_MATCHES(loader.load_file(truncated), beacon::plugin_error,
                         Message(prefix(truncated) + "is not an ELF shared library: its section headers lie "
                                                     "outside the file"));
    std::string other_class = elf;
    other_class[4] = other_class[4] == 2 ? 1 : 2;  // EI_CLASS: 32-bit <-> 64-bit
    const auto wrong_class = write_file("libwrong_class.so", other_class);
    CHECK_THROWS_WITH(loader.load_file(wrong_class), Contains("is not an ELF shared library: built for "));
    std::string other_machine = elf;
    other_machine[18] = static_cast<char>(other_machine[18] ^ 0x40);  // e_machine, low byte
    const auto wrong_machine = write_file("libwrong_machine.so", other_machine);
    CHECK_THROWS_WITH(loader.load_file(wrong_machine), Contains("is not an ELF shared library: built for machine "));
    for (const auto& file : {text, empty, truncated, wrong_class, wrong_machine}) {
        INFO(file);
        CHECK_FALSE(mapped(file));
    }
}

TEST_CASE_METHOD(refusal_fixture, "ten rejected libraries leave nothing mapped", "[plugin_library][errors]") {
    const std::vector<std::string> refused_before_dlopen{"counter_foreign", "counter_bare", "broken_null_entry",
                                                         "broken_tiny_handshake", "broken_no_entry"};
    std::vector<std::filesystem::path> files;
    for (const auto& name : refused_before_dlopen) files.push_back(library(name));
    files.push_back(library("broken_throws"));
    files.push_back(library("broken_returns_null"));
    files.push_back(write_file("libnot_elf.so", std::string(4096, 'x')));
    std::string bad_sections = read_file(library("counter"));
    bad_sections.replace(0x28, 8, std::string(8, '\x7f'));  // e_shoff (64-bit): far past the end
    files.push_back(write_file("libbad_sections.so", bad_sections));
    files.push_back(write_file("libshort.so", std::string("\x7f" "ELF", 4)));
    REQUIRE(files.size() == 10);
    for (const auto& file : files) {
        INFO(file);
        CHECK_THROWS_AS(loader.load_file(file), beacon::plugin_error);
    }
    for (const auto& file : files) {
        INFO(file);
        CHECK_FALSE(mapped(file));
    }
    for (const auto& name : refused_before_dlopen) {
        INFO(name);
        if (name.rfind("broken_", 0) == 0) CHECK_FALSE(initialized(name));
    }
    CHECK(host.names().empty());
}

TEST_CASE_METHOD(refusal_fixture, "a handshake whose section's offset wraps around past 2^64 is refused, not read from the file's start",
                 "[plugin_library][errors]") {
    // The handshake symbol and its section are moved (in the file's tables only) so that its place
    // in the section exceeds its real file offset, and the section's offset is that real offset
    // minus its place, wrapped around: 2^64 - 4096. The sum wrapped back onto the real bytes,
    // the file passed, and the mapped handshake was then read at the symbol's bogus address.
    std::string elf = read_file(library("counter"));
    REQUIRE(elf.size() > sizeof(Elf64_Ehdr));
    Elf64_Ehdr header{};
    std::memcpy(&header, elf.data(), sizeof header);
    REQUIRE(header.e_ident[EI_CLASS] == ELFCLASS64);
    std::vector<Elf64_Shdr> sections(header.e_shnum);
    std::memcpy(sections.data(), elf.data() + header.e_shoff, sections.size() * sizeof(Elf64_Shdr));
    std::size_t symbol_at = 0;  // the handshake symbol's offset in the file
    Elf64_Sym symbol{};
    for (const auto& s : sections) {
        if (s.sh_type != SHT_DYNSYM) continue;
        const Elf64_Shdr& names = sections[s.sh_link];
        for (std::size_t i = 0; i < s.sh_size / sizeof(Elf64_Sym); ++i) {
            Elf64_Sym sym{};
            std::memcpy(&sym, elf.data() + s.sh_offset + i * sizeof sym, sizeof sym);
            if (std::string(elf.data() + names.sh_offset + sym.st_name) == "beacon_plugin_handshake") {
                symbol_at = s.sh_offset + i * sizeof sym;
                symbol = sym;
            }
        }
    }
    REQUIRE(symbol_at != 0);
    Elf64_Shdr& section = sections[symbol.st_shndx];
    const std::uint64_t real_offset = section.sh_offset + (symbol.st_value - section.sh_addr);
    const std::uint64_t place = real_offset + 4096;  // the handshake's place in the moved section
    symbol.st_value += std::uint64_t{1} << 40;
    section.sh_addr = symbol.st_value - place;
    section.sh_size = place + sizeof(beacon::plugin_handshake);
    section.sh_offset = real_offset - place;  // 2^64 - 4096
    std::memcpy(elf.data() + symbol_at, &symbol, sizeof symbol);
    std::memcpy(elf.data() + header.e_shoff, sections.data(), sections.size() * sizeof(Elf64_Shdr));
    const auto file = write_file("libwrapped_offset.so", elf);
    CHECK_THROWS_MATCHES(loader.load_file(file), beacon::plugin_error,
                         Message(prefix(file) + "is not an ELF shared library: its beacon_plugin_handshake lies "
                                                "outside the file"));
    CHECK_FALSE(mapped(file));
}

TEST_CASE_METHOD(refusal_fixture, "a short file claiming 65535 section headers is refused without allocating their table",
                 "[plugin_library][errors]") {
    // Found by plugin_file_fuzz (its slow executions): a 64-byte ELF header claiming 65535
    // section headers of 64 bytes made the check allocate and zero 4 MiB before reading them.
    Elf64_Ehdr header{};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_DYN;
    header.e_machine = beacon::detail::host_elf_machine();
    header.e_ehsize = sizeof header;
    header.e_shentsize = sizeof(Elf64_Shdr);
    header.e_shnum = 65535;
    const auto file = write_file("libhuge_table.so", std::string(reinterpret_cast<const char*>(&header), sizeof header));
    largest = 0;
    watching = true;
    CHECK_THROWS_MATCHES(loader.load_file(file), beacon::plugin_error,
                         Message(prefix(file) + "is not an ELF shared library: its section headers lie outside the file"));
    watching = false;
    CHECK(largest.load() < 256 * 1024);
}
