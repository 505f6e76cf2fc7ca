// ApiVersions v0-2 both ways, and the v0-layout refusal of v3+.
#include "kafka/api_versions.h"

#include <gtest/gtest.h>

#include "codec_checks.h"

namespace fjord::kafka::testing {
namespace {

ApiVersionsResponse sample() {
    return {0, {{0, 3, 7}, {18, 0, 2}}, 250};
}

// What a response looks like after a trip through `version`.
ApiVersionsResponse expected_at(ApiVersionsResponse r, int16_t version) {
    if (version < 1) r.throttle_time_ms = 0;
    return r;
}

TEST(ApiVersionsTest, RequestBodyIsEmptyInEveryVersion) {
    for (int16_t v = 0; v <= 2; ++v) {
        std::string out;
        encode_api_versions_request(out, {}, v);
        EXPECT_TRUE(out.empty());
        EXPECT_TRUE(decode_api_versions_request(out, v)) << v;
        expect_trailing_byte_fails(out,
                                   [v](std::string_view b) { return decode_api_versions_request(b, v); });
    }
}

TEST(ApiVersionsTest, FlexibleVersionsAreNotParsed) {
    auto req = decode_api_versions_request("", 3);
    ASSERT_FALSE(req);
    EXPECT_EQ(req.error(), "ApiVersions v3 is not supported");
    EXPECT_FALSE(decode_api_versions_response("", 3));
    EXPECT_FALSE(decode_api_versions_request("", -1));
}

TEST(ApiVersionsTest, V0ResponseBytesAreExact) {
    std::string out;
    encode_api_versions_response(out, sample(), 0);
    // error_code, count 2, (0, 3, 7), (18, 0, 2): no throttle time in v0.
    EXPECT_EQ(out, unhex("0000 00000002 0000 0003 0007 0012 0000 0002"));
}

TEST(ApiVersionsTest, V1AddsThrottleTimeAtTheEnd) {
    for (int16_t v = 1; v <= 2; ++v) {
        std::string out;
        encode_api_versions_response(out, sample(), v);
        EXPECT_EQ(out, unhex("0000 00000002 0000 0003 0007 0012 0000 0002 000000fa"));
    }
}

TEST(ApiVersionsTest, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = 0; v <= 2; ++v) {
        std::string out;
        encode_api_versions_response(out, sample(), v);
        auto decoded = decode_api_versions_response(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(sample(), v)) << "v" << v;
    }
}

TEST(ApiVersionsTest, ResponseDecodingIsStrict) {
    for (int16_t v = 0; v <= 2; ++v) {
        std::string out;
        encode_api_versions_response(out, sample(), v);
        expect_strict_decoding(out, 0xA9 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_api_versions_response(b, v); });
    }
    auto r = decode_api_versions_response(unhex("0000 00000002 0000 0003"), 0);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("api_keys"), std::string::npos) << r.error();
    EXPECT_FALSE(decode_api_versions_response(unhex("0000 ffffffff"), 0));  // not nullable
}

TEST(ApiVersionsTest, UnsupportedResponseIsByteExact) {
    std::string out;
    encode_unsupported_api_versions_response(out);
    // int16 35, int32 1, int16 18, int16 0, int16 2.
    EXPECT_EQ(out, unhex("0023 00000001 0012 0000 0002"));
    auto decoded = decode_api_versions_response(out, 0);
    ASSERT_TRUE(decoded) << decoded.error();
    EXPECT_EQ(decoded->error_code, 35);
}

TEST(ApiVersionsTest, RandomRequestBodiesNeverCrash) {
    expect_garbage_is_harmless("", 0xA7,
                               [](std::string_view b) { return decode_api_versions_request(b, 2); });
}

}  // namespace
}  // namespace fjord::kafka::testing
