// DeleteTopics v0-1 codecs: round trips, the exact layout per version,
// truncation, trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "kafka/api.h"
#include "kafka/delete_topics_messages.h"
#include "kafka/wire.h"
#include "seeded_rng.h"

namespace fjord::kafka {
namespace {

constexpr int16_t kMin = kDeleteTopicsMinVersion;
constexpr int16_t kMax = kDeleteTopicsMaxVersion;

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

std::string encode(const DeleteTopicsRequest& req, int16_t v) {
    std::string out;
    encode_delete_topics_request(out, req, v);
    return out;
}

std::string encode(const DeleteTopicsResponse& resp, int16_t v) {
    std::string out;
    encode_delete_topics_response(out, resp, v);
    return out;
}

// Every proper prefix of `bytes` must fail with an error naming the API.
template <typename Decode>
void expect_truncations_fail(const std::string& bytes, Decode decode) {
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r.has_value()) << "a " << n << "-byte prefix decoded";
        EXPECT_EQ(r.error().rfind("DeleteTopics v", 0), 0u) << r.error();
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

TEST(DeleteTopicsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_delete_topics_request(encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
    }
}

TEST(DeleteTopicsCodec, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_delete_topics_response(encode(sample_response(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == as_seen_at(sample_response(), v)) << "v" << v;
    }
}

TEST(DeleteTopicsCodec, RequestLayoutMatchesTheSchema) {
    // topic_names count 4; "a" 2+1; "bc" 2+2; timeout_ms 4.
    DeleteTopicsRequest req{{"a", "bc"}, 5000};
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(req, v).size(), 4u + 3 + 4 + 4) << "v" << v;
}

TEST(DeleteTopicsCodec, ResponseBytesMatchTheSchemaPerVersion) {
    DeleteTopicsResponse resp{9, {{"t", 3}}};
    // responses count 1, name "t", error_code 3; v1 starts with throttle_time_ms 9.
    const std::string v0(
        "\0\0\0\1"
        "\0\1t"
        "\0\3",
        9);
    EXPECT_EQ(encode(resp, 0), v0);
    EXPECT_EQ(encode(resp, 1), std::string("\0\0\0\x09", 4) + v0);
}

TEST(DeleteTopicsCodec, EveryTruncationFailsCleanly) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        expect_truncations_fail(encode(sample_request(), v),
                                [v](std::string_view b) { return decode_delete_topics_request(b, v); });
        expect_truncations_fail(encode(sample_response(), v),
                                [v](std::string_view b) { return decode_delete_topics_response(b, v); });
    }
}

TEST(DeleteTopicsCodec, ErrorsNameTheField) {
    std::string bytes = encode(sample_request(), 1);
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
    std::string bytes = encode(sample_request(), kMin);
    for (int16_t v : {int16_t(kMin - 1), int16_t(kMax + 1)}) {
        auto r = decode_delete_topics_request(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(decode_delete_topics_response(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= kMax + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(ApiKey::delete_topics), v), v >= kMin && v <= kMax) << v;
    }
}

TEST(DeleteTopicsCodec, RandomBytesNeverCrash) {
    fjord::testing::SeededRng rng(20);
    const std::string valid[] = {encode(sample_request(), kMax), encode(sample_response(), kMax)};
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
            expect_garbage_safe(bytes, v, decode_delete_topics_request, encode_delete_topics_request);
            expect_garbage_safe(bytes, v, decode_delete_topics_response, encode_delete_topics_response);
        }
    }
}

}  // namespace
}  // namespace fjord::kafka
