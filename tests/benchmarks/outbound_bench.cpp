// P15, webhooks: events per second beacon::outbound::courier delivers to 100 local webhook
// endpoints (4 workers, each endpoint a consumer, events round-robin over them, until wait_idle),
// next to its peer, a bare loop of the same requests with the same HTTP library: 4 threads, each
// with its own reused libcurl easy handle (keeping as many idle connections as a courier's
// worker: courier_options::connections), POSTing the same body (beacon's envelope of the same
// stamped 297-byte event) with the same headers, signed per request with outbound::sign (the peer
// pays the HMAC too), to the same endpoints round-robin. Target: beacon >= 0.8x the bare loop.
// The endpoints: one Boost.Beast HTTP/1.1 server in this process, on one io_context run by one
// thread, listening on 100 loopback ports the OS picks; keep-alive; every POST is read whole and
// answered 204 No Content. consume_ns: the sending thread's CPU time per consume() (encoding the
// event, queueing it, waking a worker), while the workers deliver. Counters: the server's requests
// and new connections per iteration (how often a worker's connection cache missed). Args: events (requests) per iteration; for
// P15/beacon, the courier's workers too (4, as the peer's threads; 1, for consume_ns alone).
// P9/signal/<side>: P9 itself for a signal, see p9_signal below.
// P9/async_consumer: the sending thread's share measured the same way (consume_ns) for P9's
// hand-off of the same event to a hub consumer, beacon::async_consumer around a no-op consumer
// (which copies the event into its queue), with as many workers: the courier's consume_ns stays
// P9's when it is at most this.
#include "alloc_count.hpp"
#include "sample_event.hpp"

#include <beacon/async.hpp>
#include <beacon/outbound/courier.hpp>
#include <beacon/registry.hpp>
#include <beacon/wire_format.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <curl/curl.h>

#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
namespace outbound = beacon::outbound;

constexpr std::size_t endpoint_count = 100;
constexpr std::size_t threads = 4;  // the courier's default workers, and the bare loop's threads

// wire_format_bench's event, stamped (an id of its own).
beacon::event sample() {
    auto e = beacon_bench::kinto_record();
    e.stamp();
    return e;
}

// The endpoints: 100 listeners on one io_context, one thread; counts requests and connections.
class endpoints {
public:
    static endpoints& instance() {
        static endpoints server;
        return server;
    }
    std::vector<std::string> urls() const {
        std::vector<std::string> out;
        for (const auto& a : acceptors_) out.push_back("http://127.0.0.1:" + std::to_string(a.local_endpoint().port()) + "/hook");
        return out;
    }
    std::atomic<std::uint64_t> requests{0}, connections{0};

private:
    struct session : std::enable_shared_from_this<session> {
        session(tcp::socket s, endpoints& o) : socket(std::move(s)), owner(o) {}
        tcp::socket socket;
        endpoints& owner;
        boost::beast::flat_buffer buffer;
        std::optional<http::request_parser<http::string_body>> parser;
        http::response<http::empty_body> answer;

        void read() {
            parser.emplace();
            http::async_read(socket, buffer, *parser, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (!ec) self->respond();
            });
        }
        void respond() {
            const auto& request = parser->get();
            const bool post = request.method() == http::verb::post;
            if (post) owner.requests.fetch_add(1, std::memory_order_relaxed);
            answer = {};
            answer.version(11);
            answer.result(post ? http::status::no_content : http::status::method_not_allowed);
            answer.keep_alive(request.keep_alive());
            answer.prepare_payload();
            http::async_write(socket, answer, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                if (!ec && self->answer.keep_alive()) self->read();
            });
        }
    };

    endpoints() {
        acceptors_.reserve(endpoint_count);
        for (std::size_t i = 0; i < endpoint_count; ++i) {
            accept(acceptors_.emplace_back(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0)));
        }
        thread_ = std::thread([this] { io_.run(); });
    }
    ~endpoints() {
        io_.stop();
        thread_.join();
    }
    void accept(tcp::acceptor& a) {
        a.async_accept([this, &a](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            connections.fetch_add(1, std::memory_order_relaxed);
            s.set_option(tcp::no_delay(true));
            std::make_shared<session>(std::move(s), *this)->read();
            accept(a);
        });
    }

    asio::io_context io_{1};
    std::vector<tcp::acceptor> acceptors_;
    std::thread thread_;
};

// The server's counts before a benchmark; reports them per iteration and checks every request came.
struct server_check {
    endpoints& server = endpoints::instance();
    std::uint64_t requests = server.requests.load(), connections = server.connections.load();

