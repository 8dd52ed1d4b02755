#pragma once
// Test support for the Redis bridge: a redis-server of the test's own on a free loopback port
// (never a system service's port), started and stopped by the test. Used by redis_test and the
// Redis benchmark.
#include <beacon/redis/detail/connection.hpp>

#include "eventually.hpp"
#include "free_port.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace beacon_test {

using namespace std::chrono_literals;

// A redis-server of the test's own, on a free loopback port, with its files in a temporary
// directory; `durable` turns on the append-only file, fsynced on every write.
class redis_server {
public:
    // `port` 0: a free one, chosen again when another process binds it first (free_port() finds a
    // port free, and a test running beside this one may take it before this server binds it).
    explicit redis_server(bool durable = false, int port = 0) : port_(port), durable_(durable) {
        char dir[] = "/tmp/beacon-redis-XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        for (int attempt = 1;; ++attempt) {
            if (port == 0) port_ = free_port();
            if (try_start()) return;
            if (port != 0 || attempt == 5) {
                std::filesystem::remove_all(dir_);
                did_not_come_up();
            }
        }
    }
    redis_server(const redis_server&) = delete;
    redis_server& operator=(const redis_server&) = delete;
    ~redis_server() {
        if (pid_ > 0) stop(SIGTERM);
        std::filesystem::remove_all(dir_);
    }

    int port() const { return port_; }
    std::string url() const { return url_for(port_); }
    static std::string url_for(int port) { return "redis://127.0.0.1:" + std::to_string(port) + "/0"; }

    // Makes the user `name` with password "secret" and `keys` (an ACL key pattern), allowed every
    // command and channel, and returns a URL that logs in as that user.
    std::string user_url(const std::string& name, const std::string& keys = "~*") {
        command({"ACL", "SETUSER", name, "on", ">secret", keys, "&*", "+@all"});
        return "redis://" + name + ":secret@127.0.0.1:" + std::to_string(port_) + "/0";
    }

    // Starts the server again on its port (after stop()); throws when it does not come up.
    void start() {
        if (!try_start()) did_not_come_up();
    }

    // Sends `sig` to the server (SIGSTOP: it hangs; SIGCONT: it goes on).
    void signal(int sig) { ::kill(pid_, sig); }

    // Stops the server with `sig` (SIGKILL: a crash) and waits for it to be gone.
    void stop(int sig) {
        ::kill(pid_, sig);
        ::kill(pid_, SIGCONT);  // a stopped server must run to act on `sig`
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
    }

    // A client of our own, to look at what the bridge left in Redis.
    beacon::redis::detail::redis_reply command(const beacon::redis::detail::redis_command& cmd) {
        if (!client_) client_ = std::make_unique<beacon::redis::detail::redis_connection>(beacon::redis::detail::parse_redis_url(url()), 2000ms);
        return client_->command(cmd);
    }
    long long llen(const std::string& list) { return command({"LLEN", list})->integer; }

private:
    [[noreturn]] void did_not_come_up() const {
        throw std::runtime_error("redis-server did not come up on port " + std::to_string(port_));
    }

    // Starts the server and waits until it answers as itself (its process id), not as another
    // test's server on the same port: false when it exits first (its port taken) or never answers.
    bool try_start() {
        const std::string port = std::to_string(port_);
        std::vector<std::string> args{"redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", dir_,
                                      "--save", "", "--logfile", dir_ + "/redis.log", "--daemonize", "no"};
        if (durable_) {
            args.insert(args.end(), {"--appendonly", "yes", "--appendfsync", "always"});
        } else {
            args.insert(args.end(), {"--appendonly", "no"});
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        if (::posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
            throw std::runtime_error("cannot start redis-server (Debian: apt install redis-server)");
        }
        const std::string own = "process_id:" + std::to_string(pid_) + "\r\n";
        bool exited = false;
        const bool up = eventually([&] {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return exited = true;
            try {
                beacon::redis::detail::redis_connection probe(beacon::redis::detail::parse_redis_url(url()), 1000ms);
                const auto info = probe.command({"INFO", "server"});  // answered even while loading
                if (info->type != REDIS_REPLY_STRING || std::string(info->str, info->len).find(own) == std::string::npos) return false;
                return probe.command({"PING"})->type == REDIS_REPLY_STATUS;  // not an error: done loading its data
            } catch (const beacon::redis::redis_error&) {
                return false;
            }
        });
        if (up && !exited) return true;
        if (!exited) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
        return false;
    }

    int port_;
    bool durable_;
    std::string dir_;
    pid_t pid_ = -1;
    std::unique_ptr<beacon::redis::detail::redis_connection> client_;
};

}  // namespace beacon_test
