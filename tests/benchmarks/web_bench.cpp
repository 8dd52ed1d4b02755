// P8, web push: events fanned out to C loopback SSE clients (default 1,000), side by side in one
// run: beacon's sse_stream (events published in-process, and through Redis pub/sub with
// redis::sse_fanout), a Python peer written the Flask-Notifications way (Flask + gevent + redis-py:
// one pub/sub subscription per request, a generator yielding SSE), and the physical limit, a bare
// loop write()ing the same bytes to the same number of loopback sockets. Per side: events per
// second per client (a burst of E events, until every client has every event: the capacity),
// p50/p99 latency from send to receipt (E/4 events paced at half of beacon's in-process capacity,
// or at `paced_per_s` events per second; the Python peer's one every 2 ms), and memory per idle
// connection (RSS growth). beacon's servers run one thread per core, as a host's would, or
// `threads`. Usage: web_bench [events] [clients] [peer_events (0: no peer)] [paced_per_s (0: half
// capacity)] [threads]. Prints a Markdown table; asserts nothing.
#include <beacon/web.hpp>
#include <beacon/redis/sse_fanout.hpp>

#include "../redis_server.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;
namespace web = beacon::web;

std::int64_t now_ns() { return std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now().time_since_epoch()).count(); }

long rss_kib() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return resident * (::sysconf(_SC_PAGESIZE) / 1024);
}

// The event's data: the send time (for latency) and padding to ~200 bytes of JSON.
std::string payload(std::int64_t sent) {
    return "{\"t\":" + std::to_string(sent) + ",\"title\":\"bench\",\"body\":\"" + std::string(150, 'x') + "\"}";
}

// C client sockets of one side, read by one epoll loop: counts frames and latencies per client.
class clients {
public:
    clients(unsigned short port, int n, const std::string& request) {
        for (int i = 0; i < n; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in a{};
            a.sin_family = AF_INET;
            a.sin_port = htons(port);
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw std::runtime_error("connect failed");
            if (!request.empty() && ::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
                throw std::runtime_error("request write failed");
            }
            ::fcntl(fd, F_SETFL, O_NONBLOCK);
            fds_.push_back(fd);
        }
        state_.resize(fds_.size());
        for (auto& s : state_) s.in_body = request.empty();
    }
    ~clients() {
        for (int fd : fds_) ::close(fd);
    }
    std::vector<int>& fds() { return fds_; }

    // Reads until every client has `total` frames (since construction) or 120 s pass; returns
    // the time the last frame arrived. Latencies of frames read are appended to `latencies`.
    clock_type::time_point read_all(std::size_t total, std::vector<std::int64_t>* latencies) {
        const int ep = ::epoll_create1(0);
        for (std::size_t i = 0; i < fds_.size(); ++i) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.u64 = i;
            ::epoll_ctl(ep, EPOLL_CTL_ADD, fds_[i], &ev);
        }
        std::size_t complete = 0;
        for (auto& s : state_) complete += s.frames >= total ? 1 : 0;
        clock_type::time_point last = clock_type::now();
        const auto deadline = last + 120s;
        std::vector<epoll_event> ready(256);
        char chunk[65536];
        while (complete < fds_.size() && clock_type::now() < deadline) {
            const int n = ::epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 100);
            for (int k = 0; k < n; ++k) {
                const auto i = ready[static_cast<std::size_t>(k)].data.u64;
                auto& s = state_[i];
                for (;;) {
                    const auto got = ::read(fds_[i], chunk, sizeof chunk);
                    if (got <= 0) break;
                    const std::int64_t at = now_ns();
                    s.buffer.append(chunk, static_cast<std::size_t>(got));
                    const bool was_complete = s.frames >= total;
                    parse(s, at, latencies);
                    if (!was_complete && s.frames >= total) ++complete;
                }
                last = clock_type::now();
            }
        }
        ::close(ep);
        return last;
    }

private:
    struct client_state {
        std::string buffer;
        bool in_body = false;
        std::size_t frames = 0;
    };

    static void parse(client_state& s, std::int64_t at, std::vector<std::int64_t>* latencies) {
        std::size_t start = 0;
        if (!s.in_body) {
            const auto end = s.buffer.find("\r\n\r\n");
            if (end == std::string::npos) return;
            start = end + 4;
            s.in_body = true;
        }
        for (;;) {
            const auto end = s.buffer.find("\n\n", start);
            if (end == std::string::npos) break;
            const auto t = s.buffer.find("\"t\":", start);
            if (t != std::string::npos && t < end) {
                ++s.frames;
                if (latencies) latencies->push_back(at - std::atoll(s.buffer.c_str() + t + 4));
            }
            start = end + 2;
        }
        s.buffer.erase(0, start);
    }

    std::vector<int> fds_;
    std::vector<client_state> state_;
};