    void finish(benchmark::State& state, std::uint64_t sent, std::uint64_t delivered) const {
        const auto got = server.requests.load() - requests;
        const auto iterations = static_cast<double>(state.iterations());
        state.counters["requests_per_iter"] = static_cast<double>(got) / iterations;
        state.counters["connections_per_iter"] = static_cast<double>(server.connections.load() - connections) / iterations;
        state.SetItemsProcessed(static_cast<std::int64_t>(delivered));
        if (delivered != sent || got != sent) {
            state.SkipWithError(("sent " + std::to_string(sent) + ", delivered " + std::to_string(delivered) + ", server got " +
                                 std::to_string(got)).c_str());
        }
    }
};

// The calling thread's CPU time, in ns.
std::int64_t thread_cpu() {
    timespec t{};
    ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<std::int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Runs the benchmark's iterations: `send(i)` for i in [0, n), timed in the calling thread's CPU
// time, then `drain()` (untimed); returns the CPU time per send, in ns, or -1 when a drain failed.
template <class Send, class Drain>
double per_send_ns(benchmark::State& state, std::size_t n, Send send, Drain drain) {
    std::uint64_t sent = 0;
    std::int64_t sending = 0;
    for (auto _ : state) {
        const auto start = thread_cpu();
        for (std::size_t i = 0; i < n; ++i) send(i);
        sending += thread_cpu() - start;
        sent += n;
        if (!drain()) {
            state.SkipWithError("not drained in 60 s");
            return -1;
        }
    }
    return static_cast<double>(sending) / static_cast<double>(sent);
}

void beacon_courier(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto e = sample();
    const server_check check;
    outbound::courier_options options;
    options.workers = static_cast<std::size_t>(state.range(1));
    outbound::courier courier(options);
    std::vector<std::shared_ptr<outbound::endpoint_consumer>> consumers;
    for (const auto& url : check.server.urls()) {
        outbound::webhook hook(url, outbound::signing_secret::generate());
        hook.allow_private = true;  // loopback
        consumers.push_back(courier.add(std::move(hook)));
    }
    // The sending thread's share: consume() alone, its CPU time.
    const double consume_ns = per_send_ns(
        state, n, [&](std::size_t i) { consumers[i % endpoint_count]->consume(e); },
        [&] { return courier.wait_idle(std::chrono::seconds(60)); });
    if (consume_ns < 0) return;
    std::uint64_t delivered = 0;
    for (const auto& c : consumers) delivered += c->stats().delivered;
    state.counters["consume_ns"] = consume_ns;
    check.finish(state, static_cast<std::uint64_t>(state.iterations()) * n, delivered);
}
BENCHMARK(beacon_courier)->Name("P15/beacon")->Args({1000, 4})->Args({1000, 1})->UseRealTime()->Unit(benchmark::kMillisecond);

// A hub consumer that does nothing.
struct no_op_consumer : beacon::consumer {
    void consume(const beacon::event& e) override { benchmark::DoNotOptimize(e.timestamp); }
};

void async_consumer_handoff(benchmark::State& state) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto e = sample();
    beacon::async_options options;
    options.workers = static_cast<std::size_t>(state.range(1));
    beacon::async_consumer handoff(std::make_shared<no_op_consumer>(), options);
    const double consume_ns =
        per_send_ns(state, n, [&](std::size_t) { handoff.consume(e); }, [&] { return handoff.drain(std::chrono::seconds(60)); });
    if (consume_ns < 0) return;
    state.counters["consume_ns"] = consume_ns;
    if (handoff.stats().delivered != static_cast<std::uint64_t>(state.iterations()) * n) state.SkipWithError("events were lost");
}
BENCHMARK(async_consumer_handoff)->Name("P9/async_consumer")->Args({1000, 4})->Args({1000, 1})->UseRealTime()->Unit(benchmark::kMillisecond);

// P9 as DESIGN.md states it, for a signal: the sending thread's CPU time per send of the same
// event, as a shared_ptr, measured as consume_ns is (batches of `n`, then drained), to one
// receiver: "sync", a no-op receiver called in the send; "async_receiver", a no-op receiver behind
// beacon::async_receiver; "courier", an endpoint's receiver() (the worker writes and POSTs the
// event to a local endpoint). Args: events per batch; the workers of the asynchronous sides; 1 to
// send the event stamped already (type and source set: the send copies nothing), 0 unstamped
// (each send stamps a copy, shared by the asynchronous sides).
enum class side { sync, async_receiver, courier };

