// duration_recorder: each duration in the first bucket that holds it, cumulative snapshots, the
// +Inf count and the sum, exact under concurrent recording.
#include <beacon/duration_histogram.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST_CASE("a duration counts in the first bucket whose bound holds it, cumulatively", "[duration_histogram]") {
    beacon::duration_recorder r;
    CHECK(r.snapshot().count == 0);
    r.record(50us);    // <= 0.0001
    r.record(100us);   // <= 0.0001: bounds are inclusive (Prometheus's `le`)
    r.record(101us);   // <= 0.00025
    r.record(3ms);     // <= 0.005
    r.record(20s);     // +Inf only
    r.record(-1ms);    // a clock that went back counts as 0
    const auto h = r.snapshot();
    CHECK(h.buckets[0] == 3);
    CHECK(h.buckets[1] == 4);
    CHECK(h.buckets[4] == 4);
    CHECK(h.buckets[5] == 5);
    CHECK(h.buckets.back() == 5);  // <= 10 s
    CHECK(h.count == 6);
    CHECK(h.sum == Approx(20.003251).epsilon(1e-9));
    CHECK(beacon::duration_histogram::bounds.front() == 0.0001);
    CHECK(beacon::duration_histogram::bounds.back() == 10.0);
}

TEST_CASE("recording from many threads loses no count", "[duration_histogram][threads]") {
    beacon::duration_recorder r;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&r, t] {
            for (int i = 0; i < 5000; ++i) r.record(std::chrono::microseconds(t * 1000 + 1));
        });
    }
    for (auto& t : threads) t.join();
    const auto h = r.snapshot();
    CHECK(h.count == 20000);
    CHECK(h.buckets[0] == 5000);   // 1 us
    CHECK(h.buckets[3] == 5000);   // 1.001 ms is above 0.001 s
    CHECK(h.buckets[4] == 15000);  // 1.001 and 2.001 ms are within 0.0025 s
    CHECK(h.buckets[5] == 20000);  // 3.001 ms is within 0.005 s
}
