#pragma once
/// \file
/// Internals of the Redis bridge: reading a configured forwarder's options (the listener types
/// "redis" and "redis_stream"), and forwarding after commit.

#include <beacon/event.hpp>
#include <beacon/listener.hpp>
#include <beacon/listener_options.hpp>
#include <beacon/outbox.hpp>
#include <beacon/unit_of_work.hpp>
#include <beacon/wire_format.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace beacon::redis::detail {

/// Whether `key` is one of the loader's own settings (beacon::loader_setting) or "outbox" (read by
/// forwarding_listener), not an option of the forwarder itself.
inline bool forwarder_setting(const std::string& key) { return ::beacon::loader_setting(key) || key == "outbox"; }

using ::beacon::config_count;
using ::beacon::config_flag;
using ::beacon::config_format;
using ::beacon::config_string;

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
