// CreateTopics v2-4 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "kafka/api.h"
#include "kafka/create_topics_messages.h"
#include "kafka/wire.h"
#include "seeded_rng.h"

namespace fjord::kafka {
namespace {

constexpr int16_t kMin = kCreateTopicsMinVersion;
constexpr int16_t kMax = kCreateTopicsMaxVersion;

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

std::string encode(const CreateTopicsRequest& req, int16_t v) {
    std::string out;
    encode_create_topics_request(out, req, v);
    return out;
}

std::string encode(const CreateTopicsResponse& resp, int16_t v) {
    std::string out;
    encode_create_topics_response(out, resp, v);
    return out;
}

// Every proper prefix of `bytes` must fail with an error naming the API.
template <typename Decode>
void expect_truncations_fail(const std::string& bytes, Decode decode) {
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r.has_value()) << "a " << n << "-byte prefix decoded";
        EXPECT_EQ(r.error().rfind("CreateTopics v", 0), 0u) << r.error();
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

TEST(CreateTopicsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_create_topics_request(encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
    }
}

TEST(CreateTopicsCodec, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_create_topics_response(encode(sample_response(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_response()) << "v" << v;
    }
}

TEST(CreateTopicsCodec, RequestLayoutMatchesTheSchema) {
    CreateTopicsRequest req;
    req.topics.push_back({"t", 1, 1, {{0, {1}}}, {{"k", std::nullopt}}});
    req.timeout_ms = 1000;
    // topics count 4; name 2+1; num_partitions 4; replication_factor 2;
    // assignments count 4 + (partition_index 4 + broker_ids 4+4);
    // configs count 4 + (name 2+1 + null value 2); timeout_ms 4; validate_only 1.
    const size_t expected = 4 + 3 + 4 + 2 + (4 + 4 + 8) + (4 + 3 + 2) + 4 + 1;
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(req, v).size(), expected) << "v" << v;
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
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(resp, v), expected) << "v" << v;
}

TEST(CreateTopicsCodec, V4CarriesBrokerDefaults) {
    CreateTopicsRequest req;
    req.topics.push_back({"d", -1, -1, {}, {}});
    auto r = decode_create_topics_request(encode(req, 4), 4);
    ASSERT_TRUE(r.has_value()) << r.error();
    EXPECT_EQ(r->topics.at(0).num_partitions, -1);
    EXPECT_EQ(r->topics.at(0).replication_factor, -1);
}

TEST(CreateTopicsCodec, EveryTruncationFailsCleanly) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        expect_truncations_fail(encode(sample_request(), v),
                                [v](std::string_view b) { return decode_create_topics_request(b, v); });
        expect_truncations_fail(encode(sample_response(), v),
                                [v](std::string_view b) { return decode_create_topics_response(b, v); });
    }
}

TEST(CreateTopicsCodec, ErrorsNameTheField) {
    std::string bytes = encode(sample_request(), 3);
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
    std::string bytes = encode(sample_request(), kMin);
    for (int16_t v : {int16_t(kMin - 1), int16_t(kMax + 1), int16_t(-1)}) {
        auto r = decode_create_topics_request(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(decode_create_topics_response(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= kMax + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(ApiKey::create_topics), v), v >= kMin && v <= kMax) << v;
    }
}

TEST(CreateTopicsCodec, RandomBytesNeverCrash) {
    fjord::testing::SeededRng rng(19);
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
            expect_garbage_safe(bytes, v, decode_create_topics_request, encode_create_topics_request);
            expect_garbage_safe(bytes, v, decode_create_topics_response, encode_create_topics_response);
        }
    }
}

}  // namespace
}  // namespace fjord::kafka
