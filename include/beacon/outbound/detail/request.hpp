#pragma once
// One webhook attempt over libcurl: a POST of the signed body on a worker's reused handle (its
// connections kept alive), every socket checked against the address guard before it connects,
// no redirect followed, no proxy, the answer's body read up to a bound and discarded.

#include <beacon/error.hpp>
#include <beacon/outbound/detail/endpoint_guard.hpp>

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace beacon::outbound::detail {

/// How an attempt ended.
enum class outcome { delivered, http_error, gone, throttled, timed_out, network_error, address_refused };

/// What one attempt got: how it ended, the HTTP status (0 without one), the wait the endpoint
/// asked for (429 and 503 with Retry-After), and a line saying what happened.
struct attempt_result {
    detail::outcome outcome = outcome::network_error;
    long status = 0;
    std::chrono::seconds retry_after{0};
    std::string what;
};

/// What an attempt sends: where, the headers' values, the body, its limits.
struct request {
    const std::string* url = nullptr;
    const std::string* shown = nullptr;
    const std::string* ca_file = nullptr;
    const char* content_type = "application/json";
    std::string id, timestamp, signature;
    const std::string* body = nullptr;
    std::chrono::milliseconds timeout{10000};
    bool allow_private = false;
    std::size_t max_answer_bytes = 65536;
};

inline void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw transport_error("outbound: libcurl failed to initialize");
    });
}

/// A worker's libcurl handle, reused from attempt to attempt.
class http_client {
public:
    /// A handle; `stopping`, once set, aborts the attempt under way.
    explicit http_client(const std::atomic<bool>& stopping) : stopping_(&stopping) {
        init_curl();
        handle_.reset(curl_easy_init());
        if (!handle_) throw transport_error("outbound: curl_easy_init failed");
    }

    /// Makes the attempt; never throws for what the endpoint or the network does.
    attempt_result post(const request& r) {
        CURL* h = handle_.get();
        curl_easy_reset(h);  // keeps the open connections, the DNS and TLS session caches
        guard_ = socket_guard{r.allow_private, {}};
        answer_bytes_ = 0;
        max_answer_bytes_ = r.max_answer_bytes;
        headers_.reset();
        append_header("content-type: " + std::string(r.content_type));
        append_header("webhook-id: " + r.id);
        append_header("webhook-timestamp: " + r.timestamp);
        append_header("webhook-signature: " + r.signature);
        append_header("user-agent: beacon-webhook");
        append_header("expect:");  // no "100-continue" round trip for larger bodies
        curl_easy_setopt(h, CURLOPT_URL, r.url->c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_PROXY, "");  // a proxy would hide the address from the guard
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_.get());
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body->data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body->size()));
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard_);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &read_answer);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
        if (!r.ca_file->empty()) curl_easy_setopt(h, CURLOPT_CAINFO, r.ca_file->c_str());
        const CURLcode rc = curl_easy_perform(h);
        return judge(h, rc);
    }

private:
    struct socket_guard {
        bool allow_private = false;
        std::string refused;  // why the last socket was refused, or ""
    };
    struct easy_deleter {
        void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
    };
    struct slist_deleter {
        void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
    };

    void append_header(const std::string& line) {
        curl_slist* next = curl_slist_append(headers_.get(), line.c_str());
        if (!next) throw transport_error("outbound: out of memory for a header");
        (void)headers_.release();
        headers_.reset(next);
    }

    static curl_socket_t open_socket(void* data, curlsocktype, curl_sockaddr* address) {
        auto* guard = static_cast<socket_guard*>(data);
        if (!guard->allow_private) {
            std::string shown;
            const auto why = forbidden_address(&address->addr, shown);
            if (!why.empty()) {
                guard->refused = shown + " is " + std::string(why);
                return CURL_SOCKET_BAD;
            }
        }
        return ::socket(address->family, address->socktype, address->protocol);
    }

    static std::size_t read_answer(char*, std::size_t size, std::size_t count, void* data) {
        auto* self = static_cast<http_client*>(data);
        self->answer_bytes_ += size * count;
        return self->answer_bytes_ > self->max_answer_bytes_ ? 0 : size * count;
    }

    static int progress(void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<http_client*>(data)->stopping_->load(std::memory_order_relaxed) ? 1 : 0;
    }

    attempt_result judge(CURL* h, CURLcode rc) {
        attempt_result out;
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        out.status = status;
        if (!guard_.refused.empty()) {
            out.outcome = outcome::address_refused;
            out.what = "refused to connect: " + guard_.refused + " (endpoint option allow_private permits it)";
            return out;
        }
        // A status read in full counts, even when its body was cut at the bound.
        if (status == 0 || (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)) {
            out.outcome = rc == CURLE_OPERATION_TIMEDOUT ? outcome::timed_out : outcome::network_error;
            out.what = std::string(curl_easy_strerror(rc));
            return out;
        }
        out.what = "HTTP " + std::to_string(status);
        if (status >= 200 && status < 300) {
            out.outcome = outcome::delivered;
        } else if (status == 410) {
            out.outcome = outcome::gone;
        } else if (status == 429 || status == 503) {
            curl_off_t wait = 0;
            curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &wait);
            out.outcome = outcome::throttled;
            out.retry_after = std::chrono::seconds(wait > 0 ? wait : 0);
            if (wait > 0) out.what += " (Retry-After: " + std::to_string(wait) + " s)";
        } else {
            out.outcome = outcome::http_error;
            if (status >= 300 && status < 400) out.what += " (redirects are not followed)";
        }
        return out;
    }

    const std::atomic<bool>* stopping_;
    std::unique_ptr<CURL, easy_deleter> handle_;
    std::unique_ptr<curl_slist, slist_deleter> headers_;
    socket_guard guard_;
    std::size_t answer_bytes_ = 0;
    std::size_t max_answer_bytes_ = 65536;
};

}  // namespace beacon::outbound::detail
