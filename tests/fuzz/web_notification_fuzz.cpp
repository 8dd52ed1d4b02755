// libFuzzer target: web::notification::from_event and the notification filters on any event
// `data` (JSON parsed under beacon's limits). Contract: from_event returns a notification whose
// to_event carries the same fields back, or throws decode_error naming a /data/ field; the
// filters and the SSE audience and encoder never throw.
#include <beacon/web/notification.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    nlohmann::json j;
    try {
        j = beacon::detail::parse_json(text, beacon::json_limits{});
    } catch (const beacon::decode_error&) {
        return 0;
    }
    if (!j.is_object()) return 0;
    beacon::event e("fuzz", std::move(j));
    namespace web = beacon::web;
    (void)web::recipient_audience(e, "tom");
    (void)web::notification_json(e);
    for (const auto& f : {web::with_recipients({"tom", "tim"}), web::with_recipient("tom"), web::with_id("x"),
                          web::with_event_type("user"), web::with_tag("t"), web::expired(), web::always()}) {
        (void)f(e);
    }
    web::notification n;
    try {
        n = web::notification::from_event(e);
    } catch (const beacon::decode_error& bad) {
        if (bad.path().rfind("/data/", 0) != 0) std::abort();
        return 0;
    }
    if (n.event_id.empty()) return 0;  // to_event would make a fresh id
    const auto back = web::notification::from_event(n.to_event());
    if (back.event_id != n.event_id || back.title != n.title || back.body != n.body ||
        back.recipients != n.recipients || back.tags != n.tags || back.expiration != n.expiration) {
        std::abort();
    }
    return 0;
}