struct result {
    std::string side;
    double events_per_s_per_client = 0;
    double p50_ms = 0, p99_ms = 0;
    double kib_per_connection = 0;
};

double percentile(std::vector<std::int64_t> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return static_cast<double>(v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))]) / 1e6;
}

// One side: `send(payload)` sends an event; burst of `events`, then `paced` events apart by
// `gap(events/s per client in the burst)`.
result run(const std::string& side, clients& c, int events, int paced, const std::function<clock_type::duration(double)>& gap,
           const std::function<void(const std::string&)>& send) {
    result r;
    r.side = side;
    const auto start = clock_type::now();
    for (int i = 0; i < events; ++i) send(payload(now_ns()));
    const auto end = c.read_all(static_cast<std::size_t>(events), nullptr);
    r.events_per_s_per_client = events / std::chrono::duration<double>(end - start).count();
    std::vector<std::int64_t> latencies;
    const auto apart = gap(r.events_per_s_per_client);
    std::thread sender([&] {
        auto next = clock_type::now();
        for (int i = 0; i < paced; ++i) {
            send(payload(now_ns()));
            next += apart;
            std::this_thread::sleep_until(next);
        }
    });
    c.read_all(static_cast<std::size_t>(events + paced), &latencies);
    sender.join();
    r.p50_ms = percentile(latencies, 0.50);
    r.p99_ms = percentile(latencies, 0.99);
    return r;
}

const std::string sse_request = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";

}  // namespace

