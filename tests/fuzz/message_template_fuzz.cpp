// libFuzzer target: the e-mail part's message templates (beacon::outbound::message_template, what
// a mail endpoint's configuration gives as subject and body) and the subject's header encoding.
// The input is the template text (any bytes).
// Contract: parse returns a template or throws beacon::config_error naming "/template", with a
// message under 4 KiB, nothing else. A template it returns renders against an event (with nested
// data, non-ASCII and control characters in it) without throwing; a template without "{{"
// renders as its own text. The rendered text, as a Subject header (detail::mail_message), stays
// one header: every CR is followed by LF and a space (a fold), no byte is above 0x7E or a control
// character other than those, and the next line is the Date header.
#include <beacon/outbound/mail.hpp>
#include <beacon/outbound/message_template.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

beacon::event sample() {
    beacon::event e("blog-api");
    e.action = beacon::action::update;
    e.uri = "/buckets/blog/records/a1";
    e.user_id = "basicauth:alice\r\nBcc: x";
    e.data = {{"title", "Caf\xc3\xa9 \xe2\x98\x95\r\nBcc: all"}, {"n", 42}, {"a", {{"b", {{"c", nullptr}}}}}, {"list", {1, "two", 3.5}}};
    return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const beacon::event e = sample();
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    beacon::outbound::message_template t;
    try {
        t = beacon::outbound::message_template::parse(input);
    } catch (const beacon::config_error& bad) {
        const std::string_view what(bad.what());
        if (what.size() >= 4096 || what.find("/template") == std::string_view::npos) std::abort();
        return 0;
    }
    const std::string text = t.render(e);
    if (input.find("{{") == std::string_view::npos && text != input) std::abort();
    const std::string message = beacon::outbound::detail::mail_message("a@example.org", {"b@example.org"}, text, text, "id");
    const auto begin = message.find("\r\nSubject: ") + 11;
    const auto end = message.find("\r\nDate: ", begin);
    if (end == std::string::npos) std::abort();
    const std::string_view subject = std::string_view(message).substr(begin, end - begin);
    for (std::size_t i = 0; i < subject.size(); ++i) {
        const auto c = static_cast<unsigned char>(subject[i]);
        if (c == '\r') {
            if (subject.substr(i, 3) != "\r\n ") std::abort();
            i += 2;
        } else if (c < 0x20 || c > 0x7E) {
            std::abort();
        }
    }
    return 0;
}
