#pragma once
/// \file
/// Events to the outside world (optional, CMake target `beacon::outbound`, needs libcurl and
/// OpenSSL), namespace beacon::outbound: an outbound::courier delivers the events its endpoints'
/// consumers get, on worker threads: to webhooks (outbound::webhook), POSTed and signed per
/// Standard Webhooks (signing_secret, sign, verify), and as e-mail over SMTP (outbound::mail, its
/// subject and body message_templates). Retries, Retry-After, 410 Gone and the address guard are
/// the courier's; its failures are beacon::failure records of part::outbound. The listener types
/// "webhook" and "mail" configure endpoints (outbound::add_listener_types).

#include <beacon/outbound/listener.hpp>
#include <beacon/outbound/mail.hpp>
#include <beacon/outbound/message_template.hpp>
#include <beacon/outbound/courier.hpp>
#include <beacon/outbound/signature.hpp>
#include <beacon/outbound/webhook.hpp>
