#pragma once
/// \file
/// beacon::web's event streams and servers as Prometheus metrics, and a `/metrics` route on
/// beacon's server that serves beacon's collector and the host's own prometheus-cpp registry
/// (needs beacon::web too).

#include <beacon/metrics/collector.hpp>
#include <beacon/metrics/detail/families.hpp>
#include <beacon/web/http.hpp>
#include <beacon/web/server.hpp>
#include <beacon/web/sse_stream.hpp>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace beacon::metrics {

/// A Server-Sent Events stream (web::sse_stream, watched by shared_ptr), label `stream`.
template <>
struct exporter<web::sse_stats> {
    /// What errors call it.
    static constexpr const char* kind = "event stream";
    /// Adds `s` as the samples of the stream `name`.
    static void add(detail::families& f, const std::string& name, const web::sse_stats& s) {
        const detail::labels l{{"stream", name}};
        f.gauge("beacon_sse_connections", "Event-stream connections open now.", l, s.connections);
        f.counter("beacon_sse_accepted_total", "Event-stream connections authorized and streamed.", l, s.accepted);
        f.counter("beacon_sse_refused_total", "Event-stream requests the authorizer refused (401).", l, s.refused);
        f.counter("beacon_sse_events_published_total", "Events published to the stream's connections.", l,
                  s.published);
        f.counter("beacon_sse_overflow_closes_total", "Connections closed because their queue was full.", l,
                  s.overflowed);
        f.counter("beacon_sse_resumes_total", "Connections resumed from the replay buffer (Last-Event-ID).", l,
                  s.resumed);
        f.counter("beacon_sse_resume_misses_total", "Last-Event-IDs no longer in the replay buffer.", l,
                  s.resume_misses);
    }
};

/// beacon's HTTP server (web::server), label `server`.
template <>
struct exporter<web::server_stats> {
    /// What errors call it.
    static constexpr const char* kind = "server";
    /// Adds `s` as the samples of the server `name`.
    static void add(detail::families& f, const std::string& name, const web::server_stats& s) {
        const detail::labels l{{"server", name}};
        f.gauge("beacon_http_connections", "HTTP connections open now (event streams count on their stream).", l,
                s.connections);
        f.counter("beacon_http_requests_total", "HTTP requests read whole.", l, s.requests);
        f.counter("beacon_http_errors_total", "Requests the server itself refused with a 4xx or 5xx.", l, s.errors);
        f.counter("beacon_http_evicted_total", "Silent connections closed to make room for a newcomer.", l, s.evicted);
    }
};

/// Serves, in Prometheus's text format on `path` of `server` (register before `server.start()`),
/// what `collectables` collect at each request: beacon's collector, the host's own
/// prometheus::Registry, anything prometheus-cpp's Exposer would take. Those gone are skipped;
/// when all are gone the route answers 503.
inline void serve(web::server& server, std::vector<std::weak_ptr<prometheus::Collectable>> collectables,
                  const std::string& path = "/metrics") {
    server.route(path, [collectables = std::move(collectables)](const web::request& req) {
        std::vector<prometheus::MetricFamily> families;
        bool any = false;
        for (const auto& weak : collectables) {
            const auto c = weak.lock();
            if (!c) continue;
            any = true;
            auto more = c->Collect();
            families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
        }
        if (!any) return web::text_response(web::http::status::service_unavailable, "no metrics\n", req.version());
        auto res = web::text_response(web::http::status::ok, prometheus::TextSerializer().Serialize(families),
                                      req.version());
        res.set(web::http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        return res;
    });
}

}  // namespace beacon::metrics