int main(int argc, char** argv) {
    const int events = argc > 1 ? std::atoi(argv[1]) : 200;
    const int n = argc > 2 ? std::atoi(argv[2]) : 1000;
    const int peer_events = argc > 3 ? std::atoi(argv[3]) : std::max(1, events / 10);
    const int paced = std::max(1, events / 4);
    const double paced_per_s = argc > 4 ? std::atof(argv[4]) : 0;  // 0: half of beacon's in-process capacity
    const auto threads = argc > 5 ? static_cast<unsigned>(std::atoi(argv[5])) : std::max(1u, std::thread::hardware_concurrency());
    // The paced gap: 1 / paced_per_s, else set from beacon's in-process capacity (its burst's rate).
    clock_type::duration gap{};
    const auto gap_of = [](double per_s) { return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(1 / per_s)); };
    const auto same_gap = [&](double) { return gap; };
    if (paced_per_s > 0) gap = gap_of(paced_per_s);
    std::vector<result> results;
    beacon_test::redis_server redis;

    web::sse_options o;
    o.queue = static_cast<std::size_t>(events + paced) + 16;  // a burst, not a slow client
    o.encode = [](const beacon::event& e) { return e.data.at("p").get<std::string>(); };
    const auto event_of = [](const std::string& p) { return beacon::event("bench", {{"p", p}}); };

    {  // beacon, in process
        web::server_options so;
        so.max_connections = static_cast<std::size_t>(n) + 16;
        so.max_connections_per_address = so.max_connections;  // every client is on 127.0.0.1
        so.threads = threads;
        web::server s(so);
        auto stream = s.add_stream("/events", o);
        s.start();
        const long before = rss_kib();
        clients c(s.port(), n, sse_request);
        while (stream->stats().connections < static_cast<std::size_t>(n)) std::this_thread::sleep_for(1ms);
        c.read_all(0, nullptr);
        std::this_thread::sleep_for(100ms);
        const long after = rss_kib();
        const auto half_capacity = [&](double capacity) {
            if (paced_per_s <= 0) gap = gap_of(capacity / 2);
            return gap;
        };
        auto r = run("beacon sse_stream (in-process publish)", c, events, paced, half_capacity,
                     [&](const std::string& p) { stream->publish(event_of(p)); });
        r.kib_per_connection = static_cast<double>(after - before) / n;
        results.push_back(r);
    }
    {  // beacon, through Redis pub/sub (Flask-Notifications' architecture)
        web::server_options so;
        so.max_connections = static_cast<std::size_t>(n) + 16;
        so.max_connections_per_address = so.max_connections;  // every client is on 127.0.0.1
        so.threads = threads;
        web::server s(so);
        beacon::redis::consumer_options sub;
        sub.url = redis.url();
        sub.channel = "bench.beacon";
        beacon::redis::sse_fanout fan(s.add_stream("/events", o), sub);
        s.start();
        clients c(s.port(), n, sse_request);
        while (fan.stream()->stats().connections < static_cast<std::size_t>(n)) std::this_thread::sleep_for(1ms);
        while (redis.command({"PUBSUB", "NUMSUB", "bench.beacon"})->element[1]->integer < 1) std::this_thread::sleep_for(1ms);
        beacon::redis::forwarder_options lo;
        lo.url = redis.url();
        lo.channel = "bench.beacon";
        beacon::redis::forwarder publisher(lo);
        results.push_back(run("beacon via Redis pub/sub (redis::sse_fanout)", c, events, paced, same_gap,
                              [&](const std::string& p) { publisher.forward(event_of(p)); }));
    }
    {  // the bare loop: accept n sockets, write the same bytes to each, one write() per event per socket
        int listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        ::bind(listener, reinterpret_cast<sockaddr*>(&a), len);
        ::listen(listener, 4096);
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
        std::vector<int> server_side;
        std::thread acceptor([&] {
            for (int i = 0; i < n; ++i) server_side.push_back(::accept(listener, nullptr, nullptr));
        });
        clients c(ntohs(a.sin_port), n, "");
        acceptor.join();
        std::uint64_t sequence = 0;
        results.push_back(run("bare loop: write() to every socket", c, events, paced, same_gap, [&](const std::string& p) {
            const std::string frame = "id: " + std::to_string(++sequence) + "\ndata: " + p + "\n\n";
            for (int fd : server_side) {
                for (std::size_t done = 0; done < frame.size();) {
                    const auto w = ::write(fd, frame.data() + done, frame.size() - done);
                    if (w > 0) done += static_cast<std::size_t>(w);
                }
            }
        }));
        for (int fd : server_side) ::close(fd);
        ::close(listener);
    }
    if (peer_events > 0) {  // the Python peer: Flask + gevent + redis-py, one pub/sub subscription per client
        const std::string command = "/usr/bin/python3 " BEACON_BENCH_DIR "/web_peer.py " + std::to_string(redis.port());
        FILE* peer = ::popen(command.c_str(), "r");
        int pid = 0, port = 0;
        if (!peer || std::fscanf(peer, "%d %d", &pid, &port) != 2) {
            std::cerr << "web_bench: the Python peer did not start (python3-flask, python3-gevent, python3-redis)\n";
            return 1;
        }
        clients c(static_cast<unsigned short>(port), n, sse_request);
        while (redis.command({"PUBSUB", "NUMSUB", "bench.peer"})->element[1]->integer < n) std::this_thread::sleep_for(5ms);
        c.read_all(0, nullptr);
        beacon::redis::detail::redis_connection publisher(beacon::redis::detail::parse_redis_url(redis.url()), 2000ms);
        const auto every_2ms = [](double) { return clock_type::duration(2ms); };
        results.push_back(run("Python peer: Flask + gevent + redis pub/sub", c, peer_events, std::max(1, peer_events / 4), every_2ms,
                              [&](const std::string& p) { publisher.command({"PUBLISH", "bench.peer", p}); }));
        ::kill(pid, SIGTERM);
        ::pclose(peer);
    }

    const auto& beacon_side = results[0];
    std::cout << "beacon's server threads: " << threads << "; paced events: " << paced << " per side, "
              << 1 / std::chrono::duration<double>(gap).count() << " per second (the Python peer's: 500 per second)\n\n";
    std::cout << "| side (" << n << " clients, ~200-byte events) | events/s per client | p50 ms | p99 ms | KiB per idle connection |\n"
              << "|---|---:|---:|---:|---:|\n";
    for (const auto& r : results) {
        std::cout << "| " << r.side << " | " << static_cast<long>(r.events_per_s_per_client) << " | " << r.p50_ms << " | "
                  << r.p99_ms << " | " << (r.kib_per_connection > 0 ? std::to_string(r.kib_per_connection) : "-") << " |\n";
    }
    const auto& bare = results[2];
    std::cout << "\nbeacon / bare loop: " << beacon_side.events_per_s_per_client / bare.events_per_s_per_client
              << "x (target >= 0.5x); paced p99, beacon / bare loop: " << beacon_side.p99_ms / bare.p99_ms << "x\n";
    if (results.size() > 3) {
        std::cout << "beacon / Python peer: " << beacon_side.events_per_s_per_client / results[3].events_per_s_per_client
                  << "x (target >= 20x); beacon via Redis / Python peer: "
                  << results[1].events_per_s_per_client / results[3].events_per_s_per_client << "x\n";
    }
}
