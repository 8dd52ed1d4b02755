#pragma once
/// \file
/// The outbound part's endpoints as Prometheus metrics (needs beacon::outbound too): watch an
/// outbound::endpoint_consumer (a webhook or a mail endpoint) by name.

#include <beacon/metrics/collector.hpp>
#include <beacon/metrics/detail/families.hpp>
#include <beacon/outbound/courier.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace beacon::metrics {

/// An outbound endpoint (outbound::endpoint_consumer), label `endpoint`; its attempts also by
/// `outcome` (delivered, rejected, throttled, timed_out, network_error, address_refused, gone).
template <>
struct exporter<outbound::endpoint_stats> {
    /// What errors call it.
    static constexpr const char* kind = "outbound endpoint";
    /// Adds `s` as the samples of the endpoint `name`.
    static void add(detail::families& f, const std::string& name, const outbound::endpoint_stats& s) {
        const detail::labels l{{"endpoint", name}};
        f.counter("beacon_outbound_queued_total", "Events accepted for delivery.", l, s.queued);
        f.counter("beacon_outbound_refused_total",
                  "Events refused: the queue full, the endpoint disabled, the courier stopped, or not encodable.", l,
                  s.refused);
        f.counter("beacon_outbound_delivered_total", "Events delivered (HTTP 2xx; the SMTP server took the message).", l,
                  s.delivered);
        f.counter("beacon_outbound_given_up_total", "Events dropped after their last attempt failed, or on a 410 Gone.",
                  l, s.given_up);
        f.counter("beacon_outbound_discarded_total", "Events dropped unattempted: the endpoint disabled, the courier stopped, or (shared from a signal) not encodable.",
                  l, s.discarded);
        const std::pair<const char*, std::uint64_t> outcomes[] = {
            {"delivered", s.delivered}, {"rejected", s.rejected},           {"throttled", s.throttled},
            {"timed_out", s.timed_out}, {"network_error", s.network_errors}, {"address_refused", s.address_refused},
            {"gone", s.gone}};
        for (const auto& [outcome, n] : outcomes) {
            f.counter("beacon_outbound_attempts_total", "Attempts (requests or SMTP sessions), by how each ended.",
                      {{"endpoint", name}, {"outcome", outcome}}, n);
        }
        f.gauge("beacon_outbound_disabled", "1 once the endpoint answered 410 Gone (nothing more is sent to it).", l,
                s.disabled ? 1 : 0);
    }
};

}  // namespace beacon::metrics
