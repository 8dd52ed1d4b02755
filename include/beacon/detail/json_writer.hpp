#pragma once
// Internals of the wire formats: a JSON writer that appends nlohmann::json values to a string in
// one of two byte-exact styles, checking UTF-8 as it goes, without building a document first.
//   compact: the bytes of nlohmann's dump() (no spaces, UTF-8 kept, controls escaped);
//   python:  the bytes of Python's json.dumps() with its defaults (", " and ": ", ensure_ascii).

#include <beacon/error.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace beacon::detail {

/// Which bytes a json_writer produces.
enum class json_style { compact, python };

/// What a json_writer throws for a value it cannot write: `path` is a JSON pointer relative to the
/// value written (filled in as the exception leaves each container), `what` says why.
struct unwritable_value {
    std::string path;  ///< Where, e.g. "/title" or "/tags/2".
    std::string what;  ///< Why, e.g. "invalid UTF-8 (byte 0xff at offset 3)".
};

/// The length of the valid UTF-8 sequence starting at `s[i]` (1 to 4), or 0 when the bytes there
/// are not one (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, cut short).
inline std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t& code_point) noexcept {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char b0 = byte(0);
    std::size_t n = 0;
    std::uint32_t min = 0, lo = 0x80, hi = 0xBF;
    if (b0 < 0x80) {
        code_point = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2, code_point = b0 & 0x1Fu, min = 0x80;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3, code_point = b0 & 0x0Fu, min = 0x800;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F;  // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4, code_point = b0 & 0x07u, min = 0x10000;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;  // nothing past U+10FFFF
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const unsigned char b = byte(k);
        if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
        code_point = (code_point << 6) | (b & 0x3Fu);
    }
    return code_point >= min ? n : 0;
}

/// Appends JSON values to `out` in `style`; throws unwritable_value for invalid UTF-8, for an
/// array or object nested deeper than `max_depth` (before writing it: the recursion is bounded)
/// and, in the python style, for values Python's json.dumps would not write as JSON (NaN,
/// infinities, binary).
class json_writer {
public:
    /// A writer appending to `out`, refusing containers past level `max_depth`.
    json_writer(std::string& out, json_style style, std::size_t max_depth) noexcept
        : out_(out), style_(style), max_depth_(max_depth) {}

    /// The separator between the members or elements of a container.
    std::string_view comma() const noexcept { return style_ == json_style::python ? ", " : ","; }
    /// The separator between a key and its value.
    std::string_view colon() const noexcept { return style_ == json_style::python ? ": " : ":"; }

    /// Writes `v`, an array or object of which is at nesting level `level` (its members at
    /// `level + 1`); one stack frame per level, at most `max_depth` of them.
    void value(const nlohmann::json& v, std::size_t level) {
        using t = nlohmann::json::value_t;
        if (v.is_structured() && level > max_depth_) {
            throw unwritable_value{"", "nests deeper than " + std::to_string(max_depth_) +
                                           " levels in the wire shape (json_limits::max_depth)"};
        }
        switch (v.type()) {
            case t::object: {
                out_ += '{';
                bool first = true;
                for (auto it = v.cbegin(); it != v.cend(); ++it) {
                    if (!first) out_ += comma();
                    first = false;
                    try {
                        string(it.key());
                    } catch (unwritable_value& bad) {
                        bad.path = "/" + escape_token(it.key());
                        bad.what = "the key has " + bad.what;
                        throw;
                    }
                    out_ += colon();
                    try {
                        value(it.value(), level + 1);
                    } catch (unwritable_value& bad) {
                        bad.path = "/" + escape_token(it.key()) + bad.path;
                        throw;
                    }
                }
                out_ += '}';
                return;
            }
            case t::array: {
                out_ += '[';
                for (std::size_t i = 0; i < v.size(); ++i) {
                    if (i) out_ += comma();
                    try {
                        value(v[i], level + 1);
                    } catch (unwritable_value& bad) {
                        bad.path = "/" + std::to_string(i) + bad.path;
                        throw;
                    }
                }
                out_ += ']';
                return;
            }
            case t::string:
                string(v.get_ref<const std::string&>());
                return;
            case t::boolean:
                out_ += v.get<bool>() ? "true" : "false";
                return;
            case t::null:
                out_ += "null";
                return;
            case t::number_integer:
                integer(v.get<std::int64_t>());
                return;
            case t::number_unsigned:
                integer(v.get<std::uint64_t>());
                return;
            case t::number_float:
                number(v.get<double>());
                return;
            case t::binary:
            case t::discarded:
                if (style_ == json_style::python) throw unwritable_value{"", "a binary value, which JSON cannot hold"};
                out_ += v.dump();
                return;
        }
    }

