// The web part's HTTP vocabulary: http_error (a decode_error with a status), the responses
// answering it, and the query-string decoding route handlers use (issue 22 item 7: no "%20").
#include <beacon/web/http.hpp>

#include <catch2/catch.hpp>

#include <string>

using Catch::Matchers::StartsWith;
namespace web = beacon::web;

namespace {

web::request get(const std::string& target) {
    web::request req{web::http::verb::get, target, 11};
    return req;
}

}  // namespace

TEST_CASE("http_error is bad input from outside, with the status it is answered with", "[web][http]") {
    const web::http_error bad(web::http::status::forbidden, "GET /admin", "admins only");
    const beacon::decode_error& as_decode = bad;
    CHECK(bad.status() == web::http::status::forbidden);
    CHECK_THAT(std::string(as_decode.what()), StartsWith("[beacon.http_error] 403 GET /admin: admins only"));
    CHECK(as_decode.path() == "403 GET /admin");

    const auto res = web::error_response(web::http_error(web::http::status::service_unavailable, "a connection", "busy"));
    CHECK(res.result() == web::http::status::service_unavailable);
    CHECK(res[web::http::field::retry_after] == "1");
    CHECK_FALSE(res.keep_alive());
}

TEST_CASE("describe quotes at most a short excerpt of the target, control characters masked", "[web][http]") {
    const auto text = web::describe(get("/x\x01" + std::string(200, 'a')));
    CHECK_THAT(text, StartsWith("GET /x?aaa"));
    CHECK(text.size() < 80);
    // An unknown method is a token of any length: cut too (found by web_request_fuzz).
    web::request odd{web::http::verb::unknown, "/", 11};
    odd.method_string(std::string(5000, 'M'));
    CHECK(web::describe(odd).size() < 40);
}

TEST_CASE("form_decode decodes percent-escapes and '+'", "[web][http]") {
    CHECK(web::form_decode("Hello%20world") == "Hello world");
    CHECK(web::form_decode("Hello+world") == "Hello world");
    CHECK(web::form_decode("caf%C3%A9%2b%2B") == "caf\xC3\xA9++");
    CHECK(web::form_decode("100%") == "100%");
    CHECK(web::form_decode("%zz%4") == "%zz%4");
    CHECK(web::form_decode("") == "");
}

TEST_CASE("query_parameter finds a decoded value by its decoded name", "[web][http]") {
    const auto req = get("/notify_user?to=tom&title=Hello%20from%20john&x%20y=1&empty=");
    CHECK(web::query_parameter(req, "title") == "Hello from john");
    CHECK(web::query_parameter(req, "to") == "tom");
    CHECK(web::query_parameter(req, "x y") == "1");
    CHECK(web::query_parameter(req, "empty") == "");
    CHECK_FALSE(web::query_parameter(req, "missing"));
    CHECK_FALSE(web::query_parameter(get("/plain"), "title"));
    CHECK_FALSE(web::query_parameter(get("/flag?title"), "title"));
}
