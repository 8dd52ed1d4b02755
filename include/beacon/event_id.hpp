#pragma once
/// \file
/// An event's identity: a UUID (RFC 9562), version 7 when beacon makes it, so that ids sort by time.

#include <boost/uuid/uuid.hpp>

#include <pthread.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace beacon {

/// An event's id: a UUID of 16 bytes, nil until the event is stamped. beacon makes version 7
/// UUIDs (RFC 9562 section 5.7, with the sub-millisecond fraction of section 6.2 method 3): 48 bits
/// of Unix milliseconds, 12 bits of the millisecond's fraction, 62 random bits; so ids sort by the
/// time they were made, and two made anywhere are the same with a probability of about 2^-62 per
/// pair made in the same 244 ns. A host may set any UUID of its own.
class event_id {
public:
    /// The nil id (all zero): not stamped yet.
    constexpr event_id() noexcept = default;
    /// The id holding `value`.
    explicit event_id(const boost::uuids::uuid& value) noexcept : value_(value) {}

    /// A new version 7 id for the time `since_epoch` (nanoseconds since the Unix epoch), its random
    /// bits from this thread's xoshiro256** generator, seeded with 256 bits of the operating
    /// system's entropy (getentropy()) and seeded again in a child after fork().
    static event_id make(std::chrono::nanoseconds since_epoch) noexcept;
    /// A new version 7 id for now (the system clock).
    static event_id make() noexcept { return make(std::chrono::system_clock::now().time_since_epoch()); }

    /// The id written as `text`: 36 characters, 8-4-4-4-12 hexadecimal digits of either case
    /// (RFC 9562's form); anything else (braces, no hyphens, other lengths) is nothing.
    static std::optional<event_id> parse(std::string_view text) noexcept;

    /// Whether the id is nil (the event is not stamped).
    bool is_nil() const noexcept { return value_.is_nil(); }
    /// The UUID's version (7 for the ids beacon makes, 4 for random ones, 0 for nil).
    int version() const noexcept { return value_.data[6] >> 4; }
    /// For a version 7 id, the Unix milliseconds it was made at; 0 for other versions.
    std::int64_t unix_ms() const noexcept {
        if (version() != 7) return 0;
        std::int64_t ms = 0;
        for (std::size_t i = 0; i < 6; ++i) ms = (ms << 8) | value_.data[i];
        return ms;
    }
    /// The 16 bytes, as Boost.Uuid holds them.
    const boost::uuids::uuid& uuid() const noexcept { return value_; }

    /// Writes the 36 characters of the lower-case 8-4-4-4-12 form at `out`.
    void write(char* out) const noexcept {
        constexpr char digits[] = "0123456789abcdef";
        for (std::size_t i = 0; i < 16; ++i) {
            if (i == 4 || i == 6 || i == 8 || i == 10) *out++ = '-';
            *out++ = digits[value_.data[i] >> 4];
            *out++ = digits[value_.data[i] & 0xf];
        }
    }
    /// The lower-case 8-4-4-4-12 form ("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d"); "" for nil.
    std::string to_string() const {
        if (is_nil()) return {};
        std::string out(36, '\0');
        write(out.data());
        return out;
    }

    /// Equality of the 16 bytes.
    friend bool operator==(const event_id& a, const event_id& b) noexcept { return a.value_ == b.value_; }
    /// Inequality of the 16 bytes.
    friend bool operator!=(const event_id& a, const event_id& b) noexcept { return !(a == b); }
    /// Byte order, which is time order for version 7 ids.
    friend bool operator<(const event_id& a, const event_id& b) noexcept { return a.value_ < b.value_; }

private:
    boost::uuids::uuid value_{};
};

