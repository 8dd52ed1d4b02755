// Filters: built-ins, composition and short-circuiting, scopes (filtered_signal:
// filtered_signal_test.cpp).
#include <beacon/filter.hpp>

#include "test_events.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

using test_events::change;
using test_events::counting;

TEST_CASE("built-in filters test one field each", "[filter][builtins]") {
    using beacon::action;
    const auto bucket_create = change(action::create, "bucket");
    const auto record_delete = change(action::delete_, "record", "bob");
    beacon::event no_action("system");

    CHECK(beacon::filter()(bucket_create));
    CHECK(beacon::with_action(action::create)(bucket_create));
    CHECK_FALSE(beacon::with_action(action::create)(record_delete));
    CHECK(beacon::with_actions({action::update, action::delete_})(record_delete));
    CHECK_FALSE(beacon::with_actions({action::update, action::delete_})(bucket_create));
    CHECK_FALSE(beacon::with_actions({action::create, action::update, action::delete_, action::read})(no_action));

    CHECK(beacon::with_resource("bucket")(bucket_create));
    CHECK_FALSE(beacon::with_resource("bucket")(record_delete));
    CHECK(beacon::with_resources({"bucket", "record"})(record_delete));
    CHECK_FALSE(beacon::with_resources({})(record_delete));

    CHECK(beacon::with_sender("storage")(bucket_create));
    CHECK_FALSE(beacon::with_sender("system")(bucket_create));
    CHECK(beacon::with_user("bob")(record_delete));
    CHECK_FALSE(beacon::with_user("bob")(bucket_create));

    CHECK(beacon::where([](const beacon::event& e) { return e.uri.empty(); })(bucket_create));
}

TEST_CASE("time filters compare the timestamp strictly", "[filter][time]") {
    auto e = change(beacon::action::create, "bucket");
    e.timestamp = 5000;
    CHECK(beacon::before(5001)(e));
    CHECK_FALSE(beacon::before(5000)(e));
    CHECK(beacon::after(4999)(e));
    CHECK_FALSE(beacon::after(5000)(e));

    const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(5000));
    CHECK_FALSE(beacon::before(t)(e));
    CHECK(beacon::before(t + std::chrono::milliseconds(1))(e));
    CHECK(beacon::after(t - std::chrono::seconds(1))(e));
    CHECK_FALSE(beacon::after(t)(e));
}

TEST_CASE("with_field matches a JSON pointer into data", "[filter][field]") {
    beacon::event e("storage", {{"bucket_id", "b1"}, {"tags", {"x", "y"}}, {"meta", {{"size", 3}}}});
    CHECK(beacon::with_field("/bucket_id", "b1")(e));
    CHECK_FALSE(beacon::with_field("/bucket_id", "b2")(e));
    CHECK(beacon::with_field("/tags/1", "y")(e));
    CHECK(beacon::with_field("/meta/size", 3)(e));
    CHECK_FALSE(beacon::with_field("/meta/size", "3")(e));
    CHECK(beacon::with_field("/meta", {{"size", 3}})(e));
    // Missing keys, indexes out of range or not numbers, paths through scalars: no match, no throw.
    CHECK_FALSE(beacon::with_field("/missing", nullptr)(e));
    CHECK_FALSE(beacon::with_field("/tags/7", "x")(e));
    CHECK_FALSE(beacon::with_field("/tags/first", "x")(e));
    CHECK_FALSE(beacon::with_field("/bucket_id/deeper", "b1")(e));
}

TEST_CASE("with_field rejects what is not a JSON pointer", "[filter][field][errors]") {
    CHECK_THROWS_MATCHES(beacon::with_field("bucket_id", "b1"), beacon::config_error,
                         Catch::Matchers::Message(
                             "[beacon.config_error] bucket_id: with_field: not a JSON pointer "
                             "([json.exception.parse_error.107] parse error at byte 1: JSON pointer must be empty "
                             "or begin with '/' - was: 'bucket_id')"));
    CHECK_THROWS_AS(beacon::with_field("/a~2", 1), beacon::config_error);
}

TEST_CASE("&, | short-circuit; ^ and ! combine", "[filter][compose]") {
    const auto e = change(beacon::action::create, "bucket");
    int right = 0;
    CHECK_FALSE((beacon::with_resource("record") & counting(right, true))(e));
    CHECK(right == 0);
    CHECK((beacon::with_resource("bucket") | counting(right, false))(e));
    CHECK(right == 0);
    CHECK((beacon::with_resource("bucket") & counting(right, true))(e));
    CHECK(right == 1);
    CHECK_FALSE((beacon::with_resource("record") | counting(right, false))(e));
    CHECK(right == 2);

    const auto yes = beacon::with_user("alice");
    const auto no = beacon::with_user("bob");
    CHECK((yes ^ no)(e));
    CHECK_FALSE((yes ^ yes)(e));
    CHECK_FALSE((no ^ no)(e));
    CHECK((!no)(e));
    CHECK_FALSE((!yes)(e));
    CHECK((!(no | (yes & !yes)))(e));
}

TEST_CASE("scopes: the (action, resource) pairs a filter may pass", "[filter][scope]") {
    using beacon::action;
    using set = std::set<std::string>;
    const auto create = beacon::filter_scope::bit(action::create);
    const auto update = beacon::filter_scope::bit(action::update);

    const auto s1 = (beacon::with_action(action::create) & beacon::with_resources({"bucket", "group"})).scope();
    CHECK(s1.actions == create);
    CHECK(s1.resources == set{"bucket", "group"});

    const auto s2 = (beacon::with_resources({"bucket", "group"}) & beacon::with_resources({"group", "record"})).scope();
    CHECK(s2.actions == beacon::filter_scope::all_actions);
    CHECK(s2.resources == set{"group"});

    const auto s3 = (beacon::with_action(action::create) | beacon::with_action(action::update)).scope();
    CHECK(s3.actions == (create | update));
    CHECK_FALSE(s3.resources);

    const auto s4 = (beacon::with_resource("a") ^ beacon::with_resource("b")).scope();
    CHECK(s4.resources == set{"a", "b"});
    CHECK_FALSE((beacon::with_resource("a") | beacon::with_user("u")).scope().resources);
    CHECK_FALSE((!beacon::with_resource("a")).scope().resources);
    CHECK(beacon::with_user("u").scope().actions == beacon::filter_scope::all_actions);
    CHECK(beacon::filter_scope::bit(std::nullopt) == beacon::filter_scope::no_action_bit);
}
