// libFuzzer target: a webhook's URL (outbound::detail::check_url, what a webhook endpoint's
// configuration gives as `url`) and the judgement of its host when it is an IP literal
// (detail::forbidden_literal). The input is any bytes.
// Contract: check_url returns a checked URL or throws beacon::config_error naming "/url";
// nothing else. A refusal quotes of the input at most its scheme (a prefix of it, before "://").
// A checked URL's scheme is http or https, its host is not empty, its shown form starts with the
// scheme and the host and is bounded; written out by libcurl with and without its user, password,
// query and fragment, the URL shows the same: none of them shows. A host that is a loopback IP
// literal, IPv4 (127/8) or IPv6 (::1, ::ffff:127.x.y.z), is refused.
#include <beacon/outbound/detail/endpoint_guard.hpp>

#include <arpa/inet.h>
#include <curl/curl.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace guard = beacon::outbound::detail;

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// The refusal's text after "/url: ", checked to quote at most the input's scheme.
void check_refusal(std::string_view url, const std::string& what) {
    const std::string head = "[beacon.config_error] /url: ";
    if (!starts_with(what, head)) std::abort();
    const std::string_view details = std::string_view(what).substr(head.size());
    if (starts_with(details, "a URL is at most 2048 bytes") || details == "the URL needs a host") return;
    if (starts_with(details, "unknown scheme \"")) {
        // libcurl's scheme, lower-cased: the input's letters before "://", at most 16 of them.
        const std::string_view rest = details.substr(16);
        const auto end = rest.find('"');
        if (end == std::string_view::npos || rest.substr(end) != "\" (the URL is http or https)") std::abort();
        const auto cut = rest.substr(0, end).find("... (");  // a longer scheme's excerpt: 16 letters and its length
        const std::size_t quoted = cut == std::string_view::npos ? end : cut;
        if (quoted > 16 || (cut != std::string_view::npos && cut != 16)) std::abort();
        for (std::size_t i = 0; i < quoted; ++i) {
            if (i >= url.size() || std::tolower(static_cast<unsigned char>(url[i])) != rest[i]) std::abort();
        }
        return;
    }
    if (!starts_with(details, "not a URL (")) std::abort();
    const auto scheme_at = details.find(", scheme \"");
    if (scheme_at == std::string_view::npos) {
        if (details.back() != ')') std::abort();
        return;
    }
    const std::string_view scheme = details.substr(scheme_at + 10, details.size() - scheme_at - 11);
    if (details.back() != '"' || scheme.size() > 16 || !starts_with(url, std::string(scheme) + "://")) std::abort();
}

// libcurl's writing of `u`, or "" when it has none.
std::string written(CURLU* u) {
    char* text = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &text, 0) != CURLUE_OK || text == nullptr) return {};
    std::string out(text);
    curl_free(text);
    return out;
}

// The shown form of `url`, or "" when check_url refuses it or libcurl would write it otherwise.
std::string shown_of(const std::string& url) {
    const std::unique_ptr<CURLU, guard::curl_url_deleter> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK || written(u.get()) != url) return {};
    try {
        return guard::check_url(url, "", "/url").shown;
    } catch (const beacon::config_error&) {
        return {};
    }
}

// The accepted URL, its shown form bounded. libcurl writes it out twice, as it is and with its
// user, password, query and fragment taken out (both in libcurl's own escaping): the two shown
// forms must be the same.
void check_accepted(const std::string& url, const guard::checked_url& c) {
    if (c.host.empty()) std::abort();
    if (!starts_with(c.shown, "http://" + c.host) && !starts_with(c.shown, "https://" + c.host)) std::abort();
    if (c.shown.size() > 8 + c.host.size() + 6 + 64 * 4 + 24 + 4) std::abort();  // a byte escaped is 4; an excerpt's length note
    if (c.host.find('%') != std::string::npos) return;  // libcurl writes a host's escapes again each time ("%ht" -> "%25ht")
    const std::unique_ptr<CURLU, guard::curl_url_deleter> u(curl_url());
    if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) std::abort();
    // libcurl writes a zone id's bytes back unescaped but for '%': "[::ff%[@[::]" with its empty
    // user taken out reads back as user "[::ff%25[" at host "[::]", another URL.
    char* zone = nullptr;
    const bool has_zone = curl_url_get(u.get(), CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone != nullptr;
    curl_free(zone);
    if (has_zone) return;
    const std::string whole = shown_of(written(u.get()));
    for (const auto which : {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY, CURLUPART_FRAGMENT}) {
        if (curl_url_set(u.get(), which, nullptr, 0) != CURLUE_OK) std::abort();
    }
    const std::string without = shown_of(written(u.get()));
    if (!whole.empty() && !without.empty() && whole != without) std::abort();
}

// A loopback literal must be refused, however it is written.
void check_loopback(const std::string& host) {
    std::string bare = host.size() > 2 && host.front() == '[' && host.back() == ']' ? host.substr(1, host.size() - 2) : host;
    if (const auto zone = bare.find('%'); zone != std::string::npos) bare.resize(zone);
    bool loopback = false;
    in_addr v4{};
    in6_addr v6{};
    if (::inet_pton(AF_INET, bare.c_str(), &v4) == 1) {
        loopback = (ntohl(v4.s_addr) >> 24) == 127;
    } else if (::inet_pton(AF_INET6, bare.c_str(), &v6) == 1) {
        static const std::uint8_t one[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        static const std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        loopback = std::memcmp(&v6, one, 16) == 0 || (std::memcmp(&v6, mapped, 12) == 0 && v6.s6_addr[12] == 127);
    }
    if (loopback && guard::forbidden_literal(host).empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string url(reinterpret_cast<const char*>(data), size);
    guard::checked_url checked;
    try {
        checked = guard::check_url(url, "", "/url");
    } catch (const beacon::config_error& bad) {
        check_refusal(url, bad.what());
        check_loopback(url);  // a bare host given as the whole input is judged too
        return 0;
    }
    check_accepted(url, checked);
    check_loopback(checked.host);
    return 0;
}