    /// Writes an integer.
    template <class Int>
    void integer(Int n) {
        char buffer[24];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, n).ptr;
        out_.append(buffer, static_cast<std::size_t>(end - buffer));
    }

    /// Writes a floating-point number as nlohmann (compact) or Python's float repr (python) does.
    void number(double x) {
        if (style_ == json_style::compact) {
            out_ += nlohmann::json(x).dump();  // its own shortest form ("null" when not finite)
            return;
        }
        if (!std::isfinite(x)) {
            throw unwritable_value{"", std::string("a non-finite number, which Python would write as ") +
                                           (std::isnan(x) ? "NaN" : x > 0 ? "Infinity" : "-Infinity") +
                                           ", not JSON"};
        }
        python_float(x);
    }

    /// Writes `s` as a JSON string; throws unwritable_value when it is not valid UTF-8.
    void string(std::string_view s) {
        // The bytes go straight into `out_`, grown first to what `s` takes when nothing in it is
        // escaped, plus `slack`; an escape that leaves less room grows it again (room()).
        std::size_t at = out_.size();
        out_.resize(at + 1 + s.size() + slack);
        char* o = out_.data();
        o[at++] = '"';
        const char* const begin = s.data();
        const char* const end = begin + s.size();
        const char* p = begin;
        for (;;) {
            if (end - p >= 16) {  // 16 bytes copied at once, then the plain ones among them kept
                const std::size_t plain = copy_plain16(p, o + at);
                p += plain, at += plain;
                if (plain == 16) continue;
            } else {
                if (end - p >= 8) {  // 8 to 15 bytes left: a word at once (plain_ascii), then byte by byte
                    std::memcpy(o + at, p, 8);
                    const std::size_t plain = plain_ascii(p);
                    p += plain, at += plain;
                }
                while (p != end && is_plain(static_cast<unsigned char>(*p))) o[at++] = *p++;
                if (p == end) break;
            }
            const auto i = static_cast<std::size_t>(p - begin);
            std::uint32_t cp = 0;
            const std::size_t n = utf8_sequence(s, i, cp);
            if (n == 0) {
                out_.resize(at);  // left partly written, without the room it was grown by
                invalid_utf8(s, i);
            }
            p += n;
            if (style_ == json_style::compact && cp >= 0x7F) {  // kept as it is (UTF-8, or DEL)
                std::memcpy(o + at, p - n, n);
                at += n;
                continue;
            }
            at += escape(cp, o + at);
            const auto left = static_cast<std::size_t>(end - p);
            if (out_.size() - at < left + slack) o = room(at, left);
        }
        o[at++] = '"';
        out_.resize(at);
    }

private:
    // What string() keeps in `out_` beyond the input left to write: the closing quote, a 16-byte
    // store from the last byte written, and an escape's 12 bytes (a surrogate pair).
    static constexpr std::size_t slack = 1 + 16 + 12;

    // Grows `out_`, written up to `at`, for `left` more bytes of input; returns its new data().
    char* room(std::size_t at, std::size_t left) {
        out_.resize(std::max(at + left + slack, out_.size() + out_.size() / 2));
        return out_.data();
    }

    // Whether the byte `c` is written as it is in either style: printable ASCII (0x20 to 0x7E)
    // other than '"' and '\\'.
    static bool is_plain(unsigned char c) noexcept { return c >= 0x20 && c < 0x7F && c != '"' && c != '\\'; }

    // Copies the 16 bytes at `p` to `o` and returns how many of them, from the first, are plain
    // (16 when all are): one SSE2 test where it is there (every x86-64), else two of 8 bytes.
    static std::size_t copy_plain16(const char* p, char* o) noexcept {
        std::memcpy(o, p, 16);
#if defined(__SSE2__)
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        // Signed: a byte from 0x80 up is below 0x20 too, as a control is.
        const __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
        const __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
        const __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
        const __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
        const auto special = static_cast<unsigned>(
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(low, del), _mm_or_si128(quote, backslash))));
        return special == 0 ? 16 : static_cast<std::size_t>(__builtin_ctz(special));
#else
        const std::size_t first = plain_ascii(p);
        return first != 8 ? first : 8 + plain_ascii(p + 8);
