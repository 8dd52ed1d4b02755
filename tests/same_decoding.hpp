#pragma once
// What two decoders made of one text, compared strictly: the same event with every JSON value of
// the same type (nlohmann's == takes 1u and 1 for equal), or the same decode_error (message, path
// and reason). Shared by simdjson_decode_test and simdjson_decode_fuzz.
#include <beacon/event.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace beacon_test {

// True when `a` and `b` are equal, every value of one of the other's type (and a float's sign).
inline bool same_json(const nlohmann::json& a, const nlohmann::json& b) {
    if (a.type() != b.type() || a.size() != b.size()) return false;
    if (a.is_object()) {
        for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y) {
            if (x.key() != y.key() || !same_json(x.value(), y.value())) return false;
        }
        return true;
    }
    if (a.is_array()) {
        for (std::size_t i = 0; i < a.size(); ++i) {
            if (!same_json(a[i], b[i])) return false;
        }
        return true;
    }
    if (a.is_number_float()) {  // -0.0 == 0.0: tell them apart
        return a == b && std::signbit(a.get<double>()) == std::signbit(b.get<double>());
    }
    return a == b;
}

inline bool same_optional_json(const std::optional<nlohmann::json>& a, const std::optional<nlohmann::json>& b) {
    return a.has_value() == b.has_value() && (!a || same_json(*a, *b));
}

// An event, or what its decode_error said.
struct failure {
    std::string what;
    std::string path;
    beacon::decode_reason reason;
};
using outcome = std::variant<beacon::event, failure>;

template <class Decode>
outcome decode_with(Decode decode, std::string_view text, const beacon::json_limits& limits) {
    try {
        return decode(text, limits);
    } catch (const beacon::decode_error& bad) {
        return failure{bad.what(), bad.path(), bad.reason()};
    }
}

// True when `a` and `b` are the same event (strictly) or the same error.
inline bool same_outcome(const outcome& a, const outcome& b) {
    if (a.index() != b.index()) return false;
    if (const auto* x = std::get_if<failure>(&a)) {
        const auto& y = std::get<failure>(b);
        return x->what == y.what && x->path == y.path && x->reason == y.reason;
    }
    const auto& x = std::get<beacon::event>(a);
    const auto& y = std::get<beacon::event>(b);
    if (!(x == y) || !same_json(x.data, y.data) || x.impacted_records.size() != y.impacted_records.size()) return false;
    for (std::size_t i = 0; i < x.impacted_records.size(); ++i) {
        if (!same_optional_json(x.impacted_records[i].old_value, y.impacted_records[i].old_value) ||
            !same_optional_json(x.impacted_records[i].new_value, y.impacted_records[i].new_value)) {
            return false;
        }
    }
    return true;
}

}  // namespace beacon_test
