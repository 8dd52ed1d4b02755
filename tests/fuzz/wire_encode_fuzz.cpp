// libFuzzer target: the sending side, event -> wire format -> Redis command, for each built-in
// wire format (CloudEvents JSON on the event stamped with an id, a source and a type). The input builds an event (any bytes, so invalid UTF-8; any nesting, built without
// recursion): its first bytes are its string fields, separated by 0x00, then a data value
// written in a tiny bracket language ('[' and '{' open, ']' and '}' close, ',' separates, a
// string of any bytes otherwise; inside '{' strings alternate key, value).
// Contract: each format encodes, or throws beacon::encode_error, never anything else; the
// envelope's bytes are nlohmann's dump of the event; an encoding that succeeds decodes back to
// the same event (Kinto's: without sender and impacted records) and fits one LPUSH as hiredis
// formats it.
#include <beacon/redis.hpp>

#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Reads the data value of the input's tail, iteratively.
nlohmann::json read_value(std::string_view in) {
    nlohmann::json root = nlohmann::json::object();
    std::vector<nlohmann::json*> stack{&root};
    std::vector<std::string> pending_key{std::string()};
    std::vector<bool> has_key{false};
    auto add = [&](nlohmann::json value) -> nlohmann::json* {
        nlohmann::json& top = *stack.back();
        if (top.is_array()) return &top.emplace_back(std::move(value));
        if (!has_key.back()) {  // an object's key: strings only
            pending_key.back() = value.is_string() ? value.get<std::string>() : value.dump();
            has_key.back() = true;
            return nullptr;
        }
        has_key.back() = false;
        return &(top[pending_key.back()] = std::move(value));
    };
    std::string text;
    bool in_text = false;
    auto flush = [&] {
        if (!in_text) return;
        if (text == "n") {
            add(nullptr);
        } else if (text.size() == 9 && text[0] == '#') {  // '#' and 8 bytes: a double, NaN included
            double d = 0;
            std::memcpy(&d, text.data() + 1, sizeof d);
            add(d);
        } else if (!text.empty() && text[0] == '-' && text.size() <= 20 &&
                   text.find_first_not_of("0123456789", 1) == std::string::npos && text.size() > 1) {
            add(std::strtoll(text.c_str(), nullptr, 10));
        } else {
            add(text);
        }
        text.clear();
        in_text = false;
    };
    for (char c : in) {
        if (c == '[' || c == '{') {
            flush();
            nlohmann::json* child = add(c == '[' ? nlohmann::json::array() : nlohmann::json::object());
            if (child) {
                stack.push_back(child);
                pending_key.emplace_back();
                has_key.push_back(false);
            }
        } else if ((c == ']' || c == '}') && stack.size() > 1) {
            flush();
            stack.pop_back();
            pending_key.pop_back();
            has_key.pop_back();
        } else if (c == ',') {
            flush();
        } else {
            text += c;
            in_text = true;
        }
    }
    flush();
    return root;
}

// The event with what Kinto's format carries: no sender, no impacted records.
beacon::event kinto_view(beacon::event e) {
    e.sender.clear();
    e.impacted_records.clear();
    return e;
}

// The RESP bytes of LPUSH key text, as hiredis writes them; checks they hold `text` whole.
void check_lpush(const std::string& text) {
    const char* argv[] = {"LPUSH", "beacon.events", text.data()};
    const std::size_t argvlen[] = {5, 13, text.size()};
    char* resp = nullptr;
    const long long length = redisFormatCommandArgv(&resp, 3, argv, argvlen);
    const std::string header = "$" + std::to_string(text.size()) + "\r\n";
    if (length <= 0 || std::string_view(resp, static_cast<std::size_t>(length)).find(header + text + "\r\n") ==
                           std::string_view::npos) {
        std::abort();
    }
    redisFreeCommand(resp);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string fields[4];
    for (auto& field : fields) {
        const auto end = in.find('\0');
        field = std::string(in.substr(0, end));
        in = end == std::string_view::npos ? std::string_view() : in.substr(end + 1);
    }
    beacon::event e(fields[0]);
    e.resource_name = fields[1];
    e.uri = fields[2];
    e.user_id = fields[3];
    e.action = beacon::action::update;
    e.timestamp = 1453896392123;
    e.data = read_value(in);
    if (e.data.size() % 2 == 1) e.impacted_records.push_back({nlohmann::json{{"uri", e.uri}}, std::nullopt});

    std::optional<std::string> envelope, kinto;
    for (const auto& format : {beacon::wire_format::envelope(), beacon::wire_format::kinto()}) {
        std::string bytes;
        try {
            bytes = format.encode(e);
        } catch (const beacon::encode_error&) {
            continue;  // any other exception escapes: libFuzzer reports it
        }
        check_lpush(bytes);
        (format.name() == "envelope" ? envelope : kinto) = std::move(bytes);
    }
    if (envelope && *envelope != nlohmann::json(e).dump()) std::abort();
    // Kinto's encoding succeeds only for finite numbers and valid UTF-8 (but in the sender and
    // the impacted records, which it does not write): then both read back.
    if (kinto && beacon::wire_format::kinto().decode(*kinto) != kinto_view(e)) std::abort();
    if (kinto && envelope && beacon::wire_format::envelope().decode(*envelope) != e) std::abort();
    // CloudEvents JSON, on the event stamped with what a CloudEvent requires (in place: a copy of
    // the event recurses once per level of its data, which may nest without bound): it encodes or
    // throws encode_error, and what it writes reads back equal when its numbers are finite (as the
    // envelope, it writes NaN and infinities as null, as nlohmann's dump does: Kinto's format, which
    // refuses them, tells).
    e.id = *beacon::event_id::parse("0190b5e4-7f0c-7a31-8c2e-5f1d2a9b3c4d");
    e.source = "/fuzz";
    e.type = "core.resource_changed";
    std::string cloudevent;
    try {
        cloudevent = beacon::wire_format::cloudevents().encode(e);
    } catch (const beacon::encode_error&) {
        return 0;
    }
    check_lpush(cloudevent);
    if (kinto && beacon::wire_format::cloudevents().decode(cloudevent) != e) std::abort();
    return 0;
}
