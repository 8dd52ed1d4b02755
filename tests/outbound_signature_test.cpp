// Standard Webhooks signatures (<beacon/outbound/signature.hpp>): the reference libraries' vector,
// sign and verify round trips, tampering, several signatures in one header, the timestamp
// tolerance, and signing secrets: refused ones (without quoting them) and generated ones.
#include <beacon/outbound/signature.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace {

namespace wh = beacon::outbound;

// The vector the reference libraries (python, go, javascript, php, ruby, csharp, java) all test
// sign() against, in github.com/standard-webhooks/standard-webhooks.
const std::string secret_text = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t msg_timestamp = 1614265330;
const std::string payload = R"({"test": 2432232314})";
const std::string expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// The config_error that parsing `text` throws (fails the test when none is thrown).
beacon::config_error refusal(const std::string& text, const std::string& alias = "",
                             const std::string& key = "/secret") {
    try {
        wh::signing_secret::parse(text, alias, key);
    } catch (const beacon::config_error& e) {
        return e;
    }
    FAIL("no config_error for a bad secret");
    throw;  // not reached
}

}  // namespace

TEST_CASE("sign gives the reference libraries' signature", "[webhook][signature]") {
    const auto secret = wh::signing_secret::parse(secret_text);
    CHECK(secret.size() == 24);
    CHECK(wh::sign(secret, msg_id, msg_timestamp, payload) == expected);
    CHECK(wh::verify(secret, msg_id, msg_timestamp, payload, expected));
}

TEST_CASE("verify accepts what sign wrote and refuses anything tampered with", "[webhook][signature]") {
    const auto secret = wh::signing_secret::generate();
    const std::string body = R"({"action":"create","uri":"/buckets/b"})";
    const std::string header = wh::sign(secret, "msg_1", 1700000000, body);
    CHECK(wh::verify(secret, "msg_1", 1700000000, body, header));

    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000000, body + " ", header));
    CHECK_FALSE(wh::verify(secret, "msg_2", 1700000000, body, header));
    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000001, body, header));
    CHECK_FALSE(wh::verify(wh::signing_secret::generate(), "msg_1", 1700000000, body, header));
    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000000, body, ""));
    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000000, body, "v1,"));
    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000000, body, header.substr(0, header.size() - 1)));
    CHECK_FALSE(wh::verify(secret, "msg_1", 1700000000, body, header + "A"));
    // The reference libraries' "invalid signature": one character off at the end.
    const auto reference = wh::signing_secret::parse(secret_text);
    CHECK_FALSE(wh::verify(reference, msg_id, msg_timestamp, payload, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="));
}

TEST_CASE("verify takes any v1 entry of a space-separated header and ignores other versions",
          "[webhook][signature]") {
    const auto secret = wh::signing_secret::parse(secret_text);
    const std::string other = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=";
    CHECK(wh::verify(secret, msg_id, msg_timestamp, payload, other + " " + expected + " " + other));
    CHECK(wh::verify(secret, msg_id, msg_timestamp, payload, expected + " " + other));
    CHECK(wh::verify(secret, msg_id, msg_timestamp, payload, "v1a,c29tZQ== " + expected));
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp, payload, other + " " + other));

    const std::string bare = expected.substr(3);
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp, payload, "v2," + bare));
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp, payload, "v1a," + bare));
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp, payload, bare));
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp, payload, "V1," + bare));
}

TEST_CASE("verify with a clock refuses timestamps more than the tolerance away", "[webhook][signature]") {
    const auto secret = wh::signing_secret::parse(secret_text);
    const std::chrono::system_clock::time_point sent{std::chrono::seconds(msg_timestamp)};
    const auto verify_at = [&](std::chrono::seconds offset) {
        return wh::verify(secret, msg_id, msg_timestamp, payload, expected, sent + offset);
    };
    CHECK(wh::timestamp_tolerance == std::chrono::minutes(5));
    CHECK(verify_at(std::chrono::seconds(0)));
    CHECK(verify_at(std::chrono::seconds(300)));
    CHECK(verify_at(std::chrono::seconds(-300)));
    CHECK_FALSE(verify_at(std::chrono::seconds(301)));
    CHECK_FALSE(verify_at(std::chrono::seconds(-301)));
    CHECK(wh::verify(secret, msg_id, msg_timestamp, payload, expected, sent + std::chrono::hours(1),
                     std::chrono::hours(2)));
    CHECK_FALSE(wh::verify(secret, msg_id, msg_timestamp + 1, payload, expected, sent));
}

