#pragma once
// One attempt over libcurl on a worker's reused handle (its connections kept alive): a webhook's
// POST of the signed body (no redirect followed, the answer's body read up to a bound and
// discarded) or a message sent over SMTP. Every socket is checked against the address guard
// before it connects; no proxy is used (it would hide the address from the guard).

#include <beacon/error.hpp>
#include <beacon/outbound/detail/endpoint_guard.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace beacon::outbound::detail {

/// How an attempt ended.
enum class outcome { delivered, rejected, gone, throttled, timed_out, network_error, address_refused };

/// What one attempt got: how it ended, the HTTP status (0 without one), the wait the endpoint
/// asked for (429 and 503 with Retry-After), and a line saying what happened.
struct attempt_result {
    detail::outcome outcome = outcome::network_error;
    long status = 0;
    std::chrono::seconds retry_after{0};
    std::string what;
};

/// What a webhook attempt sends: where, the headers' values, the body, its limits.
struct request {
    const std::string* url = nullptr;
    const std::string* ca_file = nullptr;
    const char* content_type = "application/json";
    std::string id, timestamp, signature;
    const std::string* body = nullptr;
    std::chrono::milliseconds timeout{10000};
    bool allow_private = false;
    std::size_t max_answer_bytes = 65536;
};

/// What a mail attempt sends: the server, the envelope, the message, the credentials, its limits.
struct mail_request {
    const std::string* url = nullptr;
    const std::string* ca_file = nullptr;
    const std::string* username = nullptr;
    const std::string* password = nullptr;
    const std::string* from = nullptr;
    const std::vector<std::string>* to = nullptr;
    const std::string* message = nullptr;
    std::chrono::milliseconds timeout{30000};
    bool require_tls = true;
    bool allow_private = false;
};

inline void init_curl() {
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw transport_error("outbound: libcurl failed to initialize");
    });
}

/// A worker's libcurl handles, reused from attempt to attempt.
class curl_client {
public:
    /// A handle keeping up to `connections` idle connections; `stopping`, once set, aborts the
    /// attempt under way.
    curl_client(const std::atomic<bool>& stopping, std::size_t connections)
        : stopping_(&stopping), connections_(static_cast<long>(std::max<std::size_t>(connections, 1))) {
        init_curl();
        guarded_.reset(curl_easy_init());
        unguarded_.reset(curl_easy_init());
        if (!guarded_ || !unguarded_) throw transport_error("outbound: curl_easy_init failed");
    }

