#pragma once
/// \file
/// Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric scheme "v1"): the
/// signing secret, `sign` for the side that sends webhooks and `verify` for a receiver. HMAC-SHA256 of
/// "<webhook-id>.<webhook-timestamp>.<body>" under the secret, in base64, prefixed with "v1,".

#include <beacon/error.hpp>
#include <beacon/outbound/detail/crypto.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

/// Webhooks (optional part, CMake target beacon::outbound): Standard Webhooks signatures.
namespace beacon::outbound {

class signing_secret;

namespace detail {
inline std::string signature_base64(const signing_secret& secret, std::string_view id, std::int64_t timestamp,
                                    std::string_view body);
}  // namespace detail

/// A symmetric signing secret: 24 to 64 random bytes, written "whsec_" + base64. It is never
/// printed: no operator<<, and no error message quotes it; `text()` is the one way to get it out.
class signing_secret {
public:
    /// The prefix of a secret's text form.
    static constexpr std::string_view prefix = "whsec_";
    /// The fewest key bytes a secret may have (the specification's recommendation).
    static constexpr std::size_t min_size = 24;
    /// The most key bytes a secret may have (the specification's recommendation).
    static constexpr std::size_t max_size = 64;
    /// The longest text after the prefix: the padded base64 of `max_size` bytes.
    static constexpr std::size_t max_text_size = 4 * ((max_size + 2) / 3);

    /// Reads "whsec_" + padded standard base64 of 24 to 64 bytes; anything else throws
    /// config_error naming `alias` and the JSON pointer `key`, saying what was wrong without
    /// quoting the secret.
    static signing_secret parse(std::string_view text, const std::string& alias = "",
                                const std::string& key = "/secret") {
        const auto refuse = [&](const std::string& why) {
            return config_error(alias, key,
                                "a signing secret is \"whsec_\" and the base64 of 24 to 64 bytes; this one " + why);
        };
        if (text.empty()) throw refuse("is empty");
        if (text.substr(0, prefix.size()) != prefix) throw refuse("does not start with \"whsec_\"");
        const std::string_view encoded = text.substr(prefix.size());
        if (encoded.size() > max_text_size)  // before any work on it: its length is the caller's
            throw refuse("is too long (" + std::to_string(encoded.size()) + " characters after \"whsec_\", at most " +
                         std::to_string(max_text_size) + ")");
        const std::size_t bad = detail::base64_error_at(encoded);
        if (bad != std::string_view::npos)
            throw refuse("is not base64 (at character " + std::to_string(prefix.size() + bad + 1) + ")");
        if (encoded.size() % 4 != 0)
            throw refuse("is not padded base64 (" + std::to_string(encoded.size()) +
                         " characters after \"whsec_\", not a multiple of 4)");
        auto bytes = detail::base64_decode(encoded);
        if (!bytes) throw refuse("is not canonical base64 (its last character has stray bits)");
        if (bytes->size() < min_size || bytes->size() > max_size)
            throw refuse("has " + std::to_string(bytes->size()) + " bytes");
        return signing_secret(std::move(*bytes));
    }

    /// A new secret of 32 random bytes (OpenSSL's RAND_bytes); throws transport_error when the
    /// generator fails.
    static signing_secret generate() { return signing_secret(detail::random_bytes(32)); }

    /// The secret's text form, "whsec_" + base64, to hand to the receiver: the one deliberate way
    /// to get the secret out. Keep it out of logs.
    std::string text() const { return std::string(prefix) + detail::base64_encode(key_); }

    /// The number of key bytes (24 to 64).
    std::size_t size() const noexcept { return key_.size(); }

    /// A copy of `other`.
    signing_secret(const signing_secret& other) = default;
    /// Takes `other`'s key (which is left empty).
    signing_secret(signing_secret&& other) noexcept = default;
    /// Replaces the key with a copy of `other`'s (the one it had is wiped, whatever its length).
    signing_secret& operator=(const signing_secret& other) {
        signing_secret copy(other);
        key_.swap(copy.key_);  // the old key leaves with `copy`, whose destructor wipes it
        return *this;
    }
    /// Replaces the key with `other`'s (wiping the one it had).
    signing_secret& operator=(signing_secret&& other) noexcept {
        if (this != &other) {
            detail::wipe(key_);
            key_ = std::move(other.key_);
        }
        return *this;
    }
    /// Overwrites the key's bytes (OPENSSL_cleanse) before its memory is freed.
    ~signing_secret() { detail::wipe(key_); }

private:
    explicit signing_secret(std::string key) : key_(std::move(key)) {}

    friend std::string detail::signature_base64(const signing_secret&, std::string_view, std::int64_t,
                                                std::string_view);

    std::string key_;
};

namespace detail {
/// The base64 of the HMAC-SHA256 of "<id>.<timestamp>.<body>" under `secret`.
inline std::string signature_base64(const signing_secret& secret, std::string_view id, std::int64_t timestamp,
                                    std::string_view body) {
    if (secret.key_.empty()) throw misuse_error("outbound: signing with a secret that was moved from (it has no key)");
    std::string content;
    const std::string seconds = std::to_string(timestamp);
    content.reserve(id.size() + seconds.size() + body.size() + 2);
    content.append(id).append(1, '.').append(seconds).append(1, '.').append(body);
    const auto mac = hmac_sha256(secret.key_, content);
    return base64_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}
}  // namespace detail

/// The `webhook-signature` value for a message: "v1," + base64(HMAC-SHA256(secret,
/// "<id>.<timestamp>.<body>")); `timestamp` is in seconds since the Unix epoch, `body` the exact
/// bytes sent.
inline std::string sign(const signing_secret& secret, std::string_view id, std::int64_t timestamp,
                        std::string_view body) {
    return "v1," + detail::signature_base64(secret, id, timestamp, body);
}

/// Whether `signature_header` (one or more space-separated "<version>,<base64>" entries) holds a
/// "v1" entry that signs `id`, `timestamp` and `body` under `secret`, compared in constant time;
/// other versions ("v1a", ...) are ignored. It does not look at the clock: a receiver must also
/// refuse stale timestamps (replays), or call the overload that takes `now`.
inline bool verify(const signing_secret& secret, std::string_view id, std::int64_t timestamp, std::string_view body,
                   std::string_view signature_header) {
    const std::string expected = detail::signature_base64(secret, id, timestamp, body);
    bool found = false;
    while (!signature_header.empty()) {
        const std::size_t space = signature_header.find(' ');
        const std::string_view entry = signature_header.substr(0, space);
        signature_header = space == std::string_view::npos ? std::string_view() : signature_header.substr(space + 1);
        if (entry.substr(0, 3) == "v1," && detail::constant_time_equal(entry.substr(3), expected)) found = true;
    }
    return found;
}

/// The default allowed distance between a message's timestamp and the receiver's clock (the
/// reference libraries' five minutes).
inline constexpr std::chrono::seconds timestamp_tolerance{5 * 60};

/// As the overload above, and false too when `timestamp` is more than `tolerance` away from `now`
/// (in the past or the future), which refuses replayed messages.
inline bool verify(const signing_secret& secret, std::string_view id, std::int64_t timestamp, std::string_view body,
                   std::string_view signature_header, std::chrono::system_clock::time_point now,
                   std::chrono::seconds tolerance = timestamp_tolerance) {
    const std::int64_t clock =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::int64_t limit = tolerance.count();
    if (timestamp < clock - limit || timestamp > clock + limit) return false;
    return verify(secret, id, timestamp, body, signature_header);
}

}  // namespace beacon::outbound