TEST_CASE("a bad signing secret is refused with its key, saying why without quoting it", "[webhook][signature]") {
    struct bad_secret {
        std::string text;
        std::string why;
    };
    const bad_secret cases[] = {
        {"", "this one is empty"},
        {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "this one does not start with \"whsec_\""},
        {"whsec", "this one does not start with \"whsec_\""},
        {"WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "this one does not start with \"whsec_\""},
        {"whsec_", "this one has 0 bytes"},
        {"whsec_c2VjcmV0IQ==", "this one has 7 bytes"},
        {"whsec_MfKQ9r8GKYqrTwjU_D8ILPZIo2LaLaSw", "this one is not base64 (at character 23)"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "this one is not base64 (at character 39)"},
        {" whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "this one does not start with \"whsec_\""},
        {"whsec_MfKQ9r8G=YqrTwjUPD8ILPZIo2LaLaSw", "this one is not base64 (at character 15)"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "this one is not padded base64 (31 characters"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", "this one is not padded base64 (34 characters"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr==", "this one is not canonical base64"},
        {"whsec_" + std::string(88, 'A'), "this one has 66 bytes"},
        {"whsec_" + std::string(92, 'A'), "this one is too long (92 characters after \"whsec_\", at most 88)"},
        {"whsec_" + std::string(std::size_t{1} << 20, '!'), "this one is too long (1048576 characters"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.why);
        const auto e = refusal(c.text, "billing", "/webhooks/billing/secret");
        CHECK(e.alias() == "billing");
        CHECK(e.key() == "/webhooks/billing/secret");
        const std::string what = e.what();
        CHECK_THAT(what, Catch::StartsWith("[beacon.config_error] /webhooks/billing/secret (alias \"billing\"): "
                                           "a signing secret is \"whsec_\" and the base64 of 24 to 64 bytes; "));
        CHECK_THAT(what, Catch::Contains(c.why));
        const auto at = c.text.find("whsec_");
        const std::string encoded = at == std::string::npos ? c.text : c.text.substr(at + 6);
        if (encoded.size() >= 8) CHECK_THAT(what, !Catch::Contains(encoded.substr(0, 8)));
    }
    const auto e = refusal("nope");
    CHECK(e.alias().empty());
    CHECK(e.key() == "/secret");
    CHECK_THAT(std::string(e.what()), !Catch::Contains("nope"));
}

TEST_CASE("secrets of 24 to 64 bytes are accepted and keep their text", "[webhook][signature]") {
    CHECK(wh::signing_secret::parse(secret_text).text() == secret_text);
    const std::string sixty_four = "whsec_" + std::string(84, 'A') + "AA==";  // 64 zero bytes
    CHECK(wh::signing_secret::parse(sixty_four).size() == 64);
    CHECK(wh::signing_secret::parse(sixty_four).text() == sixty_four);
    CHECK(wh::signing_secret::parse("whsec_" + std::string(32, '/')).size() == 24);
    CHECK(wh::signing_secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBg==").size() == 25);
}

TEST_CASE("a secret copied, moved or assigned signs as the original; the one moved from is empty", "[webhook][signature]") {
    const auto original = wh::signing_secret::parse(secret_text);
    const std::string signed_by_original = wh::sign(original, "msg_1", 1700000000, "{}");
    wh::signing_secret copy = original;
    CHECK(wh::sign(copy, "msg_1", 1700000000, "{}") == signed_by_original);
    wh::signing_secret moved = std::move(copy);
    CHECK(wh::sign(moved, "msg_1", 1700000000, "{}") == signed_by_original);
    CHECK(copy.size() == 0);  // NOLINT(bugprone-use-after-move): what a move leaves is the point
    CHECK_THROWS_AS(wh::sign(copy, "msg_1", 1700000000, "{}"), beacon::misuse_error);  // NOLINT(bugprone-use-after-move)
    wh::signing_secret assigned = wh::signing_secret::generate();
    assigned = std::move(moved);
    CHECK(wh::sign(assigned, "msg_1", 1700000000, "{}") == signed_by_original);
    assigned = original;
    CHECK(assigned.text() == secret_text);
    wh::signing_secret longer = wh::signing_secret::parse("whsec_" + std::string(84, 'A') + "AA==");  // 64 bytes
    longer = original;  // a shorter key over a longer one
    CHECK(longer.size() == original.size());
    CHECK(wh::sign(longer, "msg_1", 1700000000, "{}") == signed_by_original);
}

TEST_CASE("generate gives 32 random bytes whose text parses back", "[webhook][signature]") {
    const auto a = wh::signing_secret::generate();
    const auto b = wh::signing_secret::generate();
    CHECK(a.size() == 32);
    const std::string text = a.text();
    CHECK(text.size() == 6 + 44);
    CHECK_THAT(text, Catch::StartsWith("whsec_"));
    const auto back = wh::signing_secret::parse(text);
    CHECK(back.size() == 32);
    CHECK(back.text() == text);
    CHECK(b.text() != text);
    CHECK(wh::sign(back, "msg", 1, "{}") == wh::sign(a, "msg", 1, "{}"));
}
