#pragma once
// What the metrics tests share: the samples of one series in an exposition, and what Prometheus's
// own promtool says of an exposition (BEACON_PROMTOOL: the path CMake found, or empty).

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace beacon_test {

// The samples of `text` (Prometheus's text format) whose line starts with `series`.
inline std::vector<std::string> samples(const std::string& text, const std::string& series) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        const std::string line = text.substr(start, end - start);
        if (line.rfind(series, 0) == 0) out.push_back(line);
        start = end + 1;
    }
    return out;
}

// What `promtool check metrics` says of `text`, and its exit status.
inline std::pair<int, std::string> promtool_check(const std::string& text) {
    const std::string path = BEACON_PROMTOOL;
    if (path.empty()) throw std::runtime_error("promtool not found at configure time (Debian: prometheus)");
    char name[] = "/tmp/beacon_metrics_XXXXXX";
    const int fd = ::mkstemp(name);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    std::ofstream(name) << text;
    FILE* p = ::popen((path + " check metrics < " + name + " 2>&1").c_str(), "r");
    if (p == nullptr) throw std::runtime_error("popen failed");
    std::string said;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) said += buf;
    const int status = ::pclose(p);
    std::remove(name);
    return {status, said};
}

}  // namespace beacon_test
