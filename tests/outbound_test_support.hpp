#pragma once
// Test support for the outbound part: the failures a courier reports; a child process whose standard input the test holds (it
// stops when the test closes it) and whose first line of output says its port (the endpoints of
// tests/webhook_endpoint.py, the npm receiver of tests/interop); a GET over libcurl; a test CA and
// a certificate for 127.0.0.1 and localhost made with the openssl command.
#include <beacon/failure.hpp>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace beacon_test {

// The failures a courier reports (courier_options::on_failure = handler()), for the test to read.
struct failure_log {
    std::mutex mutex;
    std::string text;
    beacon::failure_handler handler() {
        return [this](const beacon::failure& f) {
            const std::lock_guard lock(mutex);
            text += f.describe() + "\n";
        };
    }
    std::string all() {
        const std::lock_guard lock(mutex);
        return text;
    }
};

// A child process started with `args`; its standard input is a pipe the destructor closes.
class child_process {
public:
    explicit child_process(std::vector<std::string> args) {
        int in[2], out[2];
        // Close-on-exec: a later child must not hold this one's standard input open.
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_addclose(&actions, in[1]);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        const int rc = ::posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
        stdin_ = in[1];
        stdout_ = ::fdopen(out[0], "r");
    }
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() {
        ::close(stdin_);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        if (stdout_) std::fclose(stdout_);
    }

    // The next line of the child's output, without its newline ("" at its end).
    std::string read_line() {
        std::string line;
        for (int c = std::fgetc(stdout_); c != EOF && c != '\n'; c = std::fgetc(stdout_)) line += static_cast<char>(c);
        return line;
    }

    // The port of the child's first line, "listening <port>".
    int port() {
        const std::string line = read_line();
        if (line.rfind("listening ", 0) != 0) throw std::runtime_error("the child said \"" + line + "\", not its port");
        return std::stoi(line.substr(10));
    }

private:
    pid_t pid_ = 0;
    int stdin_ = -1;
    std::FILE* stdout_ = nullptr;
};

// tests/webhook_endpoint.py on a port of its own (over TLS with `cert` and `key` when given,
// whose CA is `ca`).
class webhook_endpoint {
public:
    explicit webhook_endpoint(const std::string& cert = "", const std::string& key = "", std::string ca = "")
        : process_(cert.empty() ? std::vector<std::string>{"python3", BEACON_TEST_SOURCE_DIR "/webhook_endpoint.py"}
                                : std::vector<std::string>{"python3", BEACON_TEST_SOURCE_DIR "/webhook_endpoint.py", "--tls", cert, key}),
          port_(process_.port()),
          ca_(std::move(ca)) {}

    int port() const { return port_; }
    std::string url(const std::string& path, const std::string& host = "127.0.0.1") const {
        return (ca_.empty() ? "http://" : "https://") + host + ":" + std::to_string(port_) + path;
    }

    // The requests the endpoint got on `path` (every path when empty).
    nlohmann::json log(const std::string& path = "") const {
        const auto all = nlohmann::json::parse(get(url("/log", "localhost"), ca_));
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : all) {
            if (path.empty() || r.at("path") == path) out.push_back(r);
        }
        return out;
    }

    static std::string get(const std::string& url, const std::string& ca = "") {
        CURL* h = curl_easy_init();
        std::string body;
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_PROXY, "");  // the endpoint is local: never through http_proxy
        if (!ca.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca.c_str());
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, +[](char* p, std::size_t s, std::size_t n, void* out) {
            static_cast<std::string*>(out)->append(p, s * n);
            return s * n;
        });
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        const CURLcode rc = curl_easy_perform(h);
        curl_easy_cleanup(h);
        if (rc != CURLE_OK) throw std::runtime_error("GET " + url + ": " + curl_easy_strerror(rc));
        return body;
    }

private:
    child_process process_;
    int port_;
    std::string ca_;
};

// A test CA and a server certificate it signed for 127.0.0.1 and localhost, in a temporary
// directory: ca.pem, server.pem, server.key.
class test_ca {
public:
    test_ca() {
        char dir[] = "/tmp/beacon-ca-XXXXXX";
        if (!::mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
        dir_ = dir;
        run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=beacon-test-ca -keyout ca.key -out ca.pem");
        run("openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout server.key -out server.csr");
        run("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext && openssl x509 -req -in server.csr "
            "-CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem");
    }
    test_ca(const test_ca&) = delete;
    test_ca& operator=(const test_ca&) = delete;
    ~test_ca() { std::filesystem::remove_all(dir_); }

    std::string file(const std::string& name) const { return dir_ + "/" + name; }

private:
    void run(const std::string& command) const {
        const std::string line = "cd " + dir_ + " && " + command + " >/dev/null 2>&1";
        if (std::system(line.c_str()) != 0) throw std::runtime_error("failed: " + command);
    }
    std::string dir_;
};

}  // namespace beacon_test
