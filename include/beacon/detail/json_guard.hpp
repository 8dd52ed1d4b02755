#pragma once
// Guards for JSON that comes from outside or goes out: an iterative nesting-depth check for a
// JSON value (nlohmann's copy, comparison and dump recurse once per level), a SAX handler that
// bounds nesting while nlohmann parses, and JSON pointers cut short for error messages.

#include <beacon/detail/excerpt.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::detail {

/// A JSON pointer as text for an error message: each reference token cut to a short excerpt,
/// and a pointer still over 512 bytes cut in its middle.
inline std::string pointer_text(const nlohmann::json::json_pointer& at) {
    const std::string full = at.to_string();
    std::string out;
    std::size_t begin = 1;  // `full` is empty or starts with '/'
    while (begin <= full.size()) {
        std::size_t end = full.find('/', begin);
        if (end == std::string::npos) end = full.size();
        out += '/' + excerpt(std::string_view(full).substr(begin, end - begin), 32);
        begin = end + 1;
    }
    if (out.size() <= 512) return out;
    return out.substr(0, 240) + "/...(" + std::to_string(out.size()) + " bytes)..." + out.substr(out.size() - 240);
}

/// Where a reader is in a JSON document, kept for error messages only: each level is a view of
/// its key (or its index) and a pointer to the level above, both on the readers' stack, so going
/// down a level costs no allocation; pointer() makes the JSON pointer when an error needs one.
/// A path must not outlive the path and the key it was made from: pass it down, never keep it.
class json_path {
public:
    json_path() noexcept = default;  ///< The document itself.
    /// The member `key` of the object at this path.
    json_path operator/(std::string_view key) const noexcept { return json_path(this, key, 0, false); }
    /// The element `index` of the array at this path.
    json_path operator/(std::size_t index) const noexcept { return json_path(this, {}, index, true); }
    /// The JSON pointer this path names.
    nlohmann::json::json_pointer pointer() const {
        std::vector<const json_path*> levels;
        for (const json_path* p = this; p->up_ != nullptr; p = p->up_) levels.push_back(p);
        nlohmann::json::json_pointer at;
        for (auto it = levels.rbegin(); it != levels.rend(); ++it) {
            if ((*it)->is_index_) {
                at /= (*it)->index_;
            } else {
                at /= std::string((*it)->key_);
            }
        }
        return at;
    }

private:
    json_path(const json_path* up, std::string_view key, std::size_t index, bool is_index) noexcept
        : up_(up), key_(key), index_(index), is_index_(is_index) {}

    const json_path* up_ = nullptr;
    std::string_view key_;
    std::size_t index_ = 0;
    bool is_index_ = false;
};

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
    // The open containers, the first 8 in place: checking a shallow value allocates nothing.
    std::array<frame, 8> near{};
    std::vector<frame> far;
    std::size_t open = 0;
    const auto at_level = [&](std::size_t i) -> frame& { return i < near.size() ? near[i] : far[i - near.size()]; };
    const auto push = [&](const json& container) {
        if (open < near.size()) {
            near[open] = {&container, container.cbegin()};
        } else {
            far.push_back({&container, container.cbegin()});
        }
        ++open;
    };
    push(value);
    while (open != 0) {
        frame& top = at_level(open - 1);
        if (top.next == top.container->cend()) {
            if (--open >= near.size()) far.pop_back();
            continue;
        }
        const json& child = *top.next;
        ++top.next;
        if (!child.is_structured()) continue;
        if (base + open + 1 > max_depth) {  // `child` is at level base + open + 1
            json::json_pointer at;
            for (std::size_t i = 0; i < open; ++i) {
                const frame& f = at_level(i);
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
        push(child);
    }
    return std::nullopt;
}

/// What bounded_dom_parser throws at the first container past its depth limit.
struct depth_exceeded {
    nlohmann::json::json_pointer at;  ///< Where the container that is one level too deep starts.
};

/// A SAX handler for nlohmann::json::sax_parse: nlohmann's own DOM builder (the one
/// nlohmann::json::parse uses), plus a nesting check that throws depth_exceeded as soon as the
/// text opens a container deeper than `max_depth` (the document's top container is level 1),
/// before anything is built below it. It tracks where the parser is, to name that place.
/// (nlohmann's parser-callback variant is not used: it rescans the enclosing object after each
/// nested object ends, which makes `{"0":{},"1":{},...}` quadratic in time.)
class bounded_dom_parser {
public:
    using json = nlohmann::json;

    /// Builds into `result`; nesting is bounded by `max_depth`.
    bounded_dom_parser(json& result, std::size_t max_depth) : dom_(result, false), max_depth_(max_depth) {}

    /// Where nlohmann reported a syntax error (see parse_error), else 0.
    std::size_t error_position() const noexcept { return error_position_; }
    /// nlohmann's message for the syntax error, else empty.
    const std::string& error_message() const noexcept { return error_message_; }

    bool null() { return value_done(dom_.null()); }                             ///< SAX event.
    bool boolean(bool v) { return value_done(dom_.boolean(v)); }                ///< SAX event.
    bool number_integer(json::number_integer_t v) { return value_done(dom_.number_integer(v)); }  ///< SAX event.
    bool number_unsigned(json::number_unsigned_t v) { return value_done(dom_.number_unsigned(v)); }  ///< SAX event.
    bool number_float(json::number_float_t v, const json::string_t& s) { return value_done(dom_.number_float(v, s)); }  ///< SAX event.
    bool string(json::string_t& v) { return value_done(dom_.string(v)); }       ///< SAX event.
    bool binary(json::binary_t& v) { return value_done(dom_.binary(v)); }       ///< SAX event.
    bool start_object(std::size_t n) { return enter(false) && dom_.start_object(n); }  ///< SAX event.
    bool key(json::string_t& k) {  ///< SAX event.
        frames_.back().key = k;
        return dom_.key(k);
    }
    bool end_object() { return leave(dom_.end_object()); }                      ///< SAX event.
    bool start_array(std::size_t n) { return enter(true) && dom_.start_array(n); }  ///< SAX event.
    bool end_array() { return leave(dom_.end_array()); }                        ///< SAX event.

    /// A syntax error (nlohmann::json::parse_error) or a number out of range (out_of_range):
    /// keeps where and nlohmann's message, and stops the parse.
    template <class Exception>
    bool parse_error(std::size_t position, const std::string& /*last_token*/, const Exception& ex) {
        error_position_ = position;
        error_message_ = ex.what();
        return false;
    }

private:
    struct frame {
        bool array;
        std::size_t index;  // of the next element, in an array
        std::string key;    // of the current member, in an object
    };

    bool enter(bool array) {
        if (frames_.size() + 1 > max_depth_) throw depth_exceeded{where()};
        frames_.push_back({array, 0, {}});
        return true;
    }
    bool leave(bool ok) {
        frames_.pop_back();
        return value_done(ok);
    }
    bool value_done(bool ok) noexcept {
        if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
        return ok;
    }

    json::json_pointer where() const {
        json::json_pointer at;
        for (const frame& f : frames_) {
            if (f.array) {
                at /= f.index;
            } else {
                at /= f.key;
            }
        }
        return at;
    }

    nlohmann::detail::json_sax_dom_parser<json> dom_;
    std::size_t max_depth_;
    std::vector<frame> frames_;
    std::size_t error_position_ = 0;
    std::string error_message_;
};

}  // namespace beacon::detail
