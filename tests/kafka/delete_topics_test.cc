// DeleteTopics v0-1 codecs: round trips, the exact layout per version,
// truncation, trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/delete_topics_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kDeleteTopicsMinVersion;
constexpr int16_t kMax = kDeleteTopicsMaxVersion;
constexpr AdminCodecs<DeleteTopicsRequest, DeleteTopicsResponse> kCodecs{
    "DeleteTopics",
    ApiKey::delete_topics,
    kMin,
    kMax,
    {decode_delete_topics_request, encode_delete_topics_request},
    {decode_delete_topics_response, encode_delete_topics_response}};

DeleteTopicsRequest sample_request() {
    return DeleteTopicsRequest{{"orders", "", "payments"}, 15000};
}

DeleteTopicsResponse sample_response() {
    return DeleteTopicsResponse{7, {{"orders", 0}, {"", 17}, {"payments", 3}}};
}

// The response as a decoder sees it at `v`: fields the version lacks are defaults.
DeleteTopicsResponse as_seen_at(DeleteTopicsResponse resp, int16_t v) {
    if (v < 1) resp.throttle_time_ms = 0;
    return resp;
}

TEST(DeleteTopicsCodec, RequestRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_request());
}

TEST(DeleteTopicsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response(), as_seen_at);
}

TEST(DeleteTopicsCodec, RequestLayoutMatchesTheSchema) {
    // topic_names count 4; "a" 2+1; "bc" 2+2; timeout_ms 4.
    DeleteTopicsRequest req{{"a", "bc"}, 5000};
    for (int16_t v = kMin; v <= kMax; ++v)
        EXPECT_EQ(kCodecs.encode(req, v).size(), 4u + 3 + 4 + 4) << "v" << v;
}

TEST(DeleteTopicsCodec, ResponseBytesMatchTheSchemaPerVersion) {
    DeleteTopicsResponse resp{9, {{"t", 3}}};
    // responses count 1, name "t", error_code 3; v1 starts with throttle_time_ms 9.
    const std::string v0(
        "\0\0\0\1"
        "\0\1t"
        "\0\3",
        9);
    EXPECT_EQ(kCodecs.encode(resp, 0), v0);
    EXPECT_EQ(kCodecs.encode(resp, 1), std::string("\0\0\0\x09", 4) + v0);
}

TEST(DeleteTopicsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(DeleteTopicsCodec, ErrorsNameTheField) {
    std::string bytes = kCodecs.encode(sample_request(), 1);
    auto r = decode_delete_topics_request(std::string_view(bytes).substr(0, bytes.size() - 3), 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "DeleteTopics v1 request: timeout_ms: needs 4 bytes, 1 left");

    bytes += "xy";
    r = decode_delete_topics_request(bytes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "DeleteTopics v1 request: 2 trailing bytes after the last field");
}

TEST(DeleteTopicsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.array(1);
    w.nullable_string(std::nullopt);
    w.i32(0);
    auto r = decode_delete_topics_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("topic_names: null"), std::string::npos) << r.error();

    bytes.clear();
    w.null_array();
    w.i32(0);
    r = decode_delete_topics_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("topic_names: null"), std::string::npos) << r.error();
}

TEST(DeleteTopicsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(DeleteTopicsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 20, kMax, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