#endif
    }

    // How many of the 8 bytes at `p`, from the first, are written as they are in either style:
    // printable ASCII (0x20 to 0x7E) other than '"' and '\\'. Word-at-a-time tests ("Bit
    // Twiddling Hacks", hasless and haszero): a byte that is not plain always shows, and the
    // lowest one shown is the first (a false one can only follow a true one; on a big-endian
    // machine, where the first byte is the highest, a word with any is left to the byte loop).
    static std::size_t plain_ascii(const char* p) noexcept {
        constexpr std::uint64_t ones = 0x0101010101010101u;
        constexpr std::uint64_t highs = 0x8080808080808080u;
        std::uint64_t v = 0;
        std::memcpy(&v, p, sizeof v);
        const auto below = [&](std::uint64_t x, std::uint64_t n) { return (x - ones * n) & ~x & highs; };
        const auto any = [&](std::uint64_t c) { return below(v ^ (ones * c), 1); };
        const std::uint64_t special = (v & highs) | below(v, 0x20) | any('"') | any('\\') | any(0x7F);
        if (special == 0) return 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        return static_cast<std::size_t>(__builtin_ctzll(special)) / 8;
#else
        return 0;
#endif
    }

    // Throws what string() throws for the byte at `i` of `s` (out of line: string() stays small).
    [[noreturn]] static void invalid_utf8(std::string_view s, std::size_t i) {
        char hex[8];
        to_hex(hex, static_cast<unsigned char>(s[i]), 2);
        throw unwritable_value{"", "invalid UTF-8 (byte 0x" + std::string(hex, 2) + " at offset " + std::to_string(i) +
                                       " of a string of " + std::to_string(s.size()) + " bytes)"};
    }

    static void to_hex(char* out, std::uint32_t v, int digits) noexcept {
        constexpr char hex[] = "0123456789abcdef";
        for (int k = digits - 1; k >= 0; --k, v >>= 4) out[k] = hex[v & 15];
    }

    // A JSON pointer reference token for an error path: '~' and '/' escaped as RFC 6901 says.
    static std::string escape_token(const std::string& key) {
        std::string out;
        for (char c : key) {
            if (c == '~') {
                out += "~0";
            } else if (c == '/') {
                out += "~1";
            } else {
                out += c;
            }
        }
        return out;
    }

    // Writes the escape of `cp` (a code point that string() does not keep as it is) at `o`: 2,
    // 6 or 12 bytes; returns how many.
    static std::size_t escape(std::uint32_t cp, char* o) noexcept {
        o[0] = '\\';
        switch (cp) {
            case '"': return o[1] = '"', 2;
            case '\\': return o[1] = '\\', 2;
            case '\b': return o[1] = 'b', 2;
            case '\f': return o[1] = 'f', 2;
            case '\n': return o[1] = 'n', 2;
            case '\r': return o[1] = 'r', 2;
            case '\t': return o[1] = 't', 2;
            default: break;
        }
        if (cp < 0x10000) return unicode_escape(cp, o);
        const std::uint32_t v = cp - 0x10000;  // a surrogate pair, as Python writes it
        unicode_escape(0xD800 + (v >> 10), o);
        return 6 + unicode_escape(0xDC00 + (v & 0x3FF), o + 6);
    }

    // Writes "\\u" and the 4 hex digits of `unit` at `o`; returns 6.
    static std::size_t unicode_escape(std::uint32_t unit, char* o) noexcept {
        o[0] = '\\', o[1] = 'u';
        to_hex(o + 2, unit, 4);
        return 6;
    }

    // Python's repr(float): the shortest digits that read back the same value, written with an
    // exponent when the decimal point falls before the 4th leading zero or after 16 digits
    // (1e-05, 1e+16), otherwise positionally with at least one digit after the point (100.0).
    void python_float(double x) {
        char buffer[32];
        const auto end = std::to_chars(buffer, buffer + sizeof buffer, x, std::chars_format::scientific).ptr;
        std::string_view sci(buffer, static_cast<std::size_t>(end - buffer));  // "-1.2345e+17"
        if (!sci.empty() && sci.front() == '-') {
            out_ += '-';
            sci.remove_prefix(1);
        }
        const auto e = sci.find('e');
        std::string digits;
        for (char c : sci.substr(0, e)) {
            if (c != '.') digits += c;
        }
        int exponent = 0;
        std::from_chars(sci.data() + e + 1 + (sci[e + 1] == '+'), sci.data() + sci.size(), exponent);
        const int point = exponent + 1;  // digits d1 d2 ... with the decimal point after `point` of them
        const int count = static_cast<int>(digits.size());
        if (point > -4 && point <= 16) {
            if (point <= 0) {
                out_ += "0.";
                out_.append(static_cast<std::size_t>(-point), '0');
                out_ += digits;
            } else if (point < count) {
                out_.append(digits, 0, static_cast<std::size_t>(point));
                out_ += '.';
                out_.append(digits, static_cast<std::size_t>(point), std::string::npos);
            } else {
                out_ += digits;
                out_.append(static_cast<std::size_t>(point - count), '0');
                out_ += ".0";
            }
            return;
        }
        out_ += digits[0];
        if (count > 1) {
            out_ += '.';
            out_.append(digits, 1, std::string::npos);
        }
        out_ += exponent < 0 ? "e-" : "e+";
        const int magnitude = exponent < 0 ? -exponent : exponent;
        if (magnitude < 10) out_ += '0';
        integer(magnitude);
    }

    std::string& out_;
    json_style style_;
    std::size_t max_depth_;
};

}  // namespace beacon::detail
