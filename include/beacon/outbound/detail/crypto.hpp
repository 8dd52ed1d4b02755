#pragma once
/// \file
/// The outbound part's internals over OpenSSL's libcrypto: base64 (standard alphabet, padded),
/// HMAC-SHA256, random bytes and a constant-time comparison. Nothing here is hand-written crypto.

#include <beacon/error.hpp>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace beacon::outbound::detail {

/// Bytes as a pointer OpenSSL takes.
inline const unsigned char* bytes_of(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

/// The base64 (standard alphabet, padded with '=') of `bytes`.
inline std::string base64_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // + 1: EVP_EncodeBlock writes a NUL
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), bytes_of(bytes),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

/// Overwrites `secret`'s bytes with zeros in a way the compiler keeps (OPENSSL_cleanse).
inline void wipe(std::string& secret) noexcept {
    if (!secret.empty()) OPENSSL_cleanse(&secret[0], secret.size());
}

/// Whether `c` is in the standard base64 alphabet (padding '=' excluded).
inline bool is_base64_char(char c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/// Where `text` stops being padded standard base64: the index of the first character out of the
/// alphabet or misplaced '=', or std::string_view::npos when every character is in place. The
/// length (a multiple of 4) is the caller's to check.
inline std::size_t base64_error_at(std::string_view text) noexcept {
    std::size_t data = text.size();  // characters before the padding
    while (data > 0 && text.size() - data < 2 && text[data - 1] == '=') --data;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i < data ? !is_base64_char(text[i]) : text[i] != '=') return i;
    }
    return std::string_view::npos;
}

/// The bytes `text` encodes, or nothing when it is not canonical padded base64 (a length that is
/// no multiple of 4, a character out of place, stray bits in its last character).
inline std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0 || base64_error_at(text) != std::string_view::npos ||
        text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
        return std::nullopt;
    std::string out(text.size() / 4 * 3 + 1, '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(&out[0]), bytes_of(text),
                                  static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes: drop one byte per '='.
    std::size_t size = static_cast<std::size_t>(n);
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --size;
    out.resize(size);
    std::string again = base64_encode(out);
    const bool canonical = again == text;  // else stray bits in the last character
    wipe(again);
    if (!canonical) {
        wipe(out);
        return std::nullopt;
    }
    return out;
}

/// HMAC-SHA256 of `data` under `key`.
inline std::array<unsigned char, 32> hmac_sha256(std::string_view key, std::string_view data) {
    std::array<unsigned char, 32> mac{};
    unsigned int size = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes_of(data), data.size(), mac.data(),
             &size) == nullptr ||
        size != mac.size())
        throw transport_error("outbound: OpenSSL's HMAC-SHA256 failed");
    return mac;
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
inline bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

/// `n` bytes from OpenSSL's cryptographically secure generator; throws transport_error when it fails.
inline std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&out[0]), static_cast<int>(n)) != 1) {
        std::array<char, 256> why{};
        ERR_error_string_n(ERR_get_error(), why.data(), why.size());
        throw transport_error("outbound: OpenSSL's RAND_bytes failed: " + std::string(why.data()));
    }
    return out;
}

}  // namespace beacon::outbound::detail
