#pragma once
/// \file
/// W3C Trace Context (`traceparent`, `tracestate`) on events, and the small hook through which a
/// host's own tracer sets and reads the context of what this thread is doing.

#include <beacon/error.hpp>
#include <beacon/event_id.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace beacon {

/// A W3C Trace Context: the trace an event belongs to, the span (or event) that sent it, the
/// sampling flags, and the vendors' `tracestate`. Empty (no trace) until a tracer or a cause sets it.
struct trace_context {
    std::array<std::uint8_t, 16> trace_id{};  ///< The trace's 16 bytes; all zero: no trace.
    std::array<std::uint8_t, 8> parent_id{};   ///< The 8 bytes of the span that sent the event.
    std::uint8_t flags = 0;                    ///< trace-flags (bit 0: sampled).
    std::string state;                         ///< The `tracestate` header's value, as read.

    /// Longest `tracestate` accepted (W3C: 32 list members of at most 256 characters are
    /// allowed, and a vendor may cut it to 512 characters; beacon keeps at most this much).
    static constexpr std::size_t max_state_bytes = 512;

    /// Whether the context names a trace (its trace id is not all zero).
    bool valid() const noexcept {
        for (auto b : trace_id) {
            if (b != 0) return true;
        }
        return false;
    }

    /// The `traceparent` header's value: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>";
    /// "" when there is no trace.
    std::string traceparent() const {
        if (!valid()) return {};
        std::string out = "00-";
        hex(out, trace_id.data(), trace_id.size());
        out += '-';
        hex(out, parent_id.data(), parent_id.size());
        out += '-';
        hex(out, &flags, 1);
        return out;
    }

    /// Reads a `traceparent` value (version 00, or a later version's first four fields, as W3C
    /// asks) and a `tracestate` value; throws decode_error naming `where` (e.g. "/traceparent") for
    /// a malformed value, an all-zero trace or parent id, or a `tracestate` over max_state_bytes or
    /// holding characters outside printable ASCII.
    static trace_context parse(std::string_view traceparent, std::string_view tracestate = {},
                               const std::string& where = "/traceparent");

    /// Field-wise equality.
    friend bool operator==(const trace_context& a, const trace_context& b) {
        return a.trace_id == b.trace_id && a.parent_id == b.parent_id && a.flags == b.flags && a.state == b.state;
    }
    /// Field-wise inequality.
    friend bool operator!=(const trace_context& a, const trace_context& b) { return !(a == b); }

private:
    static void hex(std::string& out, const std::uint8_t* bytes, std::size_t n) {
        constexpr char digits[] = "0123456789abcdef";
        for (std::size_t i = 0; i < n; ++i) {
            out += digits[bytes[i] >> 4];
            out += digits[bytes[i] & 0xf];
        }
    }
};

