#pragma once
/// \file
/// An e-mail endpoint's configuration (Flask-Notifications' e-mail consumer): the SMTP server
/// (STARTTLS required on smtp://, TLS from the start on smtps://, AUTH with a user and password),
/// the From address and recipients (fixed, or named by the event's data), the subject and body templates.

#include <beacon/outbound/detail/crypto.hpp>
#include <beacon/outbound/message_template.hpp>
#include <beacon/outbound/webhook.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace beacon::outbound {

/// An e-mail endpoint: each event becomes one message to its recipients.
struct mail {
    /// Mail through the SMTP server at `server` (smtp:// or smtps://), from `from_address`.
    mail(std::string server, std::string from_address) : url(std::move(server)), from(std::move(from_address)) {}

    std::string url;                 ///< smtp://host[:port] (STARTTLS) or smtps://host[:port]; credentials in it are never shown.
    std::string from;                ///< The address mail comes from (From, and MAIL FROM).
    std::vector<std::string> to;     ///< Recipients of every message.
    std::string to_data;             ///< A name in the event's data holding more recipients (a string or an array of them); "" for none.
    message_template subject = message_template::parse("{{type}} {{action}} {{uri}}");  ///< The Subject.
    message_template body = message_template::parse("{{data}}\n");                      ///< The text.
    std::string username;            ///< For SMTP AUTH ("" for none).
    std::string password;            ///< For SMTP AUTH; never shown.
    bool require_tls = true;         ///< On smtp://, fail unless the server upgrades with STARTTLS.
    std::string ca_file;             ///< A PEM file of the CAs to trust ("": the system's).
    std::chrono::milliseconds timeout{30000};  ///< The longest an attempt takes, connecting included.
    bool allow_private = false;      ///< Whether the server may be on a loopback, private or link-local address.
    retry_policy retry;              ///< When failed attempts are made again.
};

namespace detail {

/// Why `address` is not an e-mail address beacon sends to ("" when it is): 3 to 254 bytes, one
/// "@" with something on each side, no space, control character, comma, angle bracket or quote.
inline std::string bad_address(std::string_view address) {
    if (address.size() < 3 || address.size() > 254) return "an address is 3 to 254 bytes";
    const auto at = address.find('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size() || address.find('@', at + 1) != std::string_view::npos) {
        return "an address has one \"@\" with a name on each side";
    }
    for (const char c : address) {
        const auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7F || c == ',' || c == '<' || c == '>' || c == '"' || c == ';') {
            return "an address holds no space, control character or any of , < > \" ;";
        }
    }
    return {};
}

// The subject as a header's value: ASCII as it is, anything else as RFC 2047 encoded words of
// whole UTF-8 characters; control characters (CR, LF) become spaces; at most 200 bytes.
inline std::string encode_subject(std::string text) {
    for (auto& c : text) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
    }
    const auto whole = [&](std::size_t n) {  // n, moved back to the start of a UTF-8 character
        while (n > 0 && n < text.size() && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
        return n;
    };
    if (text.size() > 200) text.resize(whole(200));
    bool ascii = true;
    for (const char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii && text.find("=?") == std::string::npos) return text;
    std::string out;
    for (std::size_t from = 0; from < text.size();) {
        std::size_t to = std::min(text.size(), from + 45);
        if (to < text.size()) to = whole(to);
        if (to <= from) to = std::min(text.size(), from + 45);  // not UTF-8: cut anyway
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + base64_encode(std::string_view(text).substr(from, to - from)) + "?=";
        from = to;
    }
    return out;
}

/// The message (RFC 5322, its text in base64) from `from` to `to`, its Message-ID the event's id.
inline std::string mail_message(const std::string& from, const std::vector<std::string>& to, const std::string& subject,
                                const std::string& body, const std::string& id) {
    std::string out = "From: <" + from + ">\r\nTo: ";
    for (std::size_t i = 0; i < to.size(); ++i) out += (i ? ", <" : "<") + to[i] + ">";
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&now, &utc);
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char date[64];
    std::snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[utc.tm_wday], utc.tm_mday, months[utc.tm_mon],
                  utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    out += "\r\nSubject: " + encode_subject(subject) + "\r\nDate: " + date + "\r\nMessage-ID: <" + id +
           "@beacon>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    const std::string encoded = base64_encode(body);
    for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
    return out;
}

}  // namespace detail
}  // namespace beacon::outbound
