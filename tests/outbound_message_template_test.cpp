#include <beacon/outbound/message_template.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {

beacon::event sample() {
    beacon::event e("blog-api");
    e.action = beacon::action::create;
    e.resource_name = "record";
    e.uri = "/buckets/blog/records/a1";
    e.user_id = "basicauth:alice";
    e.timestamp = 1796283180123;
    e.data = {{"title", "Café"}, {"author", {{"name", "Alice"}, {"age", 42}}}, {"tags", {"a", "b"}}};
    return e;
}

std::string render(const std::string& text) { return beacon::outbound::message_template::parse(text).render(sample()); }

}  // namespace

TEST_CASE("placeholders are filled from the event's fields and data", "[message_template]") {
    CHECK(render("{{action}} {{resource_name}} at {{uri}} by {{ user_id }} ({{sender}}, {{timestamp}})") ==
          "create record at /buckets/blog/records/a1 by basicauth:alice (blog-api, 1796283180123)");
    CHECK(render("{{data.title}} by {{data.author.name}}, {{data.author.age}}, {{data.tags}}") == "Café by Alice, 42, [\"a\",\"b\"]");
    CHECK(render("{{data.author}}") == "{\"age\":42,\"name\":\"Alice\"}");
    CHECK(render("no placeholder") == "no placeholder");
    CHECK(render("") == "");
    CHECK(render("{{id}}|{{type}}|{{source}}") == "||");  // an unstamped event's are empty
}

TEST_CASE("a data path the event lacks renders as nothing", "[message_template]") {
    CHECK(render("[{{data.missing}}][{{data.title.deeper}}][{{data.author.name.x}}]") == "[][][]");
}

TEST_CASE("bad templates are config errors naming the key and the byte", "[message_template]") {
    using beacon::outbound::message_template;
    CHECK_THROWS_WITH(message_template::parse("Hi {{user", "mailer", "/subject"),
                      "[beacon.config_error] /subject (alias \"mailer\"): a placeholder \"{{\" without its \"}}\" at byte 3");
    CHECK_THROWS_WITH(message_template::parse("{{ }}"), "[beacon.config_error] /template: an empty placeholder at byte 0");
    CHECK_THROWS_WITH(message_template::parse("x {{nickname}}"),
                      Catch::StartsWith("[beacon.config_error] /template: \"nickname\" is not a field of an event (id, type,"));
    CHECK_THROWS_WITH(message_template::parse("{{data..x}}"), Catch::Contains("an empty name in the data path \"data..x\" at byte 0"));
    CHECK_THROWS_WITH(message_template::parse("{{data.}}"), Catch::Contains("an empty name in the data path"));
    CHECK_THROWS_WITH(message_template::parse(std::string(70000, 'x')),
                      "[beacon.config_error] /template: a template is at most 65536 bytes, this one has 70000");
    std::string many;
    for (int i = 0; i < 257; ++i) many += "{{uri}}";
    CHECK_THROWS_WITH(message_template::parse(many), Catch::Contains("more than 256 placeholders"));
    std::string deep = "{{data";
    for (int i = 0; i < 17; ++i) deep += ".a";
    CHECK_THROWS_WITH(message_template::parse(deep + "}}"), Catch::Contains("a data path of more than 16 names"));
}
