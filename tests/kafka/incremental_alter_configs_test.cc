// IncrementalAlterConfigs v0 codecs: round trips, the exact layout,
// truncation, trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "kafka/api.h"
#include "kafka/incremental_alter_configs_messages.h"
#include "kafka/wire.h"
#include "seeded_rng.h"

namespace fjord::kafka {
namespace {

constexpr int16_t kMin = kIncrementalAlterConfigsMinVersion;
constexpr int16_t kMax = kIncrementalAlterConfigsMaxVersion;
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

std::string encode(const IncrementalAlterConfigsRequest& req, int16_t v) {
    std::string out;
    encode_incremental_alter_configs_request(out, req, v);
    return out;
}

std::string encode(const IncrementalAlterConfigsResponse& resp, int16_t v) {
    std::string out;
    encode_incremental_alter_configs_response(out, resp, v);
    return out;
}

// Every proper prefix of `bytes` must fail with an error naming the API.
template <typename Decode>
void expect_truncations_fail(const std::string& bytes, Decode decode) {
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r.has_value()) << "a " << n << "-byte prefix decoded";
        EXPECT_EQ(r.error().rfind("IncrementalAlterConfigs v", 0), 0u) << r.error();
    }
}

// What decodes must re-encode to something that decodes the same.
template <typename Decode, typename Encode>
void expect_garbage_safe(std::string_view bytes, int16_t v, Decode decode, Encode encode_fn) {
    auto r = decode(bytes, v);
    if (!r.has_value()) {
        EXPECT_FALSE(r.error().empty());
        return;
    }
    std::string again;
    encode_fn(again, r.value(), v);
    auto r2 = decode(again, v);
    ASSERT_TRUE(r2.has_value()) << r2.error();
    EXPECT_TRUE(r2.value() == r.value());
}

TEST(IncrementalAlterConfigsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_incremental_alter_configs_request(encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
    }
}

TEST(IncrementalAlterConfigsCodec, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_incremental_alter_configs_response(encode(sample_response(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_response()) << "v" << v;
    }
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
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(req, v), expected) << "v" << v;
}

TEST(IncrementalAlterConfigsCodec, ResponseLayoutMatchesTheSchema) {
    IncrementalAlterConfigsResponse resp{0, {{0, "e", 2, "t"}}};
    // throttle_time_ms 4, responses count 4, error_code 2, "e" 2+1,
    // resource_type 1, "t" 2+1.
    for (int16_t v = kMin; v <= kMax; ++v)
        EXPECT_EQ(encode(resp, v).size(), 4u + 4 + 2 + 3 + 1 + 3) << "v" << v;
}

TEST(IncrementalAlterConfigsCodec, EveryTruncationFailsCleanly) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        expect_truncations_fail(encode(sample_request(), v), [v](std::string_view b) {
            return decode_incremental_alter_configs_request(b, v);
        });
        expect_truncations_fail(encode(sample_response(), v), [v](std::string_view b) {
            return decode_incremental_alter_configs_response(b, v);
        });
    }
}

TEST(IncrementalAlterConfigsCodec, ErrorsNameTheField) {
    IncrementalAlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"k", kSet, "v"}}});
    std::string bytes = encode(req, 0);
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
    std::string bytes = encode(sample_request(), kMin);
    for (int16_t v : {int16_t(kMin - 1), int16_t(kMax + 1)}) {
        auto r = decode_incremental_alter_configs_request(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(decode_incremental_alter_configs_response(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= kMax + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(ApiKey::incremental_alter_configs), v),
                  v >= kMin && v <= kMax)
            << v;
    }
}

TEST(IncrementalAlterConfigsCodec, RandomBytesNeverCrash) {
    fjord::testing::SeededRng rng(44);
    const std::string valid[] = {encode(sample_request(), kMin), encode(sample_response(), kMin)};
    for (int i = 0; i < 2000; ++i) {
        std::string bytes;
        if (rng.chance(50)) {
            bytes.resize(rng.range(0, 64));
            for (char& c : bytes) c = static_cast<char>(rng.next());
        } else {
            // Mutate a valid message, to get deep into the decoder.
            bytes = valid[rng.range(0, 1)];
            bytes[rng.range(0, bytes.size() - 1)] = static_cast<char>(rng.next());
        }
        for (int16_t v = kMin; v <= kMax; ++v) {
            expect_garbage_safe(bytes, v, decode_incremental_alter_configs_request,
                                encode_incremental_alter_configs_request);
            expect_garbage_safe(bytes, v, decode_incremental_alter_configs_response,
                                encode_incremental_alter_configs_response);
        }
    }
}

}  // namespace
}  // namespace fjord::kafka
