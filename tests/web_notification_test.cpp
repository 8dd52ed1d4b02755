// Flask-Notifications' event fields and filters on beacon's event: the round trip through an
// event, each filter (WithRecipients, WithId, WithSender, WithEventType, BeforeDate, AfterDate,
// Expired, Always, Not), their compositions as in its example app, the SSE audience and encoder.
#include <beacon/web/notification.hpp>

#include <beacon/hub.hpp>

#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

namespace web = beacon::web;

namespace {

web::notification user_note() {
    web::notification n;
    n.event_type = "user";
    n.title = "This is a user test";
    n.body = "This is the body of the test";
    n.sender = "john";
    n.recipients = {"tom", "tim"};
    n.tags = {"test"};
    return n;
}

}  // namespace

TEST_CASE("a notification travels as an event and back", "[web][notification]") {
    auto n = user_note();
    n.timestamp = 1'700'000'000'000;
    n.expiration = 1'800'000'000'000;
    const beacon::event e = n.to_event();
    CHECK(e.sender == "john");
    CHECK(e.timestamp == 1'700'000'000'000);
    CHECK(e.data["title"] == "This is a user test");
    CHECK(e.data["recipients"] == nlohmann::json({"tom", "tim"}));
    CHECK(e.data["expiration_datetime"] == 1'800'000'000'000);
    CHECK(std::regex_match(e.data["event_id"].get<std::string>(),
                           std::regex("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    CHECK(e.data["event_id"] == e.id.to_string());  // Flask-Notifications' event_id is the event's id

    const auto back = web::notification::from_event(e);
    CHECK(back.event_id == e.data["event_id"]);
    CHECK(back.title == n.title);
    CHECK(back.recipients == n.recipients);
    CHECK(back.tags == n.tags);
    CHECK(back.expiration == n.expiration);
    // It survives beacon's wire shape (what Redis carries).
    CHECK(web::notification::from_event(nlohmann::json(e).get<beacon::event>()).title == n.title);

    // Ids are unique; a given one is kept, and becomes the event's id when it is a UUID.
    std::set<std::string> ids;
    n.event_id.clear();
    for (int i = 0; i < 1000; ++i) ids.insert(n.to_event().data["event_id"].get<std::string>());
    CHECK(ids.size() == 1000);
    n.event_id = "fixed";
    const auto fixed = n.to_event();
    CHECK(fixed.data["event_id"] == "fixed");
    CHECK_FALSE(fixed.id.is_nil());
    n.event_id = "0190b5e4-7f0c-4a31-8c2e-5f1d2a9b3c4d";
    CHECK(n.to_event().id.to_string() == n.event_id);

    beacon::event bad("x", {{"recipients", "tom"}});
    CHECK_THROWS_WITH(web::notification::from_event(bad), Catch::Matchers::Contains("/data/recipients"));
    beacon::event bad_time("x", {{"expiration_datetime", "tomorrow"}});
    CHECK_THROWS_AS(web::notification::from_event(bad_time), beacon::decode_error);
}

TEST_CASE("Flask-Notifications' filters", "[web][notification]") {
    const auto e = user_note().to_event();
    CHECK(web::with_recipients({"tim", "tom"})(e));
    CHECK_FALSE(web::with_recipients({"tom"})(e));  // exactly the set, like WithRecipients
    CHECK(web::with_recipient("tom")(e));
    CHECK_FALSE(web::with_recipient("ann")(e));
    CHECK(web::with_id(e.data["event_id"].get<std::string>())(e));
    CHECK_FALSE(web::with_id("other")(e));
    CHECK(web::with_event_type("user")(e));
    CHECK_FALSE(web::with_event_type("system")(e));
    CHECK(beacon::with_sender("john")(e));
    CHECK(web::with_tag("test")(e));
    CHECK(web::always()(e));
    CHECK_FALSE((!web::always())(e));

    auto dated = user_note();
    dated.timestamp = 5000;
    CHECK(beacon::before(6000)(dated.to_event()));    // BeforeDate
    CHECK(beacon::after(4000)(dated.to_event()));     // AfterDate
    CHECK_FALSE(beacon::after(6000)(dated.to_event()));

    auto old = user_note();
    old.expiration = beacon::event::now_ms() - 1;
    auto fresh = user_note();
    fresh.expiration = beacon::event::now_ms() + 60'000;
    CHECK(web::expired()(old.to_event()));
    CHECK_FALSE(web::expired()(fresh.to_event()));
    CHECK_FALSE(web::expired()(e));  // no expiration: never expires
}

TEST_CASE("the example app's hubs, filtered as in Flask-Notifications", "[web][notification]") {
    beacon::hubs notifications;
    auto user_hub = notifications.create_hub("UserHub");
    auto system_hub = notifications.create_hub("EventHub");
    const auto now = std::chrono::system_clock::now();
    user_hub->filter_by(beacon::with_sender("john") | web::with_recipients({"tom", "tim"}));
    system_hub->filter_by(web::with_event_type("system") & !beacon::before(now));
    std::vector<std::string> users, systems;
    user_hub->register_consumer([&](const beacon::event& e) { users.push_back(e.data["title"]); });
    system_hub->register_consumer([&](const beacon::event& e) { systems.push_back(e.data["title"]); });

    notifications.send(user_note().to_event());
    web::notification sys;
    sys.event_type = "system";
    sys.title = "This is a system test";
    sys.sender = "system";
    notifications.send(sys.to_event());
    auto stale = sys;
    stale.title = "stale";
    stale.timestamp = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() - 1000;
    notifications.send(stale.to_event());
    CHECK(users == std::vector<std::string>{"This is a user test"});
    CHECK(systems == std::vector<std::string>{"This is a system test"});
}

TEST_CASE("the SSE audience and encoder of notifications", "[web][notification]") {
    auto n = user_note();
    n.timestamp = 1234;
    const auto e = n.to_event();
    CHECK(web::recipient_audience(e, "tom"));
    CHECK_FALSE(web::recipient_audience(e, "ann"));
    n.expiration = beacon::event::now_ms() - 1;
    CHECK_FALSE(web::recipient_audience(n.to_event(), "tom"));

    const auto j = nlohmann::json::parse(web::notification_json(e));
    CHECK(j["sender"] == "john");
    CHECK(j["timestamp"] == 1234);
    CHECK(j["title"] == "This is a user test");
    CHECK(j["recipients"] == nlohmann::json({"tom", "tim"}));
    CHECK(j["expiration_datetime"].is_null());
}
