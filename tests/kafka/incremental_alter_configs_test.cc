// IncrementalAlterConfigs v0 codecs: round trips, the exact layout,
// truncation, trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/incremental_alter_configs_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kIncrementalAlterConfigsMinVersion;
constexpr int16_t kMax = kIncrementalAlterConfigsMaxVersion;
constexpr AdminCodecs<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> kCodecs{
    "IncrementalAlterConfigs",
    ApiKey::incremental_alter_configs,
    kMin,
    kMax,
    {decode_incremental_alter_configs_request, encode_incremental_alter_configs_request},
    {decode_incremental_alter_configs_response, encode_incremental_alter_configs_response}};
constexpr int8_t kSet = static_cast<int8_t>(ConfigOperation::set);
constexpr int8_t kRemove = static_cast<int8_t>(ConfigOperation::remove);
constexpr int8_t kAppend = static_cast<int8_t>(ConfigOperation::append);

IncrementalAlterConfigsRequest sample_request() {
    IncrementalAlterConfigsRequest req;
    req.resources.push_back({2,
                             "orders",
                             {{"retention.ms", kSet, "86400000"},
                              {"segment.ms", kRemove, std::nullopt},
                              {"cleanup.policy", kAppend, "compact"},
                              {"odd", 99, ""}}});
    req.resources.push_back({4, "1", {}});
    req.validate_only = true;
    return req;
}

IncrementalAlterConfigsResponse sample_response() {
    return IncrementalAlterConfigsResponse{5,
                                           {{0, std::nullopt, 2, "orders"}, {42, "bad operation", 4, "1"}}};
}

TEST(IncrementalAlterConfigsCodec, RequestRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_request());
}

TEST(IncrementalAlterConfigsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response());
}

TEST(IncrementalAlterConfigsCodec, RequestBytesMatchTheSchema) {
    IncrementalAlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"k", kAppend, "v"}, {"d", kRemove, std::nullopt}}});
    req.validate_only = true;
    // resources count 4; resource_type 1; "t" 2+1; configs count 4;
    // ("k" 2+1, config_operation 1, "v" 2+1); ("d" 2+1, operation 1, null 2);
    // validate_only 1.
    const std::string expected(
        "\0\0\0\1"
        "\2"
        "\0\1t"
        "\0\0\0\2"
        "\0\1k\2\0\1v"
        "\0\1d\1\xff\xff"
        "\1",
        4 + 1 + 3 + 4 + 7 + 6 + 1);
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v), expected) << "v" << v;
}

TEST(IncrementalAlterConfigsCodec, ResponseLayoutMatchesTheSchema) {
    IncrementalAlterConfigsResponse resp{0, {{0, "e", 2, "t"}}};
    // throttle_time_ms 4, responses count 4, error_code 2, "e" 2+1,
    // resource_type 1, "t" 2+1.
    for (int16_t v = kMin; v <= kMax; ++v)
        EXPECT_EQ(kCodecs.encode(resp, v).size(), 4u + 4 + 2 + 3 + 1 + 3) << "v" << v;
}

TEST(IncrementalAlterConfigsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(IncrementalAlterConfigsCodec, ErrorsNameTheField) {
    IncrementalAlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"k", kSet, "v"}}});
    std::string bytes = kCodecs.encode(req, 0);
    // Cut inside the value: resources count, type, "t", configs count, "k", operation, value length.
    auto r = decode_incremental_alter_configs_request(
        std::string_view(bytes).substr(0, 4 + 1 + 3 + 4 + 3 + 1 + 2), 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(),
              "IncrementalAlterConfigs v0 request: resources.configs.value: needs 1 bytes, 0 left");

    // Cut before the operation: less than the smallest config is left, which the array bound catches.
    r = decode_incremental_alter_configs_request(std::string_view(bytes).substr(0, 4 + 1 + 3 + 4 + 3), 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(),
              "IncrementalAlterConfigs v0 request: resources.configs: array length 1 does not fit the 3 "
              "bytes left");

    bytes.push_back('\0');
    r = decode_incremental_alter_configs_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "IncrementalAlterConfigs v0 request: 1 trailing bytes after the last field");
}

TEST(IncrementalAlterConfigsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.i32(0);    // throttle_time_ms
    w.array(1);  // responses
    w.i16(0);
    w.nullable_string(std::nullopt);
    w.i8(2);
    w.nullable_string(std::nullopt);  // resource_name
    auto r = decode_incremental_alter_configs_response(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("responses.resource_name: null"), std::string::npos) << r.error();
}

TEST(IncrementalAlterConfigsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(IncrementalAlterConfigsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 44, kMin, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
