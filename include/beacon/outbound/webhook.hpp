#pragma once
/// \file
/// A webhook endpoint's configuration (where to POST, the Standard Webhooks secret, the body's
/// format, the limits) and the retry policy every outbound endpoint has.

#include <beacon/outbound/signature.hpp>
#include <beacon/wire_format.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>

namespace beacon::outbound {

/// When a failed attempt is made again: waits that double from `first_delay` up to `max_delay`,
/// each shortened by a random fraction of at most `jitter`.
struct retry_policy {
    std::size_t max_attempts = 8;                                 ///< Attempts of one event, the first included (at least 1).
    std::chrono::milliseconds first_delay{std::chrono::seconds(5)};  ///< The wait before the second attempt.
    std::chrono::milliseconds max_delay{std::chrono::hours(1)};   ///< The longest wait, Retry-After's included.
    double jitter = 0.25;                                         ///< At most this fraction of a wait is taken off at random (0 to 1).
};

/// A webhook endpoint: where to POST, the secret to sign with, the body's format and the limits.
struct webhook {
    /// The endpoint at `address` whose receiver verifies with `key`.
    webhook(std::string address, signing_secret key) : url(std::move(address)), secret(std::move(key)) {}

    std::string url;                        ///< http:// or https://; credentials in it are sent, never shown.
    signing_secret secret;                  ///< The endpoint's Standard Webhooks secret.
    wire_format format = wire_format::envelope();  ///< The body: beacon's envelope, or wire_format::cloudevents().
    std::chrono::milliseconds timeout{10000};  ///< The longest an attempt takes, connecting included.
    std::string ca_file;                    ///< For https: a PEM file of the CAs to trust ("": the system's).
    bool allow_private = false;             ///< Whether requests may reach loopback, private and link-local addresses.
    retry_policy retry;                     ///< When failed attempts are made again.
};

}  // namespace beacon::outbound
