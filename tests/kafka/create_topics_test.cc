// CreateTopics v2-4 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/create_topics_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kCreateTopicsMinVersion;
constexpr int16_t kMax = kCreateTopicsMaxVersion;
constexpr AdminCodecs<CreateTopicsRequest, CreateTopicsResponse> kCodecs{
    "CreateTopics",
    ApiKey::create_topics,
    kMin,
    kMax,
    {decode_create_topics_request, encode_create_topics_request},
    {decode_create_topics_response, encode_create_topics_response}};

CreateTopicsRequest sample_request() {
    CreateTopicsRequest req;
    req.topics.push_back(
        {"orders", 3, 2, {}, {{"cleanup.policy", "compact"}, {"retention.ms", std::nullopt}}});
    req.topics.push_back({"manual", -1, -1, {{0, {1, 2}}, {1, {2, 3}}}, {}});
    req.timeout_ms = 30000;
    req.validate_only = true;
    return req;
}

CreateTopicsResponse sample_response() {
    CreateTopicsResponse resp;
    resp.throttle_time_ms = 7;
    resp.topics.push_back({"orders", 0, std::nullopt});
    resp.topics.push_back({"manual", 36, "Topic 'manual' already exists."});
    return resp;
}

TEST(CreateTopicsCodec, RequestRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_request());
}

TEST(CreateTopicsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response());
}

TEST(CreateTopicsCodec, RequestLayoutMatchesTheSchema) {
    CreateTopicsRequest req;
    req.topics.push_back({"t", 1, 1, {{0, {1}}}, {{"k", std::nullopt}}});
    req.timeout_ms = 1000;
    // topics count 4; name 2+1; num_partitions 4; replication_factor 2;
    // assignments count 4 + (partition_index 4 + broker_ids 4+4);
    // configs count 4 + (name 2+1 + null value 2); timeout_ms 4; validate_only 1.
    const size_t expected = 4 + 3 + 4 + 2 + (4 + 4 + 8) + (4 + 3 + 2) + 4 + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v).size(), expected) << "v" << v;
}

TEST(CreateTopicsCodec, ResponseBytesMatchTheSchema) {
    CreateTopicsResponse resp;
    resp.throttle_time_ms = 1;
    resp.topics.push_back({"t", 36, std::nullopt});
    // throttle_time_ms, topics count, name "t", error_code 36, null error_message.
    const std::string expected(
        "\0\0\0\1"
        "\0\0\0\1"
        "\0\1t"
        "\0\x24"
        "\xff\xff",
        15);
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(resp, v), expected) << "v" << v;
}

TEST(CreateTopicsCodec, V4CarriesBrokerDefaults) {
    CreateTopicsRequest req;
    req.topics.push_back({"d", -1, -1, {}, {}});
    auto r = decode_create_topics_request(kCodecs.encode(req, 4), 4);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->topics.at(0).num_partitions, -1);
    EXPECT_EQ(r->topics.at(0).replication_factor, -1);
}

TEST(CreateTopicsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(CreateTopicsCodec, ErrorsNameTheField) {
    std::string bytes = kCodecs.encode(sample_request(), 3);
    auto r = decode_create_topics_request(std::string_view(bytes).substr(0, bytes.size() - 3), 3);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "CreateTopics v3 request: timeout_ms: needs 4 bytes, 2 left");

    bytes.push_back('\0');
    r = decode_create_topics_request(bytes, 3);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "CreateTopics v3 request: 1 trailing bytes after the last field");
}

TEST(CreateTopicsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.null_array();  // topics
    w.i32(0);
    w.boolean(false);
    auto r = decode_create_topics_request(bytes, 2);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("topics: null"), std::string::npos) << r.error();

    bytes.clear();
    w.i32(0);    // throttle_time_ms
    w.array(1);  // topics
    w.nullable_string(std::nullopt);
    w.i16(0);
    w.nullable_string(std::nullopt);
    auto resp = decode_create_topics_response(bytes, 2);
    ASSERT_FALSE(resp.has_value());
    EXPECT_NE(resp.error().find("topics.name: null"), std::string::npos) << resp.error();
}

TEST(CreateTopicsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request(), {-1});
}

TEST(CreateTopicsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 19, kMin, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
