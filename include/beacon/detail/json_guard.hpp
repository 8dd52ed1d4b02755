#pragma once
// Guards for JSON that comes from outside or goes out: short printable excerpts for error
// messages, an iterative nesting-depth check for a JSON value (nlohmann's copy, comparison and
// dump recurse once per level), and a parser callback that counts nesting while nlohmann parses.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::detail {

/// At most `max` bytes of `text`, printable: bytes outside printable ASCII become \xNN, and a cut
/// is marked with "..." and the full length. Error messages quote bad input only through this.
inline std::string excerpt(std::string_view text, std::size_t max = 64) {
    std::string out;
    const std::size_t n = text.size() < max ? text.size() : max;
    out.reserve(n + 32);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    if (n < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

/// A JSON pointer as text for an error message: each reference token cut to a short excerpt.
inline std::string pointer_text(const nlohmann::json::json_pointer& at) {
    if (at.empty()) return {};
    const std::string full = at.to_string();
    if (full.size() <= 256) return excerpt(full, 256);
    std::string out;
    std::size_t begin = 1;  // the text starts with '/'
    while (begin <= full.size()) {
        std::size_t end = full.find('/', begin);
        if (end == std::string::npos) end = full.size();
        out += '/' + excerpt(std::string_view(full).substr(begin, end - begin), 32);
        begin = end + 1;
    }
    return out;
}

/// Where a JSON value nests deeper than `max_depth` containers, counting `value` itself (when it
/// is an array or object) as level `base + 1`: the pointer of the first container past the limit,
/// relative to `value`, or nothing. Iterative: costs no stack however deep `value` is.
inline std::optional<nlohmann::json::json_pointer> too_deep(const nlohmann::json& value, std::size_t max_depth,
                                                            std::size_t base = 0) {
    using json = nlohmann::json;
    if (!value.is_structured()) return std::nullopt;
    if (base + 1 > max_depth) return json::json_pointer();
    struct frame {
        const json* container;
        json::const_iterator next;
    };
    std::vector<frame> stack;
    stack.push_back({&value, value.cbegin()});
    while (!stack.empty()) {
        frame& top = stack.back();
        if (top.next == top.container->cend()) {
            stack.pop_back();
            continue;
        }
        const json& child = *top.next;
        ++top.next;
        if (!child.is_structured()) continue;
        if (base + stack.size() + 1 > max_depth) {  // `child` is at level base + stack.size() + 1
            json::json_pointer at;
            for (const frame& f : stack) {
                auto it = f.next;
                --it;
                if (f.container->is_object()) {
                    at /= it.key();
                } else {
                    at /= static_cast<std::size_t>(it - f.container->cbegin());
                }
            }
            return at;
        }
        stack.push_back({&child, child.cbegin()});
    }
    return std::nullopt;
}

/// The error a depth_counter reports: the pointer of the container past the limit.
struct depth_exceeded {
    nlohmann::json::json_pointer at;  ///< Where the container that is one level too deep starts.
};

/// A parser callback for nlohmann::json::parse that throws depth_exceeded as soon as the text
/// opens a container deeper than `max_depth` (the document's top container is level 1), before
/// nlohmann builds anything below it; it tracks where the parser is, to name that place.
class depth_counter {
public:
    explicit depth_counter(std::size_t max_depth) : max_depth_(max_depth) {}

    /// The callback itself (see nlohmann::json::parser_callback_t).
    bool operator()(int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using ev = nlohmann::json::parse_event_t;
        switch (event) {
            case ev::object_start:
            case ev::array_start:
                if (static_cast<std::size_t>(depth) + 1 > max_depth_) throw depth_exceeded{where()};
                frames_.push_back({event == ev::array_start, 0, {}});
                break;
            case ev::key:
                frames_.back().key = parsed.get_ref<const std::string&>();
                break;
            case ev::object_end:
            case ev::array_end:
                frames_.pop_back();
                value_done();
                break;
            case ev::value:
                value_done();
                break;
        }
        return true;
    }

private:
    struct frame {
        bool array;
        std::size_t index;  // of the next element, in an array
        std::string key;    // of the current member, in an object
    };

    void value_done() noexcept {
        if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    }

    nlohmann::json::json_pointer where() const {
        nlohmann::json::json_pointer at;
        for (const frame& f : frames_) {
            if (f.array) {
                at /= f.index;
            } else {
                at /= f.key;
            }
        }
        return at;
    }

    std::size_t max_depth_;
    std::vector<frame> frames_;
};

}  // namespace beacon::detail
