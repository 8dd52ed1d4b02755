#pragma once
// A free TCP port on the loopback interface, for the servers the tests start (Redis, PostgreSQL)
// and the peers they fake: never a system service's port, and never one of the kernel's
// ephemeral ports. Any connection on the machine may take an ephemeral port as its own local
// port at any moment, so that a server stopped and started again on its port (a restart test),
// or started on a port chosen beforehand, could find it taken while tests run side by side.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <random>
#include <stdexcept>

namespace beacon_test {

// A TCP socket bound to `port` (0: any) on the loopback interface, its number in `port`; -1 if
// it cannot be bound.
inline int loopback_socket(int& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        ::close(fd);
        return -1;
    }
    port = ntohs(addr.sin_port);
    return fd;
}

// A TCP socket bound on the loopback interface to a port drawn at random below the ephemeral
// range (from 20000 up to the range's start, read from /proc), or to the kernel's choice if that
// leaves too few; its number in `port`.
inline int free_loopback_socket(int& port) {
    int ephemeral_low = 32768;
    std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_low;
    if (ephemeral_low > 21000) {
        thread_local std::mt19937 random(std::random_device{}());
        std::uniform_int_distribution<int> pick(20000, ephemeral_low - 1);
        for (int attempt = 0; attempt < 100; ++attempt) {
            port = pick(random);
            if (const int fd = loopback_socket(port); fd >= 0) return fd;
        }
    }
    port = 0;
    const int fd = loopback_socket(port);
    if (fd < 0) throw std::runtime_error("no free loopback port");
    return fd;
}

// A port free now, chosen as free_loopback_socket chooses it.
inline int free_port() {
    int port = 0;
    ::close(free_loopback_socket(port));
    return port;
}

}  // namespace beacon_test
