#pragma once
// The source a registry's signals stamp on their events (a URI reference naming the producer).

#include <beacon/detail/json_guard.hpp>
#include <beacon/error.hpp>

#include <unistd.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace beacon::detail {

// "urn:beacon:<host name>": the source of events whose registry was given none.
inline const std::string& default_source() {
    static const std::string source = [] {
        char host[256] = {};
        if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return std::string("urn:beacon:localhost");
        return "urn:beacon:" + std::string(host);
    }();
    return source;
}

// Read lock-free by every stamping send; a value once set stays alive as long as the origin, so a
// send that read the previous one while it was replaced still holds a valid string.
class event_origin {
public:
    const std::string& source() const noexcept { return *source_.load(std::memory_order_acquire); }

    void set_source(std::string_view source) {
        if (source.empty() || source.size() > 1024) {
            throw config_error("", "source", "a registry's source must be a URI reference of 1 to 1024 bytes, got " +
                                                 std::to_string(source.size()) + " bytes");
        }
        for (char c : source) {
            if (c <= 0x20 || c == 0x7f) {
                throw config_error("", "source", "a registry's source must not hold spaces or control characters: \"" +
                                                     excerpt(source) + "\"");
            }
        }
        std::lock_guard lock(mutex_);
        kept_.push_back(std::make_unique<const std::string>(source));
        source_.store(kept_.back().get(), std::memory_order_release);
    }

private:
    std::atomic<const std::string*> source_{&default_source()};
    std::mutex mutex_;
    std::vector<std::unique_ptr<const std::string>> kept_;
};

// The origin of signals made outside any registry.
inline const std::shared_ptr<event_origin>& process_origin() {
    static const auto origin = std::make_shared<event_origin>();
    return origin;
}

}  // namespace beacon::detail
