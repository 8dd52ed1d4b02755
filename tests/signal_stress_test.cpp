// Stress: for a bounded time, threads send on many signals while others connect, disconnect,
// block and mute, load and unload plugins, and run units of work. Receivers connected throughout
// must count exactly what was sent to them; afterwards everything is back where it started.
// Run under ThreadSanitizer in CI. BEACON_STRESS_SECONDS sets the duration (default 2).
#include <beacon/plugin.hpp>
#include <beacon/registry.hpp>
#include <beacon/unit_of_work.hpp>

#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t signal_count = 6;
constexpr std::size_t sender_count = 4;

struct churn_plugin : beacon::plugin {
    churn_plugin(std::string name, std::atomic<long>& counter) : plugin_name(std::move(name)), calls(&counter) {}
    std::string name() const override { return plugin_name; }
    beacon::subscription_table signal_subscriptions(beacon::plugin_context& ctx) override {
        auto count = [c = calls](const beacon::event&) { c->fetch_add(1, std::memory_order_relaxed); };
        beacon::subscription_table table;
        for (std::size_t i = 0; i < signal_count; ++i) {
            table.push_back({ctx.ext("stress.s" + std::to_string(i)), {count, {"k0", count}}});
        }
        table.push_back({ctx.core().signal("resource_changed"), {count}});
        return table;
    }
    std::string plugin_name;
    std::atomic<long>* calls;
};

beacon::event record_event(const std::string& collection, int n) {
    beacon::event e("worker");
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/b/collections/" + collection + "/records/r" + std::to_string(n);
    e.impacted_records.push_back({std::nullopt, nlohmann::json{{"id", n}}});
    return e;
}

double stress_seconds() {
    const char* text = std::getenv("BEACON_STRESS_SECONDS");
    return text ? std::atof(text) : 2.0;
}

}  // namespace

TEST_CASE("stress: sends, churn, plugins and units of work at once", "[signal][stress][threads][behaviour8][behaviour10]") {
    beacon::registry reg;
    beacon::resource_notifier notifier(reg);
    std::array<beacon::signal*, signal_count> signals{};
    for (std::size_t i = 0; i < signal_count; ++i) signals[i] = &reg.ext().signal("stress.s" + std::to_string(i));
    const std::array<std::string, sender_count> senders{"k0", "k1", "k2", "k3"};

    // Receivers connected throughout, and what they must end up counting.
    std::array<std::atomic<long>, signal_count> any_calls{};
    std::array<std::array<std::atomic<long>, sender_count>, signal_count> bound_calls{};
    for (std::size_t i = 0; i < signal_count; ++i) {
        signals[i]->connect([&, i](const beacon::event&) { any_calls[i].fetch_add(1, std::memory_order_relaxed); });
        for (std::size_t k = 0; k < sender_count; ++k) {
            signals[i]->connect(senders[k], [&, i, k](const beacon::event&) {
                bound_calls[i][k].fetch_add(1, std::memory_order_relaxed);
            });
        }
    }
    std::atomic<long> before_commit_events{0};
    std::atomic<long> after_commit_records{0};
    reg.core().signal("resource_changed").connect([&](const beacon::event&) { before_commit_events.fetch_add(1); });
    reg.core().signal("after_resource_changed").connect([&](const beacon::event& e) {
        after_commit_records.fetch_add(static_cast<long>(e.impacted_records.size()));
    });
    const std::size_t baseline = signals[0]->receiver_count();

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(stress_seconds());
    auto running = [&] { return std::chrono::steady_clock::now() < deadline; };

    // Senders: per-thread tallies of what they sent, checked by the main thread afterwards.
    constexpr std::size_t sender_threads = 2;
    std::vector<std::array<std::array<long, sender_count>, signal_count>> sent(sender_threads);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < sender_threads; ++t) {
        threads.emplace_back([&, t] {
            for (auto& row : sent[t]) row.fill(0);
            for (std::size_t n = 0; running(); ++n) {
                const auto i = (n + t) % signal_count;
                const auto k = (n / signal_count + t) % sender_count;
                if (n % 2 == 0) {
                    signals[i]->send(beacon::event(senders[k]));
                } else {
                    (void)signals[i]->send_robust(beacon::event(senders[k]));
                }
                ++sent[t][i][k];
            }
        });
    }

    // Units of work: committed ones count; rolled back ones send nothing.
    long committed = 0, rolled_back = 0;
    threads.emplace_back([&] {
        for (int n = 0; running(); ++n) {
            beacon::unit_of_work uow(notifier);
            notifier.notify(record_event("c1", n));
            notifier.notify(record_event("c1", n + 1));  // merged with the first
            notifier.notify(record_event("c2", n));      // another parent: an event of its own
            if (n % 4 == 3) {
                uow.rollback();
                ++rolled_back;
            } else {
                uow.commit();
                ++committed;
            }
        }
    });

    // Churn: connections that come and go, blocks, mutes of a signal nobody counts on.
    std::atomic<long> churn_calls{0};
    long churn_rounds = 0;
    threads.emplace_back([&] {
        auto& muted = reg.ext().signal("stress.muted");
        for (long n = 0; running(); ++n) {
            auto& target = *signals[static_cast<std::size_t>(n) % signal_count];
            beacon::scoped_connection any = target.connect([&](const beacon::event&) { churn_calls.fetch_add(1); });
            beacon::scoped_connection bound =
                target.connect("one-off-" + std::to_string(n), [&](const beacon::event&) { churn_calls.fetch_add(1); });
            auto blocked = any.get().block();
            auto quiet = muted.mute();
            muted.send(beacon::event("nobody hears this"));
            ++churn_rounds;
        }
    });

    // Plugins loaded and unloaded over and over.
    beacon::plugin_host host(reg);
    std::atomic<long> plugin_calls{0};
    long plugin_loads = 0;
    threads.emplace_back([&] {
        for (long n = 0; running(); ++n) {
            const std::string name = "churn" + std::to_string(n % 3);
            host.load(std::make_shared<churn_plugin>(name, plugin_calls));
            if (n % 3 == 2) {
                for (int p = 0; p < 3; ++p) host.unload("churn" + std::to_string(p));
            }
            ++plugin_loads;
        }
        for (const auto& name : host.names()) host.unload(name);
    });

    for (auto& th : threads) th.join();

    long total_sent = 0;
    for (std::size_t i = 0; i < signal_count; ++i) {
        long to_signal = 0;
        for (std::size_t k = 0; k < sender_count; ++k) {
            long to_sender = 0;
            for (const auto& per_thread : sent) to_sender += per_thread[i][k];
            INFO("signal " << i << ", sender " << k);
            CHECK(bound_calls[i][k].load() == to_sender);
            to_signal += to_sender;
        }
        CHECK(any_calls[i].load() == to_signal);
        total_sent += to_signal;
    }
    CHECK(before_commit_events.load() == 2 * committed);
    CHECK(after_commit_records.load() == 3 * committed);
    CHECK(host.names().empty());
    CHECK(notifier.current() == nullptr);
    for (auto* s : signals) CHECK(s->receiver_count() == baseline);
    CHECK(reg.core().signal("resource_changed").receiver_count() == 1);
    CHECK_FALSE(reg.ext().signal("stress.muted").muted());

    std::cout << "stress: " << total_sent << " sends, " << committed << " commits, " << rolled_back
              << " rollbacks, " << churn_rounds << " churn rounds, " << plugin_loads << " plugin loads, "
              << plugin_calls.load() << " plugin calls\n";
    CHECK(total_sent > 0);
    CHECK(committed > 0);
    CHECK(plugin_loads > 0);
}
