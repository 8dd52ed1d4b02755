#pragma once
/// \file
/// A message template (an e-mail's subject or body): text with `{{ field }}` placeholders filled
/// from an event. A field is one of the event's (id, type, source, sender, action, resource_name,
/// uri, user_id, timestamp) or a path into its data (`data`, `data.title`, `data.author.name`).

#include <beacon/detail/json_guard.hpp>
#include <beacon/error.hpp>
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::outbound {

/// A parsed template; rendering it cannot fail (a data path the event lacks renders as "").
class message_template {
public:
    /// The longest template text, in bytes.
    static constexpr std::size_t max_bytes = 65536;
    /// The most placeholders in one template.
    static constexpr std::size_t max_fields = 256;
    /// The most names in one data path (data.a.b... counts each).
    static constexpr std::size_t max_path = 16;

    /// An empty template.
    message_template() = default;

    /// Parses `text`; throws config_error at `key` (of `alias`) for a placeholder that is not
    /// closed, empty, names no field of an event, or for a text beyond the limits above.
    static message_template parse(std::string_view text, const std::string& alias = "", const std::string& key = "/template") {
        const auto fail = [&](std::size_t at, const std::string& why) {
            return config_error(alias, key, why + " at byte " + std::to_string(at));
        };
        if (text.size() > max_bytes) {
            throw config_error(alias, key, "a template is at most " + std::to_string(max_bytes) + " bytes, this one has " +
                                               std::to_string(text.size()));
        }
        message_template t;
        std::size_t from = 0;
        for (;;) {
            const auto open = text.find("{{", from);
            if (open == std::string_view::npos) break;
            const auto close = text.find("}}", open + 2);
            if (close == std::string_view::npos) throw fail(open, "a placeholder \"{{\" without its \"}}\"");
            if (t.pieces_.size() / 2 >= max_fields) throw fail(open, "more than " + std::to_string(max_fields) + " placeholders");
            t.pieces_.push_back({piece::kind::text, std::string(text.substr(from, open - from)), {}});
            t.pieces_.push_back(field(trim(text.substr(open + 2, close - open - 2)), [&](const std::string& why) { return fail(open, why); }));
            from = close + 2;
        }
        t.pieces_.push_back({piece::kind::text, std::string(text.substr(from)), {}});
        return t;
    }

    /// The text with each placeholder replaced by the event's value: a string as it is, anything
    /// else as JSON; a data path the event lacks as "".
    std::string render(const event& e) const {
        std::string out;
        for (const auto& p : pieces_) {
            switch (p.what) {
                case piece::kind::text: out += p.text; break;
                case piece::kind::data: append_data(out, e.data, p.path); break;
                case piece::kind::field: out += event_field(e, p.text); break;
            }
        }
        return out;
    }

private:
    struct piece {
        enum class kind { text, field, data } what = kind::text;
        std::string text;               // the text, or the field's name
        std::vector<std::string> path;  // data: the names after "data"
    };

    static constexpr std::array<std::string_view, 9> fields_{"id",   "type",   "source",   "sender",   "action",
                                                             "resource_name", "uri", "user_id", "timestamp"};

    static std::string_view trim(std::string_view s) {
        while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
        while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
        return s;
    }

    template <class Fail>
    static piece field(std::string_view name, const Fail& fail) {
        if (name.empty()) throw fail("an empty placeholder");
        if (name == "data" || name.substr(0, 5) == "data.") {
            piece p{piece::kind::data, {}, {}};
            std::size_t at = 4;
            while (at < name.size()) {
                const auto next = name.find('.', at + 1);
                const auto part = name.substr(at + 1, next == std::string_view::npos ? std::string_view::npos : next - at - 1);
                if (part.empty()) throw fail("an empty name in the data path \"" + ::beacon::detail::excerpt(name, 40) + "\"");
                if (p.path.size() >= max_path) throw fail("a data path of more than " + std::to_string(max_path) + " names");
                p.path.emplace_back(part);
                at = next == std::string_view::npos ? name.size() : next;
            }
            return p;
        }
        for (const auto known : fields_) {
            if (name == known) return {piece::kind::field, std::string(name), {}};
        }
        throw fail("\"" + ::beacon::detail::excerpt(name, 40) +
                   "\" is not a field of an event (id, type, source, sender, action, resource_name, uri, user_id, "
                   "timestamp, data, data.<name>...)");
    }

    static void append_data(std::string& out, const nlohmann::json& data, const std::vector<std::string>& path) {
        const nlohmann::json* at = &data;
        for (const auto& name : path) {
            if (!at->is_object()) return;
            const auto it = at->find(name);
            if (it == at->end()) return;
            at = &*it;
        }
        if (at->is_string()) {
            out += at->get_ref<const std::string&>();
        } else if (!at->is_null()) {
            out += at->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
    }

    static std::string event_field(const event& e, const std::string& name) {
        if (name == "id") return e.id.to_string();
        if (name == "type") return e.type;
        if (name == "source") return e.source;
        if (name == "sender") return e.sender;
        if (name == "action") return e.action ? std::string(to_string(*e.action)) : std::string();
        if (name == "resource_name") return e.resource_name;
        if (name == "uri") return e.uri;
        if (name == "user_id") return e.user_id;
        return std::to_string(e.timestamp);
    }

    std::vector<piece> pieces_;
};

}  // namespace beacon::outbound
