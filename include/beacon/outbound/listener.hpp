#pragma once
/// \file
/// The listener types "webhook" and "mail": endpoints of an outbound::courier from configuration
/// (load_listeners), each bad option a config_error naming its key, no secret ever quoted.

#include <beacon/error.hpp>
#include <beacon/listener.hpp>
#include <beacon/listener_options.hpp>
#include <beacon/outbound/mail.hpp>
#include <beacon/outbound/courier.hpp>
#include <beacon/outbound/webhook.hpp>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace beacon::outbound {

namespace detail {

// Reads the options every endpoint has into `retry`, `timeout`, `ca_file` and `allow_private`;
// returns false for any other key.
template <class Config>
bool common_option(const listener_context& c, const std::string& key, const nlohmann::json& value, Config& config) {
    const auto millis = [&](const char* what) {
        constexpr std::size_t month = 30ULL * 24 * 3600 * 1000;  // no wait or timeout is longer
        const std::size_t ms = config_count(c, key, value, 1, what);
        if (ms > month) c.fail(key, std::string("expected ") + what + " of at most 30 days (" + std::to_string(month) + ")");
        return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
    };
    if (key == "timeout_ms") {
        config.timeout = millis("a positive number of milliseconds");
    } else if (key == "max_attempts") {
        config.retry.max_attempts = config_count(c, key, value, 1, "a positive number of attempts");
    } else if (key == "first_delay_ms") {
        config.retry.first_delay = millis("a positive number of milliseconds");
    } else if (key == "max_delay_ms") {
        config.retry.max_delay = millis("a positive number of milliseconds");
    } else if (key == "ca_file") {
        config.ca_file = config_string(c, key, value);
    } else if (key == "allow_private") {
        config.allow_private = config_flag(c, key, value);
    } else {
        return false;
    }
    return true;
}

constexpr const char* common_keys = "timeout_ms, max_attempts, first_delay_ms, max_delay_ms, ca_file, allow_private";

// The option `key` of `c`, which must be there.
inline const nlohmann::json& required(const listener_context& c, const char* key, const char* what) {
    const auto it = c.options.find(key);
    if (it == c.options.end()) c.fail(key, std::string("missing required key \"") + key + "\" (" + what + ")");
    return *it;
}

// The consumer `add` makes, as a listener; a config_error of the courier's (keyed "/url", "/to/1")
// is keyed again under the alias's options.
template <class Config>
listener endpoint_listener(const listener_context& c, courier& s, Config config) {
    std::shared_ptr<endpoint_consumer> consumer;
    try {
        consumer = s.add(std::move(config));
    } catch (const config_error& bad) {
        const auto& key = bad.key();
        const auto slash = key.find('/', 1);
        const std::string name = key.substr(1, slash == std::string::npos ? std::string::npos : slash - 1);
        throw config_error(c.alias, c.key(name) + (slash == std::string::npos ? "" : key.substr(slash)), bad.details());
    }
    return [consumer](const event& e) { consumer->consume(e); };
}

inline listener webhook_listener(const listener_context& c, courier& s, const std::vector<wire_format>& formats) {
    const std::string url = config_string(c, "url", required(c, "url", "the endpoint's http or https URL"));
    webhook config(url, signing_secret::parse(config_string(c, "secret", required(c, "secret", "the endpoint's whsec_ secret")),
                                              c.alias, c.key("secret")));
    for (const auto& [key, value] : c.options.items()) {
        if (loader_setting(key) || key == "url" || key == "secret" || common_option(c, key, value, config)) continue;
        if (key == "format") {
            config.format = config_format(c, key, value, formats);
        } else {
            c.fail(key, "unknown option of a webhook listener (expected url, secret, format, " + std::string(common_keys) + ")");
        }
    }
    return endpoint_listener(c, s, std::move(config));
}

inline listener mail_listener(const listener_context& c, courier& s) {
    mail config(config_string(c, "url", required(c, "url", "the SMTP server's smtp or smtps URL")),
                config_string(c, "from", required(c, "from", "the courier's address")));
    for (const auto& [key, value] : c.options.items()) {
        if (loader_setting(key) || key == "url" || key == "from" || common_option(c, key, value, config)) continue;
        if (key == "to") {
            config.to.clear();
            if (value.is_array()) {
                for (std::size_t i = 0; i < value.size(); ++i) {
                    if (!value[i].is_string()) {
                        throw config_error(c.alias, c.key(key) + "/" + std::to_string(i),
                                           std::string("expected an address, got ") + value[i].type_name());
                    }
                    config.to.push_back(value[i].get<std::string>());
                }
            } else {
                config.to.push_back(config_string(c, key, value));
            }
        } else if (key == "to_data") {
            config.to_data = config_string(c, key, value);
        } else if (key == "subject" || key == "body") {
            if (!value.is_string()) c.fail(key, std::string("expected a template (a string), got ") + value.type_name());
            (key == "subject" ? config.subject : config.body) = message_template::parse(value.get<std::string>(), c.alias, c.key(key));
        } else if (key == "username") {
            config.username = config_string(c, key, value);
        } else if (key == "password") {
            if (!value.is_string()) c.fail(key, std::string("expected a string, got ") + value.type_name());
            config.password = value.get<std::string>();
        } else if (key == "require_tls") {
            config.require_tls = config_flag(c, key, value);
        } else {
            c.fail(key, "unknown option of a mail listener (expected url, from, to, to_data, subject, body, username, password, "
                        "require_tls, " + std::string(common_keys) + ")");
        }
    }
    return endpoint_listener(c, s, std::move(config));
}

}  // namespace detail

/// Registers in `types`, for load_listeners, the listener types whose aliases become endpoints of
/// `s` (which must outlive `types`: their factories keep a reference; the loaded listeners keep
/// what they need themselves):
/// - "webhook": `url`, `secret` (whsec_...), `format` ("envelope", "cloudevents", "kinto", or the
///   name of one of the host's `formats`);
/// - "mail": `url` (smtp:// or smtps://), `from`, `to` (an address or a list), `to_data`,
///   `subject` and `body` (message templates), `username`, `password`, `require_tls`;
/// - both: `timeout_ms`, `max_attempts`, `first_delay_ms`, `max_delay_ms`, `ca_file`, `allow_private`.
/// A bad option throws config_error naming its key; no message quotes a secret or a password.
inline void add_listener_types(listener_types& types, courier& s, const std::vector<wire_format>& formats = {}) {
    types.add("webhook", [&s, formats](const listener_context& c) { return detail::webhook_listener(c, s, formats); });
    types.add("mail", [&s](const listener_context& c) { return detail::mail_listener(c, s); });
}

}  // namespace beacon::outbound
