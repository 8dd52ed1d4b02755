// An operator's view of a host: beacon's counters served on /metrics for Prometheus to scrape.
// The host counts its signals, times its configured listeners (a slow search indexer that fails
// on one record), queues mail on a worker, streams changes to browsers, appends them to a Redis
// stream that a consumer group's worker reads back, and serves it all with beacon::metrics on
// beacon's web server. examples/metrics_host.sh runs it with a redis-server and a real Prometheus.
//
//   metrics_host [--port N] [--redis URL]   sends 25 changes, serves /metrics until Ctrl-C
#include <beacon/beacon.hpp>
#include <beacon/listener.hpp>
#include <beacon/metrics.hpp>
#include <beacon/metrics/redis.hpp>
#include <beacon/metrics/web.hpp>
#include <beacon/redis.hpp>
#include <beacon/web.hpp>

#include <boost/asio/signal_set.hpp>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace web = beacon::web;

int main(int argc, char** argv) {
    web::server_options options;
    options.name = "metrics_host";
    std::string redis_url = "redis://127.0.0.1:6379/0";
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::string(argv[i]) == "--port") options.port = static_cast<unsigned short>(std::stoi(argv[i + 1]));
        if (std::string(argv[i]) == "--redis") redis_url = argv[i + 1];
    }
    web::server server(options);
    beacon::registry reg;
    auto collector = std::make_shared<beacon::metrics::collector>();
    collector->watch(reg);  // counts every signal of the registry from now on

    // Listeners from configuration (Kinto's event_listeners): an audit log and a search indexer
    // on a worker thread (async), which takes about 2 ms per record and fails on the record called
    // "broken" (a failure reported to the handler below, as part listener).
    beacon::listener_types types;
    int audited = 0;
    types.add("audit", [&](const beacon::listener_context&) -> beacon::listener {
        return [&](const beacon::event&) { ++audited; };
    });
    types.add("search", [](const beacon::listener_context&) -> beacon::listener {
        return [](const beacon::event& e) {
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
            if (e.uri.find("broken") != std::string::npos) throw std::runtime_error("cannot index");
        };
    });
    auto listeners = beacon::load_listeners(reg, {{"event_listeners", {{"audit", {{"use", "audit"}}},
                                                                            {"search_index", {{"use", "search"}, {"async", true}}}}}},
                                                  types, [](const beacon::failure&) {});
    collector->watch(listeners);

    // A mailer on a worker thread behind a bounded queue, and a stream of changes for browsers.
    beacon::async_options mail;
    mail.name = "mailer";
    beacon::async_receiver mailer([](const beacon::event&) {}, mail);
    collector->watch("mailer", mailer);
    auto& changed = reg.core().signal("resource_changed");
    auto to_mailer = changed.connect(mailer.receiver());
    auto stream = server.add_stream("/events");
    collector->watch("events", stream);
    auto to_browsers = changed.connect([&](const beacon::event& e) { stream->publish(e); });
    collector->watch("metrics_host", server);

    // Each change appended to a Redis stream; a worker of the group "indexers" reads them back
    // (in its own registry, as another process would).
    beacon::redis::stream_forwarder_options to_stream;
    to_stream.url = redis_url;
    beacon::redis::stream_forwarder forwarder(to_stream);
    collector->watch("changes", forwarder);
    auto to_redis = changed.connect(forwarder);
    beacon::registry worker;
    std::atomic<int> indexed{0};
    auto on_worker = worker.core().signal("resource_changed").connect([&](const beacon::event&) { ++indexed; });
    beacon::redis::stream_consumer_options from_stream;
    from_stream.url = redis_url;
    from_stream.group = "indexers";
    from_stream.name = "indexer-1";
    from_stream.lag_interval = std::chrono::milliseconds(100);
    beacon::redis::stream_consumer consumer(worker.core().signal("resource_changed"), from_stream);
    collector->watch("indexer-1", consumer);
    std::thread consuming([&] { consumer.run(); });

    // The host's own prometheus-cpp registry and beacon's collector, served together on /metrics.
    auto metrics = std::make_shared<prometheus::Registry>();
    auto& logins = prometheus::BuildCounter().Name("shop_logins_total").Help("Logins.").Register(*metrics).Add({});
    logins.Increment();
    beacon::metrics::serve(server, {metrics, collector});
    server.start();

    for (int i = 1; i <= 25; ++i) {
        beacon::event e("storage");
        e.action = i <= 20 ? beacon::action::create : beacon::action::update;
        e.resource_name = "record";
        e.uri = i == 13 ? "/articles/broken" : "/articles/" + std::to_string(i);
        changed.send(std::move(e));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    mailer.drain(deadline);
    listeners.drain(deadline);
    while (indexed < 25 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::cout << "metrics_host: sent 25 changes (" << audited << " audited, " << indexed
              << " read back from Redis); serving http://127.0.0.1:" << server.port() << "/metrics" << std::endl;

    web::net::io_context io;  // waits for Ctrl-C (or SIGTERM)
    boost::asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([](const boost::system::error_code&, int) {});
    io.run();
    consumer.stop();
    consuming.join();
    server.stop();
    std::cout << "metrics_host: stopped" << std::endl;
}
