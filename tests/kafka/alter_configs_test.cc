// AlterConfigs v0-1 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/alter_configs_messages.h"
#include "kafka/api.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kAlterConfigsMinVersion;
constexpr int16_t kMax = kAlterConfigsMaxVersion;
constexpr AdminCodecs<AlterConfigsRequest, AlterConfigsResponse> kCodecs{
    "AlterConfigs",
    ApiKey::alter_configs,
    kMin,
    kMax,
    {decode_alter_configs_request, encode_alter_configs_request},
    {decode_alter_configs_response, encode_alter_configs_response}};

AlterConfigsRequest sample_request() {
    AlterConfigsRequest req;
    req.resources.push_back({2, "orders", {{"retention.ms", "86400000"}, {"cleanup.policy", std::nullopt}}});
    req.resources.push_back({4, "1", {}});
    req.validate_only = true;
    return req;
}

AlterConfigsResponse sample_response() {
    return AlterConfigsResponse{5, {{0, std::nullopt, 2, "orders"}, {40, "Unknown config x", 4, "1"}}};
}

TEST(AlterConfigsCodec, RequestRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_request());
}

TEST(AlterConfigsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response());
}

TEST(AlterConfigsCodec, RequestLayoutMatchesTheSchema) {
    AlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"k", "v"}, {"d", std::nullopt}}});
    // resources count 4; resource_type 1; "t" 2+1; configs count 4;
    // ("k" 2+1, "v" 2+1); ("d" 2+1, null value 2); validate_only 1.
    const size_t expected = 4 + 1 + 3 + 4 + (3 + 3) + (3 + 2) + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v).size(), expected) << "v" << v;
}

TEST(AlterConfigsCodec, ResponseBytesMatchTheSchema) {
    AlterConfigsResponse resp{0, {{0, std::nullopt, 2, "t"}}};
    // throttle_time_ms 0, responses count 1, error_code 0, null error_message,
    // resource_type 2, resource_name "t".
    const std::string expected(
        "\0\0\0\0"
        "\0\0\0\1"
        "\0\0"
        "\xff\xff"
        "\2"
        "\0\1t",
        16);
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(resp, v), expected) << "v" << v;
}

TEST(AlterConfigsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(AlterConfigsCodec, ErrorsNameTheField) {
    AlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"retention.ms", "1"}}});
    std::string bytes = kCodecs.encode(req, 0);
    // Cut inside the config name: resources count, type, "t", configs count, then 2+12 bytes of name.
    auto r = decode_alter_configs_request(std::string_view(bytes).substr(0, 4 + 1 + 3 + 4 + 2 + 3), 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "AlterConfigs v0 request: resources.configs.name: needs 12 bytes, 3 left");

    bytes.push_back('\0');
    r = decode_alter_configs_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "AlterConfigs v0 request: 1 trailing bytes after the last field");
}

TEST(AlterConfigsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.array(1);  // resources
    w.i8(2);
    w.string("t");
    w.null_array();  // configs
    w.boolean(false);
    auto r = decode_alter_configs_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("resources.configs: null"), std::string::npos) << r.error();
}

TEST(AlterConfigsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(AlterConfigsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 33, kMin, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
