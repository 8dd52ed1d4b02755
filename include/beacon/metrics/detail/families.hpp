#pragma once
// Builds the metric families of one scrape: each family once, its samples in the order added.

#include <beacon/duration_histogram.hpp>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace beacon::metrics::detail {

using labels = std::vector<prometheus::ClientMetric::Label>;

class families {
public:
    void counter(const std::string& name, const char* help, const labels& l, std::uint64_t value) {
        sample(name, help, prometheus::MetricType::Counter, l).counter.value = static_cast<double>(value);
    }

    void gauge(const std::string& name, const char* help, const labels& l, std::uint64_t value) {
        sample(name, help, prometheus::MetricType::Gauge, l).gauge.value = static_cast<double>(value);
    }

    void gauge_seconds(const std::string& name, const char* help, const labels& l, std::chrono::milliseconds value) {
        sample(name, help, prometheus::MetricType::Gauge, l).gauge.value = static_cast<double>(value.count()) / 1000.0;
    }

    void histogram(const std::string& name, const char* help, const labels& l, const duration_histogram& h) {
        auto& m = sample(name, help, prometheus::MetricType::Histogram, l);
        for (std::size_t i = 0; i < h.buckets.size(); ++i) {
            m.histogram.bucket.push_back({h.buckets[i], duration_histogram::bounds[i]});
        }
        m.histogram.bucket.push_back({h.count, std::numeric_limits<double>::infinity()});
        m.histogram.sample_count = h.count;
        m.histogram.sample_sum = h.sum;
    }

    std::vector<prometheus::MetricFamily> take() { return std::move(out_); }

private:
    prometheus::ClientMetric& sample(const std::string& name, const char* help, prometheus::MetricType type,
                                     const labels& l) {
        auto it = index_.find(name);
        if (it == index_.end()) {
            it = index_.emplace(name, out_.size()).first;
            out_.push_back({name, help, type, {}});
        }
        auto& m = out_[it->second].metric.emplace_back();
        m.label = l;
        return m;
    }

    std::vector<prometheus::MetricFamily> out_;
    std::map<std::string, std::size_t, std::less<>> index_;
};

}  // namespace beacon::metrics::detail
