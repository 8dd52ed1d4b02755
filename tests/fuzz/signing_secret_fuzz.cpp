// libFuzzer target: a webhook's signing secret (outbound::signing_secret::parse, what a webhook
// endpoint's configuration gives as `secret`) and a receiver's signature check (outbound::verify,
// what an incoming `webhook-signature` header holds). The input is any bytes.
// Contract: parse returns a secret or throws beacon::config_error naming "/secret"; nothing else.
// Its message quotes nothing of the input: with every run of digits written "#", it is one of the
// fixed forms below. A secret it returns has 24 to 64 bytes and writes back as the input (only
// the canonical form parses), and verifies its own signature of the input as body and refuses
// the same signature for the body changed. verify takes the input as a signature header without
// throwing and, under a fixed secret, never accepts it for an id, timestamp and body it did not sign.
#include <beacon/outbound/signature.hpp>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

namespace wh = beacon::outbound;

// The message with every run of digits written "#".
std::string digits_hidden(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) {
            out += text[i];
        } else if (out.empty() || out.back() != '#') {
            out += '#';
        }
    }
    return out;
}

bool known_refusal(const std::string& what) {
    static const std::string head =
        "[beacon.config_error] /secret: a signing secret is \"whsec_\" and the base# of # to # bytes; this one ";
    static const std::string forms[] = {
        "is empty",
        "does not start with \"whsec_\"",
        "is too long (# characters after \"whsec_\", at most #)",
        "is not base# (at character #)",
        "is not padded base# (# characters after \"whsec_\", not a multiple of #)",
        "is not canonical base# (its last character has stray bits)",
        "has # bytes",
    };
    const std::string hidden = digits_hidden(what);
    if (hidden.compare(0, head.size(), head) != 0) return false;
    const std::string tail = hidden.substr(head.size());
    for (const auto& form : forms) {
        if (tail == form) return true;
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const wh::signing_secret fixed = wh::signing_secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    if (wh::verify(fixed, "msg_fuzz", 1700000000, "{}", input)) {
        // Only the one signature of exactly these fields passes, alone or among other entries.
        if (input.find(wh::sign(fixed, "msg_fuzz", 1700000000, "{}")) == std::string_view::npos) std::abort();
    }
    try {
        const auto secret = wh::signing_secret::parse(input);
        if (secret.size() < wh::signing_secret::min_size || secret.size() > wh::signing_secret::max_size) std::abort();
        if (secret.text() != input) std::abort();
        const std::string signature = wh::sign(secret, "msg_fuzz", 1700000000, input);
        if (!wh::verify(secret, "msg_fuzz", 1700000000, input, signature)) std::abort();
        if (wh::verify(secret, "msg_fuzz", 1700000000, std::string(input) + " ", signature)) std::abort();
    } catch (const beacon::config_error& bad) {
        if (!known_refusal(bad.what())) std::abort();
    }
    return 0;
}
