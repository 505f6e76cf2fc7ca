// AlterConfigs v0-1 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "kafka/alter_configs_messages.h"
#include "kafka/api.h"
#include "kafka/wire.h"
#include "seeded_rng.h"

namespace fjord::kafka {
namespace {

constexpr int16_t kMin = kAlterConfigsMinVersion;
constexpr int16_t kMax = kAlterConfigsMaxVersion;

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

std::string encode(const AlterConfigsRequest& req, int16_t v) {
    std::string out;
    encode_alter_configs_request(out, req, v);
    return out;
}

std::string encode(const AlterConfigsResponse& resp, int16_t v) {
    std::string out;
    encode_alter_configs_response(out, resp, v);
    return out;
}

// Every proper prefix of `bytes` must fail with an error naming the API.
template <typename Decode>
void expect_truncations_fail(const std::string& bytes, Decode decode) {
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r.has_value()) << "a " << n << "-byte prefix decoded";
        EXPECT_EQ(r.error().rfind("AlterConfigs v", 0), 0u) << r.error();
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

TEST(AlterConfigsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_alter_configs_request(encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
    }
}

TEST(AlterConfigsCodec, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_alter_configs_response(encode(sample_response(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_response()) << "v" << v;
    }
}

TEST(AlterConfigsCodec, RequestLayoutMatchesTheSchema) {
    AlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"k", "v"}, {"d", std::nullopt}}});
    // resources count 4; resource_type 1; "t" 2+1; configs count 4;
    // ("k" 2+1, "v" 2+1); ("d" 2+1, null value 2); validate_only 1.
    const size_t expected = 4 + 1 + 3 + 4 + (3 + 3) + (3 + 2) + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(req, v).size(), expected) << "v" << v;
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
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(resp, v), expected) << "v" << v;
}

TEST(AlterConfigsCodec, EveryTruncationFailsCleanly) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        expect_truncations_fail(encode(sample_request(), v),
                                [v](std::string_view b) { return decode_alter_configs_request(b, v); });
        expect_truncations_fail(encode(sample_response(), v),
                                [v](std::string_view b) { return decode_alter_configs_response(b, v); });
    }
}

TEST(AlterConfigsCodec, ErrorsNameTheField) {
    AlterConfigsRequest req;
    req.resources.push_back({2, "t", {{"retention.ms", "1"}}});
    std::string bytes = encode(req, 0);
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
    std::string bytes = encode(sample_request(), kMin);
    for (int16_t v : {int16_t(kMin - 1), int16_t(kMax + 1)}) {
        auto r = decode_alter_configs_request(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(decode_alter_configs_response(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= kMax + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(ApiKey::alter_configs), v), v >= kMin && v <= kMax) << v;
    }
}

TEST(AlterConfigsCodec, RandomBytesNeverCrash) {
    fjord::testing::SeededRng rng(33);
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
            expect_garbage_safe(bytes, v, decode_alter_configs_request, encode_alter_configs_request);
            expect_garbage_safe(bytes, v, decode_alter_configs_response, encode_alter_configs_response);
        }
    }
}

}  // namespace
}  // namespace fjord::kafka
