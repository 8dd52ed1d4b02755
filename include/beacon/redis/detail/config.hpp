#pragma once
/// \file
/// Internals of the Redis bridge: reading a configured forwarder's options (the listener types
/// "redis" and "redis_stream"), and forwarding after commit.

#include <beacon/event.hpp>
#include <beacon/listener.hpp>
#include <beacon/outbox.hpp>
#include <beacon/unit_of_work.hpp>
#include <beacon/wire_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

namespace beacon::redis::detail {

/// Whether `key` is one of the loader's own settings (the filter, and async delivery: "async" or
/// flat "async.<option>") or "outbox" (read by forwarding_listener), not a forwarder's option.
inline bool loader_setting(const std::string& key) {
    return key == "use" || key == "actions" || key == "resources" || key == "async" || key.rfind("async.", 0) == 0 ||
           key == "outbox";
}

/// A configured count: a number, or a string of digits as in an ini file, at least `min`.
inline std::size_t config_count(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                std::size_t min, const char* what) {
    const bool natural = value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0);
    const std::string text = value.is_string() ? value.get<std::string>() : natural ? value.dump() : "";
    std::size_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < min) {
        c.fail(key, std::string("expected ") + what + ", got " +
                        (value.is_string() ? "\"" + beacon::detail::excerpt(text, 32) + "\"" : value.dump().substr(0, 32)));
    }
    return n;
}

/// A configured non-empty string.
inline std::string config_string(const listener_context& c, const std::string& key, const nlohmann::json& value) {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        c.fail(key, std::string("expected a non-empty string, got ") + (value.is_string() ? "\"\"" : value.type_name()));
    }
    return value.get<std::string>();
}

/// A configured wire format by name: "envelope", "kinto", "cloudevents", or one of the host's `formats`.
inline wire_format config_format(const listener_context& c, const std::string& key, const nlohmann::json& value,
                                 const std::vector<wire_format>& formats) {
    const std::string name = config_string(c, key, value);
    if (name == "envelope") return wire_format::envelope();
    if (name == "kinto") return wire_format::kinto();
    if (name == "cloudevents") return wire_format::cloudevents();
    const auto it = std::find_if(formats.begin(), formats.end(), [&](const wire_format& f) { return f.name() == name; });
    if (it == formats.end()) {
        std::string known = "envelope, kinto, cloudevents";
        for (const auto& f : formats) known += ", " + f.name();
        c.fail(key, "unknown wire format \"" + beacon::detail::excerpt(name, 64) + "\" (known: " + known + ")");
    }
    return *it;
}

/// The listener a configured forwarder becomes. With the option `outbox` (the name of an outbox
/// the host registered, listener_types::add_outbox), each event the loader passes it is written
/// into that outbox (inside the host's transaction: the alias cannot be async), and a relay of the
/// outbox, started here and stopped when the alias is unloaded, publishes the rows to the
/// forwarder as they are; its failures go to the process-wide sink. Without it and without
/// `notifier`, every event the loader passes it is forwarded at once. With `notifier`, each
/// commit's after-commit batch carries everything its unit of work sent: what the alias's filter
/// passes is forwarded in one round trip. Nothing is remembered between the signals and the
/// observer, so a unit of work committed by an after-commit receiver (nested) publishes its own
/// batch, and a rolled-back one leaves nothing.
template <class Forwarder>
listener forwarding_listener(const listener_context& c, Forwarder forwarder, resource_notifier* notifier) {
    if (c.options.contains("outbox")) {
        if (c.async) c.fail("outbox", "an alias writing into an outbox writes inside the host's transaction: it cannot be async");
        ::beacon::outbox& box = c.outbox("outbox");
        std::shared_ptr<::beacon::relay> publishing = box.make_relay(std::move(forwarder));
        publishing->start();
        c.hold(std::move(publishing));
        return [&box](const event& e) { box.add(e); };
    }
    if (!notifier) return forwarder;
    c.keep(notifier->on_after_commit([forwarder, pass = c.filter](const std::vector<event>& batch) {
        std::vector<event> selected;
        std::copy_if(batch.begin(), batch.end(), std::back_inserter(selected), pass);
        forwarder.forward(selected);
    }));
    // An event sent outside any unit of work of the notifier is in no batch: forward it now.
    return [forwarder, notifier](const event& e) {
        if (!notifier->current()) forwarder.forward(e);
    };
}

}  // namespace beacon::redis::detail
