// DescribeConfigs v1-2 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/describe_configs_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kDescribeConfigsMinVersion;
constexpr int16_t kMax = kDescribeConfigsMaxVersion;
constexpr AdminCodecs<DescribeConfigsRequest, DescribeConfigsResponse> kCodecs{
    "DescribeConfigs",
    ApiKey::describe_configs,
    kMin,
    kMax,
    {decode_describe_configs_request, encode_describe_configs_request},
    {decode_describe_configs_response, encode_describe_configs_response}};
constexpr int8_t kTopic = static_cast<int8_t>(ConfigResourceType::topic);
constexpr int8_t kBroker = static_cast<int8_t>(ConfigResourceType::broker);
constexpr int8_t kDynamicTopic = static_cast<int8_t>(ConfigSource::dynamic_topic);
constexpr int8_t kDefault = static_cast<int8_t>(ConfigSource::default_config);

DescribeConfigsRequest sample_request() {
    DescribeConfigsRequest req;
    req.resources.push_back({kTopic, "orders", std::nullopt});
    req.resources.push_back({kBroker, "1", std::vector<std::string>{"log.retention.ms", ""}});
    req.resources.push_back({kTopic, "none", std::vector<std::string>{}});
    req.include_synonyms = true;
    return req;
}

DescribeConfigsResponse sample_response() {
    using Config = DescribeConfigsResponse::Config;
    DescribeConfigsResponse resp;
    resp.throttle_time_ms = 3;
    resp.results.push_back(
        {0,
         std::nullopt,
         kTopic,
         "orders",
         {Config{
              "retention.ms", "1000", false, kDynamicTopic, false, {{"retention.ms", "1000", kDynamicTopic}}},
          Config{"ssl.key.password", std::nullopt, true, kDefault, true, {{"x", std::nullopt, kDefault}}},
          Config{"cleanup.policy", "delete", false, kDefault, false, {}}}});
    resp.results.push_back({3, "Unknown topic", kTopic, "gone", {}});
    return resp;
}

TEST(DescribeConfigsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_describe_configs_request(kCodecs.encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
        // Null (all keys) and empty (no keys) stay apart.
        EXPECT_FALSE(r->resources.at(0).configuration_keys.has_value());
        EXPECT_TRUE(r->resources.at(2).configuration_keys.has_value());
    }
}

TEST(DescribeConfigsCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response());
}

TEST(DescribeConfigsCodec, RequestLayoutMatchesTheSchema) {
    DescribeConfigsRequest req;
    req.resources.push_back({kTopic, "t", std::nullopt});
    req.resources.push_back({kBroker, "1", std::vector<std::string>{"a"}});
    // resources count 4; (resource_type 1, "t" 2+1, null keys 4);
    // (resource_type 1, "1" 2+1, keys count 4 + "a" 2+1); include_synonyms 1.
    const size_t expected = 4 + (1 + 3 + 4) + (1 + 3 + 4 + 3) + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v).size(), expected) << "v" << v;
}

TEST(DescribeConfigsCodec, ResponseLayoutMatchesTheSchema) {
    DescribeConfigsResponse resp;
    resp.results.push_back(
        {0, std::nullopt, kTopic, "t", {{"k", "v", false, kDefault, false, {{"k", "v", kDefault}}}}});
    // throttle_time_ms 4; results count 4; error_code 2; null error_message 2;
    // resource_type 1; "t" 2+1; configs count 4;
    // config: "k" 2+1, "v" 2+1, read_only 1, config_source 1, is_sensitive 1
    //         (no v0 is_default), synonyms count 4 + ("k" 3, "v" 3, source 1).
    const size_t expected = 4 + 4 + 2 + 2 + 1 + 3 + 4 + (3 + 3 + 1 + 1 + 1 + 4 + 7);
    for (int16_t v = kMin; v <= kMax; ++v) {
        std::string bytes = kCodecs.encode(resp, v);
        EXPECT_EQ(bytes.size(), expected) << "v" << v;
        // config_source and is_sensitive follow read_only, then the synonym count.
        EXPECT_EQ(bytes.substr(expected - 14, 7), std::string("\0\5\0\0\0\0\1", 7)) << "v" << v;
    }
}

TEST(DescribeConfigsCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(DescribeConfigsCodec, ErrorsNameTheField) {
    DescribeConfigsResponse resp;
    resp.results.push_back(
        {0, std::nullopt, kTopic, "t", {{"k", "v", false, kDefault, false, {{"k", "v", kDefault}}}}});
    std::string bytes = kCodecs.encode(resp, 1);
    auto r = decode_describe_configs_response(std::string_view(bytes).substr(0, bytes.size() - 1), 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(),
              "DescribeConfigs v1 response: results.configs.synonyms.source: needs 1 bytes, 0 left");

    bytes += "abc";
    r = decode_describe_configs_response(bytes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "DescribeConfigs v1 response: 3 trailing bytes after the last field");
}

TEST(DescribeConfigsCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.array(1);  // resources
    w.i8(kTopic);
    w.nullable_string(std::nullopt);  // resource_name
    w.null_array();
    w.boolean(false);
    auto r = decode_describe_configs_request(bytes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("resources.resource_name: null"), std::string::npos) << r.error();

    bytes.clear();
    w.array(1);
    w.i8(kTopic);
    w.string("t");
    w.array(1);
    w.nullable_string(std::nullopt);  // a configuration key
    w.boolean(false);
    r = decode_describe_configs_request(bytes, 1);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("resources.configuration_keys: null"), std::string::npos) << r.error();
}

TEST(DescribeConfigsCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(DescribeConfigsCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 32, kMin, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
