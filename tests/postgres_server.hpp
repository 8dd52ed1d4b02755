#pragma once
// Test support for the PostgreSQL part: a PostgreSQL cluster of the test's own (initdb into a
// temporary directory, `postgres` on a free loopback port, never a system service's), started and
// stopped by the test. initdb and postgres refuse to run as root: run as root (CI), the helper runs
// them as the user `nobody` (setgid/setuid in the child before exec, the directory given to it);
// run as anyone else, as that user. And exec(), which runs a statement or throws.
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "free_port.hpp"

namespace beacon_test {

using namespace std::chrono_literals;

// A connection closed on destruction.
using pg_connection = std::unique_ptr<PGconn, void (*)(PGconn*)>;

// The directory of PostgreSQL's server programs: $BEACON_PG_BINDIR, `pg_config --bindir` (Debian's
// libpq-dev names the client's version, whose server may be absent), the newest
// /usr/lib/postgresql/<n>/bin, then $PATH; the first holding initdb and postgres.
inline std::string postgres_bindir() {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("BEACON_PG_BINDIR")) candidates.emplace_back(env);
    if (FILE* p = ::popen("pg_config --bindir 2>/dev/null", "r")) {
        char line[4096] = {};
        if (std::fgets(line, sizeof line, p) != nullptr) {
            std::string dir = line;
            while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
            candidates.push_back(dir);
        }
        ::pclose(p);
    }
    std::vector<std::filesystem::path> versions;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
        versions.push_back(entry.path() / "bin");
    }
    std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) {
        return std::atoi(a.parent_path().filename().c_str()) > std::atoi(b.parent_path().filename().c_str());
    });
    for (const auto& v : versions) candidates.push_back(v.string());
    if (const char* path = std::getenv("PATH")) {
        std::stringstream dirs(path);
        for (std::string dir; std::getline(dirs, dir, ':');) candidates.push_back(dir);
    }
    for (const auto& dir : candidates) {
        if (::access((dir + "/initdb").c_str(), X_OK) == 0 && ::access((dir + "/postgres").c_str(), X_OK) == 0) {
            return dir;
        }
    }
    throw std::runtime_error("PostgreSQL's server programs (initdb, postgres) not found (Debian: apt install postgresql)");
}

