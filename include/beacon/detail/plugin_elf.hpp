#pragma once
// What plugin_loader checks in a plugin library's file before dlopen runs any of its code: an ELF
// shared object of this process's class, byte order and machine, whose dynamic symbol table
// defines beacon_plugin_handshake (an initialized object of at least the handshake's size, whose
// bytes are read from the file) and beacon_plugin_create (a function). The file is outside input:
// every offset, size and count is checked against the file's size before it is read. The check
// reads through a reader (bounded_file, or bounded_bytes over bytes already in memory).

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace beacon::detail {

/// The outcome of reading a plugin library's file: `problem` is empty when the file passes, else
/// the cause, worded to follow `plugin library "<file>" `; `handshake` holds the handshake's
/// bytes as the file stores them.
struct plugin_file_check {
    std::string problem;
    std::vector<unsigned char> handshake;
};

/// Reads bounded pieces of one file; every read is checked against the file's size.
class bounded_file {
public:
    explicit bounded_file(const std::filesystem::path& file) : in_(file, std::ios::binary) {
        std::error_code ec;
        const auto size = std::filesystem::file_size(file, ec);
        size_ = ec ? 0 : static_cast<std::uint64_t>(size);
    }
    bool open() const { return static_cast<bool>(in_); }
    /// The file's size in bytes (0 when unknown).
    std::uint64_t size() const noexcept { return size_; }
    /// Reads `n` bytes at `offset` into `out`; false when they do not all lie in the file.
    bool read(std::uint64_t offset, std::uint64_t n, void* out) {
        if (offset > size_ || n > size_ - offset) return false;
        in_.seekg(static_cast<std::streamoff>(offset));
        in_.read(static_cast<char*>(out), static_cast<std::streamsize>(n));
        return static_cast<std::uint64_t>(in_.gcount()) == n;
    }

private:
    std::ifstream in_;
    std::uint64_t size_ = 0;
};

/// Reads bounded pieces of bytes in memory, as bounded_file reads a file's.
class bounded_bytes {
public:
    explicit bounded_bytes(std::string_view bytes) noexcept : bytes_(bytes) {}
    /// The bytes' size.
    std::uint64_t size() const noexcept { return bytes_.size(); }
    /// Copies `n` bytes at `offset` into `out`; false when they do not all lie in the bytes.
    bool read(std::uint64_t offset, std::uint64_t n, void* out) const noexcept {
        if (offset > bytes_.size() || n > bytes_.size() - offset) return false;
        if (n != 0) std::memcpy(out, bytes_.data() + offset, static_cast<std::size_t>(n));
        return true;
    }

private:
    std::string_view bytes_;
};

/// The ELF machine this process runs on (0 when this header does not know it: not checked).
constexpr std::uint16_t host_elf_machine() noexcept {
#if defined(__x86_64__)
    return EM_X86_64;
#elif defined(__i386__)
    return EM_386;
#elif defined(__aarch64__)
    return EM_AARCH64;
#elif defined(__arm__)
    return EM_ARM;
#elif defined(__riscv)
    return EM_RISCV;
#elif defined(__powerpc64__)
    return EM_PPC64;
#elif defined(__s390x__)
    return EM_S390;
#else
    return 0;
#endif
}

/// Checks what `in` (a bounded_file or bounded_bytes) reads as a plugin library for a handshake
/// of `handshake_size` bytes (see the file's comment); reads at most the ELF header, the section
/// headers, the dynamic symbol and string tables and the handshake's bytes.
template <class Reader>
plugin_file_check check_plugin_image(Reader& in, std::size_t handshake_size) {
    constexpr bool is64 = sizeof(void*) == 8;
    using ehdr = std::conditional_t<is64, Elf64_Ehdr, Elf32_Ehdr>;
    using shdr = std::conditional_t<is64, Elf64_Shdr, Elf32_Shdr>;
    using sym = std::conditional_t<is64, Elf64_Sym, Elf32_Sym>;
    const auto not_elf = [](const std::string& why) {
        return plugin_file_check{"is not an ELF shared library: " + why, {}};
    };

    ehdr header{};
    if (!in.read(0, sizeof header, &header) || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0) {
        return not_elf("no ELF header");
    }
    const unsigned char host_class = is64 ? ELFCLASS64 : ELFCLASS32;
    if (header.e_ident[EI_CLASS] != host_class) {
        return not_elf(std::string("built for ") + (header.e_ident[EI_CLASS] == ELFCLASS64 ? "64" : "32") +
                       "-bit code, this host is " + (is64 ? "64" : "32") + "-bit");
    }
    const std::uint16_t probe = 1;
    unsigned char first_byte = 0;
    std::memcpy(&first_byte, &probe, 1);
    const unsigned char host_data = first_byte == 1 ? ELFDATA2LSB : ELFDATA2MSB;
    if (header.e_ident[EI_DATA] != host_data) return not_elf("built for another byte order");
    if (header.e_type != ET_DYN) return not_elf("not a shared object (ELF type " + std::to_string(header.e_type) + ")");
    if (host_elf_machine() != 0 && header.e_machine != host_elf_machine()) {
        return not_elf("built for machine " + std::to_string(header.e_machine) + ", this host is machine " +
                       std::to_string(host_elf_machine()));
    }
    if (header.e_shentsize != sizeof(shdr) || header.e_shnum == 0) return not_elf("it has no section headers");
    // Checked against the file's size before the table is allocated (up to 65535 headers, 4 MiB).
    const std::uint64_t table_size = std::uint64_t{sizeof(shdr)} * header.e_shnum;
    if (header.e_shoff > in.size() || table_size > in.size() - header.e_shoff) {
        return not_elf("its section headers lie outside the file");
    }
    std::vector<shdr> sections(header.e_shnum);
    if (!in.read(header.e_shoff, table_size, sections.data())) return not_elf("its section headers lie outside the file");

    // The dynamic symbol table and its string table.
    const shdr* dynsym = nullptr;
    for (const auto& s : sections) {
        if (s.sh_type == SHT_DYNSYM) dynsym = &s;
    }
    if (dynsym == nullptr) return {"has no dynamic symbol table: not a beacon plugin (export one with BEACON_PLUGIN)", {}};
    if (dynsym->sh_entsize != sizeof(sym) || dynsym->sh_link >= sections.size() ||
        sections[dynsym->sh_link].sh_type != SHT_STRTAB) {
        return not_elf("its dynamic symbol table is malformed");
    }
    const shdr& strtab = sections[dynsym->sh_link];
    if (dynsym->sh_size > in.size() || strtab.sh_size > in.size()) {
        return not_elf("its dynamic symbol table lies outside the file");
    }
    std::vector<sym> symbols(dynsym->sh_size / sizeof(sym));
    std::string names(strtab.sh_size, '\0');
    if (!in.read(dynsym->sh_offset, std::uint64_t{symbols.size()} * sizeof(sym), symbols.data()) ||
        !in.read(strtab.sh_offset, strtab.sh_size, names.data())) {
        return not_elf("its dynamic symbol table lies outside the file");
    }
    const auto find = [&](std::string_view wanted) -> const sym* {
        for (const auto& s : symbols) {
            if (s.st_name >= names.size() || s.st_shndx == SHN_UNDEF) continue;
            const char* name = names.data() + s.st_name;
            const std::size_t room = names.size() - s.st_name;
            if (wanted.size() < room && std::memcmp(name, wanted.data(), wanted.size()) == 0 &&
                name[wanted.size()] == '\0') {
                return &s;
            }
        }
        return nullptr;
    };

    const sym* handshake = find("beacon_plugin_handshake");
    if (handshake == nullptr) {
        return {"has no symbol beacon_plugin_handshake: not a beacon plugin (export one with BEACON_PLUGIN)", {}};
    }
    // At least the handshake's size: AddressSanitizer pads a global and its symbol with a redzone.
    if (handshake->st_size < handshake_size) {
        return {"is an incompatible build: its beacon_plugin_handshake is " + std::to_string(handshake->st_size) +
                    " bytes, this host reads " + std::to_string(handshake_size),
                {}};
    }
    // Its bytes, from the section holding it: an initialized object (not in .bss) inside it.
    const auto type = [](const sym& s) { return static_cast<unsigned>(s.st_info & 0xf); };
    if (type(*handshake) != STT_OBJECT || handshake->st_shndx >= sections.size()) {
        return {"has a beacon_plugin_handshake that is not an object (export one with BEACON_PLUGIN)", {}};
    }
    const shdr& holder = sections[handshake->st_shndx];
    if (holder.sh_type != SHT_PROGBITS || handshake->st_value < holder.sh_addr ||
        handshake->st_value - holder.sh_addr > holder.sh_size ||
        handshake_size > holder.sh_size - (handshake->st_value - holder.sh_addr)) {
        return {"has a beacon_plugin_handshake outside initialized data (export one with BEACON_PLUGIN)", {}};
    }
    // Where the file stores it: the section's offset plus the symbol's place in the section, a sum
    // that must not wrap around (a section "at" 2^64 - 1 would then read the file's first bytes).
    const std::uint64_t within = handshake->st_value - holder.sh_addr;
    plugin_file_check result;
    result.handshake.resize(handshake_size);
    if (holder.sh_offset > in.size() || within > in.size() - holder.sh_offset ||
        !in.read(holder.sh_offset + within, handshake_size, result.handshake.data())) {
        return not_elf("its beacon_plugin_handshake lies outside the file");
    }

    const sym* create = find("beacon_plugin_create");
    if (create == nullptr) return {"has no symbol beacon_plugin_create (export it with BEACON_PLUGIN)", {}};
    if (type(*create) != STT_FUNC || create->st_value == 0) {
        return {"has a beacon_plugin_create that is not a function (export it with BEACON_PLUGIN)", {}};
    }
    return result;
}

/// Checks the file `file` as a plugin library (see check_plugin_image).
inline plugin_file_check check_plugin_file(const std::filesystem::path& file, std::size_t handshake_size) {
    bounded_file in(file);
    if (!in.open()) return {"cannot be read", {}};
    return check_plugin_image(in, handshake_size);
}

/// Checks a plugin library's bytes, already in memory (see check_plugin_image).
inline plugin_file_check check_plugin_bytes(std::string_view bytes, std::size_t handshake_size) {
    bounded_bytes in(bytes);
    return check_plugin_image(in, handshake_size);
}

}  // namespace beacon::detail