    /// Makes the webhook attempt; never throws for what the endpoint or the network does.
    attempt_result post(const request& r) {
        CURL* h = start(r.allow_private, r.timeout, *r.ca_file);
        answer_bytes_ = 0;
        max_answer_bytes_ = r.max_answer_bytes;
        append_header("content-type: " + std::string(r.content_type));
        append_header("webhook-id: " + r.id);
        append_header("webhook-timestamp: " + r.timestamp);
        append_header("webhook-signature: " + r.signature);
        append_header("user-agent: beacon-webhook");
        append_header("expect:");  // no "100-continue" round trip for larger bodies
        curl_easy_setopt(h, CURLOPT_URL, r.url->c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_.get());
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body->data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body->size()));
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &read_answer);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, this);
        const CURLcode rc = curl_easy_perform(h);
        return judge(h, rc);
    }

    /// Makes the mail attempt; never throws for what the server or the network does.
    attempt_result send_mail(const mail_request& r) {
        CURL* h = start(r.allow_private, r.timeout, *r.ca_file);
        for (const auto& address : *r.to) append_header("<" + address + ">");  // the recipients, as a list
        message_ = r.message;
        message_sent_ = 0;
        curl_easy_setopt(h, CURLOPT_URL, r.url->c_str());
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
        curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(r.require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY));
        if (!r.username->empty()) {
            curl_easy_setopt(h, CURLOPT_USERNAME, r.username->c_str());
            curl_easy_setopt(h, CURLOPT_PASSWORD, r.password->c_str());
        }
        const std::string from = "<" + *r.from + ">";
        curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
        curl_easy_setopt(h, CURLOPT_MAIL_RCPT, headers_.get());
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.message->size()));
        curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_message);
        curl_easy_setopt(h, CURLOPT_READDATA, this);
        const CURLcode rc = curl_easy_perform(h);
        attempt_result out = first_look(h);
        const long reply = out.status;
        if (out.outcome == outcome::address_refused) return out;
        if (rc == CURLE_OK) {
            out.outcome = outcome::delivered;
            out.what = "SMTP " + std::to_string(reply);
        } else if (rc == CURLE_OPERATION_TIMEDOUT) {
            out.outcome = outcome::timed_out;
            out.what = curl_easy_strerror(rc);
        } else if (reply >= 400 || rc == CURLE_LOGIN_DENIED || rc == CURLE_USE_SSL_FAILED) {
            out.outcome = outcome::rejected;
            out.what = std::string(curl_easy_strerror(rc)) + (reply ? " (SMTP " + std::to_string(reply) + ")" : "");
        } else {
            out.outcome = outcome::network_error;
            out.what = curl_easy_strerror(rc);
        }
        return out;
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

    // Resets a handle (keeping its connections, DNS and TLS session caches) and sets what every
    // attempt shares: the address guard, no proxy, no signals, the timeout, the CAs, the abort.
    CURL* start(bool allow_private, std::chrono::milliseconds timeout, const std::string& ca_file) {
        // Two handles, two connection caches: a connection opened for an endpoint that allows
        // private addresses is never reused for one that does not (the guard runs on connect).
        CURL* h = allow_private ? unguarded_.get() : guarded_.get();
        curl_easy_reset(h);
        guard_ = socket_guard{allow_private, {}};
        headers_.reset();
        curl_easy_setopt(h, CURLOPT_PROXY, "");
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_MAXCONNECTS, connections_);  // the reset set it back to 5
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
        curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, &open_socket);
        curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard_);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, &progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, this);
        if (!ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str());
        return h;
    }

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
        auto* self = static_cast<curl_client*>(data);
        self->answer_bytes_ += size * count;
        return self->answer_bytes_ > self->max_answer_bytes_ ? 0 : size * count;
    }

    static std::size_t read_message(char* to, std::size_t size, std::size_t count, void* data) {
        auto* self = static_cast<curl_client*>(data);
        const std::size_t n = std::min(size * count, self->message_->size() - self->message_sent_);
        std::copy_n(self->message_->data() + self->message_sent_, n, to);
        self->message_sent_ += n;
        return n;
    }

    static int progress(void* data, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
        return static_cast<curl_client*>(data)->stopping_->load(std::memory_order_relaxed) ? 1 : 0;
    }

    // The attempt's status (HTTP status or SMTP reply; 0 without one), and whether it failed
    // because the guard refused the addresses it resolved (one refused among others that answered
    // does not count).
    attempt_result first_look(CURL* h) const {
        attempt_result out;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.status);
        if (!guard_.refused.empty() && out.status == 0) {  // nothing answered: no address was allowed
            out.outcome = outcome::address_refused;
            out.what = "refused to connect: " + guard_.refused + " (endpoint option allow_private permits it)";
        }
        return out;
    }

    attempt_result judge(CURL* h, CURLcode rc) {
        attempt_result out = first_look(h);
        if (out.outcome == outcome::address_refused) return out;
        const long status = out.status;
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
            out.outcome = outcome::rejected;
            if (status >= 300 && status < 400) out.what += " (redirects are not followed)";
        }
        return out;
    }

    const std::atomic<bool>* stopping_;
    long connections_;
    std::unique_ptr<CURL, easy_deleter> guarded_;
    std::unique_ptr<CURL, easy_deleter> unguarded_;
    std::unique_ptr<curl_slist, slist_deleter> headers_;
    socket_guard guard_;
    std::size_t answer_bytes_ = 0;
    std::size_t max_answer_bytes_ = 65536;
    const std::string* message_ = nullptr;
    std::size_t message_sent_ = 0;
};

}  // namespace beacon::outbound::detail