// A PostgreSQL cluster of the test's own: its superuser `postgres` connects through the Unix
// socket in the cluster's directory (trust), every TCP client with a password (scram-sha-256).
class postgres_server {
public:
    postgres_server() : bindir_(postgres_bindir()), port_(free_port()) {
        char dir[] = "/tmp/beacon-pg-XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        if (::geteuid() == 0) {  // initdb and postgres refuse root: the cluster is nobody's
            const passwd* nobody = ::getpwnam("nobody");
            if (nobody == nullptr) throw std::runtime_error("running as root, and no user nobody to run PostgreSQL as");
            uid_ = nobody->pw_uid;
            gid_ = nobody->pw_gid;
            if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("cannot give " + dir_ + " to nobody");
        }
        run_and_wait({bindir_ + "/initdb", "-D", dir_ + "/data", "-U", "postgres", "--no-locale", "-E", "UTF8",
                      "--no-sync", "--auth-local=trust", "--auth-host=scram-sha-256"},
                     "initdb");
        for (int attempt = 1;; ++attempt) {
            try {
                start();
                return;
            } catch (const std::runtime_error&) {
                // Exited at start: most likely its port was taken between free_port() and its bind,
                // by a test running beside this one. Another port, a few times.
                if (pid_ > 0 || attempt == 5) throw;
                port_ = free_port();
            }
        }
    }
    postgres_server(const postgres_server&) = delete;
    postgres_server& operator=(const postgres_server&) = delete;
    ~postgres_server() {
        if (pid_ > 0) stop(SIGINT);
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    int port() const { return port_; }

    // Starts `postgres` (fsync off: the tests need no durability across a machine crash) and
    // waits until it accepts connections.
    void start() {
        pid_ = spawn({bindir_ + "/postgres", "-D", dir_ + "/data", "-k", dir_, "-h", "127.0.0.1", "-p",
                      std::to_string(port_), "-F", "-c", "max_connections=40", "-c", "shared_buffers=16MB"},
                     dir_ + "/postgres.log");
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        for (;;) {
            if (PQstatus(admin().get()) == CONNECTION_OK) return;
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("postgres exited at start:\n" + log());
            }
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("postgres did not come up:\n" + log());
            std::this_thread::sleep_for(20ms);
        }
    }

    // Stops the server and its backends with `sig` (SIGINT: a fast shutdown; SIGKILL: a crash)
    // and waits for the server to be gone.
    void stop(int sig) {
        ::kill(-pid_, sig);  // its process group: the postmaster and every backend
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        int status = 0;
        while (::waitpid(pid_, &status, WNOHANG) == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                ::kill(-pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(10ms);
        }
        pid_ = -1;
        wait_for_backends();
    }

    // A connection as the superuser, through the Unix socket, to `database`.
    pg_connection admin(const std::string& database = "postgres") const {
        return connect("host=" + dir_ + " port=" + std::to_string(port_) + " dbname=" + database +
                       " user=postgres connect_timeout=5");
    }

    // The conninfo of `user` with `password` over TCP to `database`.
    std::string conninfo(const std::string& database, const std::string& user, const std::string& password) const {
        return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + database + " user=" + user +
               " password=" + password + " connect_timeout=5";
    }

    static pg_connection connect(const std::string& conninfo) {
        return pg_connection(PQconnectdb(conninfo.c_str()), PQfinish);
    }

    // What the server logged.
    std::string log() const {
        std::ifstream in(dir_ + "/postgres.log");
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

private:
    // Forks and execs `args` in a process group of its own, output to `log_file`, as nobody when
    // run as root; returns its pid.
    pid_t spawn(std::vector<std::string> args, const std::string& log_file) const {
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out < 0) throw std::runtime_error("cannot open " + log_file);
        const pid_t pid = ::fork();
        if (pid == 0) {  // only async-signal-safe calls from here on
            ::setpgid(0, 0);
            ::dup2(out, 1);
            ::dup2(out, 2);
            if (::chdir(dir_.c_str()) != 0) ::_exit(126);
            if (uid_ != 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0)) ::_exit(126);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out);
        if (pid < 0) throw std::runtime_error("fork failed");
        ::setpgid(pid, pid);  // no race with kill(-pid): set on both sides
        return pid;
    }

    // The backends run in sessions of their own (kill(-pid) does not reach them): after a crash
    // they leave once they notice that the postmaster is gone, and a new postmaster refuses to start
    // while one still holds the shared memory. Waits until none does (its id is on line 7 of
    // postmaster.pid, which a crash leaves behind).
    void wait_for_backends() const {
        std::ifstream pid_file(dir_ + "/data/postmaster.pid");
        std::string line;
        int id = -1;
        for (int n = 1; std::getline(pid_file, line); ++n) {
            if (n == 7) {
                long key = 0;
                std::istringstream(line) >> key >> id;
            }
        }
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        shmid_ds state{};
        while (id >= 0 && ::shmctl(id, IPC_STAT, &state) == 0 && state.shm_nattch > 0 &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(10ms);
        }
    }

    void run_and_wait(std::vector<std::string> args, const std::string& what) const {
        const pid_t pid = spawn(std::move(args), dir_ + "/" + what + ".log");
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::ifstream in(dir_ + "/" + what + ".log");
            std::stringstream text;
            text << in.rdbuf();
            throw std::runtime_error(what + " failed:\n" + text.str());
        }
    }

    std::string bindir_;
    int port_;
    std::string dir_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    pid_t pid_ = -1;
};

// Runs `sql` on `conn`; throws std::runtime_error with the server's message (no Catch2 macro:
// threads and child processes call it).
inline void exec(PGconn* conn, const std::string& sql) {
    PGresult* r = PQexec(conn, sql.c_str());
    const auto status = PQresultStatus(r);
    const std::string message = PQresultErrorMessage(r);
    PQclear(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw std::runtime_error(sql + ": " + message);
}

}  // namespace beacon_test
