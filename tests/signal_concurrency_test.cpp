// Concurrency: sends, connects, disconnects, blocks and mutes from many threads at once; no
// delivery to a receiver connected throughout is lost (run under ThreadSanitizer in CI).
#include <beacon/registry.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

TEST_CASE("concurrent sends, connects and disconnects lose no delivery", "[signal][threads][behaviour8]") {
    beacon::registry reg;
    auto& sig = reg.core().signal("resource_changed");
    constexpr int senders = 4;
    constexpr int sends_per_thread = 3000;
    const std::vector<std::string> names{"s0", "s1", "s2", "s3"};

    std::atomic<long> stable_any{0};
    std::vector<std::atomic<long>> stable_bound(names.size());
    sig.connect([&](const beacon::event&) { stable_any.fetch_add(1, std::memory_order_relaxed); });
    for (std::size_t i = 0; i < names.size(); ++i) {
        sig.connect(names[i], [&, i](const beacon::event&) { stable_bound[i].fetch_add(1, std::memory_order_relaxed); });
    }

    std::atomic<bool> done{false};
    std::atomic<long> churn_calls{0};
    std::vector<std::thread> churners;
    for (int t = 0; t < 2; ++t) {
        churners.emplace_back([&, t] {
            std::size_t round = 0;
            while (!done.load()) {
                auto any = sig.connect([&](const beacon::event&) { churn_calls.fetch_add(1); });
                beacon::scoped_connection bound =
                    sig.connect(names[round % names.size()], [&](const beacon::event&) { churn_calls.fetch_add(1); });
                // One-off senders make the bucket map grow and be swept while others send.
                beacon::scoped_connection one_off =
                    sig.connect("one-off-" + std::to_string(t) + "-" + std::to_string(round), [](const beacon::event&) {});
                {
                    auto blocked = any.block();
                    auto quiet = reg.core().signal("other").mute();
                    (void)sig.has_receivers_for(names[round % names.size()]);
                    (void)sig.receiver_count();
                }
                any.disconnect();
                ++round;
            }
        });
    }

    // Catch2 assertions are not thread-safe: threads count, the main thread checks.
    std::atomic<long> robust_errors{0};
    std::vector<long> sent(names.size(), 0);
    std::vector<std::vector<long>> sent_by(senders, std::vector<long>(names.size(), 0));
    std::vector<std::thread> pool;
    for (std::size_t t = 0; t < senders; ++t) {
        pool.emplace_back([&, t] {
            for (int i = 0; i < sends_per_thread; ++i) {
                const std::size_t n = (static_cast<std::size_t>(i) + t) % names.size();
                if (i % 3 == 0) {
                    robust_errors.fetch_add(static_cast<long>(sig.send_robust(beacon::event(names[n])).size()));
                } else if (i % 3 == 1) {
                    sig.send(beacon::event(names[n]));
                } else {
                    sig.send_lazy(names[n], [] { return beacon::event().set("lazy", true); });
                }
                ++sent_by[t][n];
            }
        });
    }
    for (auto& th : pool) th.join();
    done = true;
    for (auto& th : churners) th.join();

    for (const auto& per_thread : sent_by) {
        for (std::size_t n = 0; n < names.size(); ++n) sent[n] += per_thread[n];
    }
    CHECK(robust_errors.load() == 0);
    CHECK(stable_any.load() == senders * sends_per_thread);
    for (std::size_t n = 0; n < names.size(); ++n) CHECK(stable_bound[n].load() == sent[n]);
    CHECK(sig.receiver_count() == 1 + names.size());
}

TEST_CASE("receivers connected and disconnected from other threads see whole events", "[signal][threads]") {
    beacon::signal sig("core", "s");
    std::atomic<bool> done{false};
    std::atomic<long> bad{0};
    std::thread sender([&] {
        for (int i = 0; i < 5000; ++i) sig.send(beacon::event("x").set("i", i).set("twice", 2 * i));
        done = true;
    });
    while (!done.load()) {
        beacon::scoped_connection c = sig.connect([&](const beacon::event& e) {
            if (e.data["twice"] != 2 * e.data["i"].get<int>()) bad.fetch_add(1);
        });
        std::this_thread::yield();
    }
    sender.join();
    CHECK(bad.load() == 0);
}
