#pragma once
/// \file
/// beacon's metrics for Prometheus (optional, CMake target `beacon::metrics`, needs prometheus-cpp),
/// namespace beacon::metrics: metrics::collector exports, per signal, configured listener,
/// asynchronous receiver and relay, what beacon counts, into the host's prometheus-cpp registry.
/// beacon::web's streams and servers, and a `/metrics` route, are in <beacon/metrics/web.hpp>.

#include <beacon/metrics/collector.hpp>
