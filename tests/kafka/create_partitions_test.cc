// CreatePartitions v0-1 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/create_partitions_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kCreatePartitionsMinVersion;
constexpr int16_t kMax = kCreatePartitionsMaxVersion;
constexpr AdminCodecs<CreatePartitionsRequest, CreatePartitionsResponse> kCodecs{
    "CreatePartitions",
    ApiKey::create_partitions,
    kMin,
    kMax,
    {decode_create_partitions_request, encode_create_partitions_request},
    {decode_create_partitions_response, encode_create_partitions_response}};

CreatePartitionsRequest sample_request() {
    CreatePartitionsRequest req;
    req.topics.push_back({"orders", 6, std::nullopt});
    req.topics.push_back({"placed", 4, std::vector<CreatePartitionsRequest::Assignment>{{{1, 2}}, {{2, 3}}}});
    req.topics.push_back({"empty", 1, std::vector<CreatePartitionsRequest::Assignment>{}});
    req.timeout_ms = 25000;
    req.validate_only = true;
    return req;
}

CreatePartitionsResponse sample_response() {
    return CreatePartitionsResponse{11,
                                    {{"orders", 0, std::nullopt}, {"placed", 37, "Topic has 8 partitions."}}};
}

TEST(CreatePartitionsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_create_partitions_request(kCodecs.encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
        // Null and empty assignments stay apart.
        EXPECT_FALSE(r->topics.at(0).assignments.has_value());
        EXPECT_TRUE(r->topics.at(2).assignments.has_value());
    }
}

TEST(CreatePartitionsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response());
}

TEST(CreatePartitionsCodec, RequestLayoutMatchesTheSchema) {
    CreatePartitionsRequest req;
    req.topics.push_back({"t", 3, std::vector<CreatePartitionsRequest::Assignment>{{{1}}, {{2}}}});
    req.topics.push_back({"u", 2, std::nullopt});
    req.timeout_ms = 100;
    // topics count 4;
    // "t" 2+1, count 4, assignments count 4, two assignments of (count 4 + one id 4);
    // "u" 2+1, count 4, null assignments 4;
    // timeout_ms 4, validate_only 1.
    const size_t expected = 4 + (3 + 4 + 4 + 8 + 8) + (3 + 4 + 4) + 4 + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v).size(), expected) << "v" << v;
}

TEST(CreatePartitionsCodec, ResponseBytesMatchTheSchema) {
    CreatePartitionsResponse resp{0, {{"t", 37, "x"}}};
    // throttle_time_ms 0, results count 1, name "t", error_code 37, error_message "x".
    const std::string expected(
        "\0\0\0\0"
        "\0\0\0\1"
        "\0\1t"
        "\0\x25"
        "\0\1x",
        16);
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(resp, v), expected) << "v" << v;
}

TEST(CreatePartitionsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(CreatePartitionsCodec, ErrorsNameTheField) {
    std::string bytes = kCodecs.encode(sample_request(), 0);
    auto r = decode_create_partitions_request(std::string_view(bytes).substr(0, bytes.size() - 1), 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "CreatePartitions v0 request: validate_only: needs 1 bytes, 0 left");

    bytes.push_back('\1');
    r = decode_create_partitions_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "CreatePartitions v0 request: 1 trailing bytes after the last field");
}

TEST(CreatePartitionsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.array(1);  // topics
    w.string("t");
    w.i32(2);
    w.array(1);      // assignments
    w.null_array();  // broker_ids
    w.i32(0);
    w.boolean(false);
    auto r = decode_create_partitions_request(bytes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("topics.assignments.broker_ids: null"), std::string::npos) << r.error();
}

TEST(CreatePartitionsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(CreatePartitionsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 37, kMin, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