namespace detail {

// Counts fork()s, so that a child reseeds its threads' generators instead of repeating the ids
// its parent goes on making.
inline std::atomic<std::uint64_t>& fork_generation() noexcept {
    static std::atomic<std::uint64_t> generation{0};
    return generation;
}

inline void count_fork() noexcept { fork_generation().fetch_add(1, std::memory_order_relaxed); }

// A per-thread xoshiro256** generator (Blackman and Vigna, 2018: 256 bits of state, period
// 2^256 - 1) seeded with 256 bits from the operating system's entropy (getentropy(): getrandom()
// on Linux), seeded again in a child after fork(). Written here rather than taken from <random>:
// std::mt19937_64 keeps 2.5 KiB of state per thread and made a stamp 6 ns slower, and <random>
// was compile time for every file that includes beacon (docs/performance.md, P11 and P5).
struct id_generator {
    std::array<std::uint64_t, 4> state{};
    std::uint64_t generation = 0;
    bool seeded = false;

    void seed() {
        if (getentropy(state.data(), sizeof state) != 0) throw std::runtime_error("no entropy to seed event ids with");
        if ((state[0] | state[1] | state[2] | state[3]) == 0) state[0] = 1;  // the one state that stays zero
    }

    static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }

    // 64 random bits.
    std::uint64_t next() {
        static const bool at_fork_registered = (pthread_atfork(nullptr, nullptr, count_fork), true);
        (void)at_fork_registered;
        const std::uint64_t now = fork_generation().load(std::memory_order_relaxed);
        if (!seeded || generation != now) {
            seed();
            seeded = true;
            generation = now;
        }
        const std::uint64_t result = rotl(state[1] * 5, 7) * 9;
        const std::uint64_t t = state[1] << 17;
        state[2] ^= state[0];
        state[3] ^= state[1];
        state[1] ^= state[2];
        state[0] ^= state[3];
        state[2] ^= t;
        state[3] = rotl(state[3], 45);
        return result;
    }
};

}  // namespace detail

inline event_id event_id::make(std::chrono::nanoseconds since_epoch) noexcept {
    thread_local detail::id_generator generator;
    std::uint64_t random = 0;
    try {
        random = generator.next();
    } catch (...) {
        // The operating system gave no entropy to seed with (getentropy() failed): the
        // clock's bits and a per-process counter still make the id unique within this process.
        static std::atomic<std::uint64_t> counter{0};
        random = counter.fetch_add(1, std::memory_order_relaxed) ^
                        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    }
    const auto ns = static_cast<std::uint64_t>(since_epoch.count() < 0 ? 0 : since_epoch.count());
    const std::uint64_t ms = ns / 1000000;
    const std::uint64_t fraction = ((ns % 1000000) << 12) / 1000000;  // 12 bits
    // unix_ts_ms (48) | ver 7 (4) | rand_a: the fraction (12); var 0b10 (2) | rand_b (62)
    const std::uint64_t high = (ms << 16) | 0x7000 | fraction;
    const std::uint64_t low = (random & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
    boost::uuids::uuid u{};
    for (std::size_t i = 0; i < 8; ++i) {
        u.data[i] = static_cast<std::uint8_t>(high >> (8 * (7 - i)));
        u.data[8 + i] = static_cast<std::uint8_t>(low >> (8 * (7 - i)));
    }
    return event_id(u);
}

inline std::optional<event_id> event_id::parse(std::string_view text) noexcept {
    if (text.size() != 36) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    boost::uuids::uuid u{};
    std::size_t at = 0;
    for (std::size_t i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            if (text[at++] != '-') return std::nullopt;
        }
        const int high = nibble(text[at]);
        const int low = nibble(text[at + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        u.data[i] = static_cast<std::uint8_t>((high << 4) | low);
        at += 2;
    }
    return event_id(u);
}

}  // namespace beacon

/// \cond STD_SPECIALIZATIONS (doxygen finds no scope for a specialization of std::hash)
/// Hashes an event_id (its 16 bytes), for unordered containers.
template <>
struct std::hash<beacon::event_id> {
    /// The hash of the id's bytes.
    std::size_t operator()(const beacon::event_id& id) const noexcept {
        std::uint64_t a = 0;
        std::uint64_t b = 0;
        for (std::size_t i = 0; i < 8; ++i) {
            a = (a << 8) | id.uuid().data[i];
            b = (b << 8) | id.uuid().data[8 + i];
        }
        return static_cast<std::size_t>(a ^ (b * 0x9e3779b97f4a7c15ULL));
    }
};
/// \endcond