void p9_signal(benchmark::State& state, side kind) {
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto workers = static_cast<std::size_t>(state.range(1));
    auto prepared = sample();
    if (state.range(2) != 0) {  // stamped as a signal would (type, source): the send copies nothing
        prepared.type = "core.p9";
        prepared.source = "/outbound_bench";
    }
    const auto e = std::make_shared<const beacon::event>(std::move(prepared));
    beacon::registry reg;
    auto& sig = reg.core().signal("p9");
    std::uint64_t called = 0;
    beacon::async_options async_options;
    async_options.workers = workers;
    async_options.queue = 1'000'000;
    beacon::async_receiver async([](const beacon::event& ev) { benchmark::DoNotOptimize(ev.timestamp); }, async_options);
    outbound::courier_options courier_options;
    courier_options.workers = workers;
    outbound::courier courier(courier_options);
    outbound::webhook hook(endpoints::instance().urls().front(), outbound::signing_secret::generate());
    hook.allow_private = true;  // loopback
    const auto endpoint = courier.add(std::move(hook));
    const auto connection = kind == side::sync             ? sig.connect([&called](const beacon::event&) { ++called; })
                            : kind == side::async_receiver ? sig.connect(async.receiver())
                                                           : sig.connect(endpoint->receiver());
    const double send_ns = per_send_ns(state, n, [&](std::size_t) { sig.send(e); }, [&] {
        return kind == side::async_receiver ? async.drain(std::chrono::seconds(60))
               : kind == side::courier      ? courier.wait_idle(std::chrono::seconds(60))
                                            : true;
    });
    if (send_ns < 0) return;
    state.counters["send_ns"] = send_ns;
    const std::uint64_t sent = static_cast<std::uint64_t>(state.iterations()) * n;
    const std::uint64_t got = kind == side::sync ? called : kind == side::async_receiver ? async.stats().delivered : endpoint->stats().delivered;
    if (got != sent) state.SkipWithError("events were lost");
}
BENCHMARK_CAPTURE(p9_signal, sync, side::sync)
    ->Name("P9/signal/sync")->Args({1000, 1, 0})->Args({1000, 1, 1})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(p9_signal, async_receiver, side::async_receiver)
    ->Name("P9/signal/async_receiver")->ArgsProduct({{1000}, {4, 1}, {0, 1}})->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(p9_signal, courier, side::courier)
    ->Name("P9/signal/courier")->ArgsProduct({{1000}, {4, 1}, {0, 1}})->UseRealTime()->Unit(benchmark::kMillisecond);

std::size_t discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

struct easy_deleter {
    void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};

// The peer: per thread one easy handle, kept from iteration to iteration (its connections too),
// keeping up to `max_connects` idle connections.
void bare_libcurl(benchmark::State& state, long max_connects) {
    static const bool curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!curl_ready) {
        state.SkipWithError("curl_global_init failed");
        return;
    }
    const auto n = static_cast<std::size_t>(state.range(0));
    const auto e = sample();
    const std::string body = beacon::wire_format::envelope().encode(e);
    const std::string id = e.id.to_string();
    const server_check check;
    const auto urls = check.server.urls();
    std::vector<outbound::signing_secret> secrets;
    for (std::size_t i = 0; i < endpoint_count; ++i) secrets.push_back(outbound::signing_secret::generate());
    std::vector<std::unique_ptr<CURL, easy_deleter>> handles;
    for (std::size_t t = 0; t < threads; ++t) {
        CURL* h = handles.emplace_back(curl_easy_init()).get();
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &discard);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        curl_easy_setopt(h, CURLOPT_MAXCONNECTS, max_connects);
    }
    std::atomic<std::uint64_t> delivered{0};
    const auto post = [&](std::size_t t) {
        CURL* h = handles[t].get();
        std::uint64_t ok = 0;
        for (std::size_t i = t; i < n; i += threads) {
            const std::size_t to = i % endpoint_count;
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
            curl_slist* headers = nullptr;
            for (const std::string& line : {std::string("content-type: application/json"), "webhook-id: " + id,
                                             "webhook-timestamp: " + std::to_string(now),
                                             "webhook-signature: " + outbound::sign(secrets[to], id, now, body),
                                             std::string("user-agent: beacon-webhook"), std::string("expect:")}) {
                headers = curl_slist_append(headers, line.c_str());
            }
            curl_easy_setopt(h, CURLOPT_URL, urls[to].c_str());
            curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
            long status = 0;
            if (curl_easy_perform(h) == CURLE_OK && curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
                status >= 200 && status < 300) {
                ++ok;
            }
            curl_slist_free_all(headers);
        }
        delivered += ok;
    };
    std::uint64_t sent = 0;
    for (auto _ : state) {
        std::vector<std::thread> pool;
        for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(post, t);
        for (auto& t : pool) t.join();
        sent += n;
    }
    check.finish(state, sent, delivered.load());
}

}  // namespace

// The same connection cache as the courier's workers (courier_options::connections).
BENCHMARK_CAPTURE(bare_libcurl, cache, static_cast<long>(beacon::outbound::courier_options{}.connections))
    ->Name("P15/bare_libcurl")->Arg(1000)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