inline trace_context trace_context::parse(std::string_view traceparent, std::string_view tracestate,
                                          const std::string& where) {
    auto bad = [&](const std::string& why) {
        std::string quoted(traceparent.substr(0, 64));
        for (char& c : quoted) {
            if (c < 0x20 || c > 0x7e) c = '?';
        }
        throw decode_error(where, why + " in traceparent \"" + quoted + (traceparent.size() > 64 ? "...\"" : "\"") +
                                      " (expected 00-<32 hex>-<16 hex>-<2 hex>)");
    };
    auto nibble = [](char c) -> int {  // lower case only, as W3C requires
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    auto read = [&](std::size_t at, std::uint8_t* out, std::size_t n, const char* what) {
        for (std::size_t i = 0; i < n; ++i) {
            const int high = nibble(traceparent[at + 2 * i]);
            const int low = nibble(traceparent[at + 2 * i + 1]);
            if (high < 0 || low < 0) bad(std::string("a ") + what + " that is not lower-case hexadecimal");
            out[i] = static_cast<std::uint8_t>((high << 4) | low);
        }
    };
    if (traceparent.size() < 55) bad("too short");
    std::uint8_t format = 0;  // the version field ("version" would shadow beacon::version)
    read(0, &format, 1, "version");
    if (format == 0xff) bad("version ff, which is invalid");
    if (format == 0 && traceparent.size() != 55) bad("trailing characters after version 00's four fields");
    if (format != 0 && traceparent.size() > 55 && traceparent[55] != '-') bad("no '-' after the flags");
    if (traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') bad("a field not followed by '-'");
    trace_context out;
    read(3, out.trace_id.data(), 16, "trace id");
    read(36, out.parent_id.data(), 8, "parent id");
    read(53, &out.flags, 1, "flags field");
    if (!out.valid()) bad("an all-zero trace id");
    bool parent = false;
    for (auto b : out.parent_id) parent = parent || b != 0;
    if (!parent) bad("an all-zero parent id");
    if (tracestate.size() > max_state_bytes) {
        throw decode_error(where == "/traceparent" ? "/tracestate" : where,
                           "tracestate of " + std::to_string(tracestate.size()) + " bytes exceeds " +
                               std::to_string(max_state_bytes) + " bytes");
    }
    for (char c : tracestate) {
        if (c < 0x20 || c > 0x7e) {
            throw decode_error(where == "/traceparent" ? "/tracestate" : where,
                               "tracestate holds a character outside printable ASCII");
        }
    }
    out.state.assign(tracestate.data(), tracestate.size());
    return out;
}

/// A host tracer's hook: fills `out` with the tracer's active context and returns true, or returns
/// false when no span is active. Called when an event is stamped outside any receiver and outside
/// any trace_scope; must not throw.
using trace_provider = bool (*)(trace_context& out) noexcept;

namespace detail {

inline std::atomic<trace_provider>& trace_provider_slot() noexcept {
    static std::atomic<trace_provider> provider{nullptr};
    return provider;
}

}  // namespace detail

/// Installs the host tracer's hook (nullptr removes it); process-wide.
inline void set_trace_provider(trace_provider provider) noexcept {
    detail::trace_provider_slot().store(provider, std::memory_order_release);
}

namespace detail {

// What this thread is doing, innermost first: the event whose receivers run (its trace and id),
// or a host's trace_scope (a trace, no cause).
struct trace_frame {
    const trace_context* trace;
    const event_id* cause;
    const trace_frame* outer;
};

inline const trace_frame*& current_frame() noexcept {
    thread_local const trace_frame* frame = nullptr;
    return frame;
}

// Makes `trace` and `cause` this thread's context until destroyed (the receivers of one event).
class frame_guard {
public:
    frame_guard(const trace_context* trace, const event_id* cause) noexcept
        : frame_{trace, cause, current_frame()} {
        current_frame() = &frame_;
    }
    frame_guard(const frame_guard&) = delete;
    frame_guard& operator=(const frame_guard&) = delete;
    ~frame_guard() { current_frame() = frame_.outer; }

private:
    trace_frame frame_;
};

}  // namespace detail

/// The trace context of what this thread is doing: the event whose receivers run now (through a
/// send, an async_receiver or a Redis consumer), or the innermost trace_scope; nullptr when neither
/// has one. A host's tracer reads it to parent its spans.
inline const trace_context* current_trace() noexcept {
    for (const auto* frame = detail::current_frame(); frame != nullptr; frame = frame->outer) {
        if (frame->trace != nullptr && frame->trace->valid()) return frame->trace;
    }
    return nullptr;
}

/// The id of the event whose receivers run in this thread now; nullptr outside any receiver.
inline const event_id* current_cause() noexcept {
    for (const auto* frame = detail::current_frame(); frame != nullptr; frame = frame->outer) {
        if (frame->cause != nullptr) return frame->cause;
    }
    return nullptr;
}

/// Makes `context` this thread's trace context while it lives (e.g. the traceparent of the HTTP
/// request being handled): events stamped meanwhile, outside any receiver, carry it.
class trace_scope {
public:
    /// Sets `context` as this thread's context until the scope ends.
    explicit trace_scope(trace_context context) : context_(std::move(context)), guard_(&context_, nullptr) {}
    trace_scope(const trace_scope&) = delete;
    trace_scope& operator=(const trace_scope&) = delete;

private:
    trace_context context_;
    detail::frame_guard guard_;
};

}  // namespace beacon
