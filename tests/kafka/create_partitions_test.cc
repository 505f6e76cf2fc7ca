// CreatePartitions v0-1 codecs: round trips, the exact layout, truncation,
// trailing bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "kafka/api.h"
#include "kafka/create_partitions_messages.h"
#include "kafka/wire.h"
#include "seeded_rng.h"

namespace fjord::kafka {
namespace {

constexpr int16_t kMin = kCreatePartitionsMinVersion;
constexpr int16_t kMax = kCreatePartitionsMaxVersion;

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

std::string encode(const CreatePartitionsRequest& req, int16_t v) {
    std::string out;
    encode_create_partitions_request(out, req, v);
    return out;
}

std::string encode(const CreatePartitionsResponse& resp, int16_t v) {
    std::string out;
    encode_create_partitions_response(out, resp, v);
    return out;
}

// Every proper prefix of `bytes` must fail with an error naming the API.
template <typename Decode>
void expect_truncations_fail(const std::string& bytes, Decode decode) {
    for (size_t n = 0; n < bytes.size(); ++n) {
        auto r = decode(std::string_view(bytes).substr(0, n));
        ASSERT_FALSE(r.has_value()) << "a " << n << "-byte prefix decoded";
        EXPECT_EQ(r.error().rfind("CreatePartitions v", 0), 0u) << r.error();
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

TEST(CreatePartitionsCodec, RequestRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_create_partitions_request(encode(sample_request(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_request()) << "v" << v;
        // Null and empty assignments stay apart.
        EXPECT_FALSE(r->topics.at(0).assignments.has_value());
        EXPECT_TRUE(r->topics.at(2).assignments.has_value());
    }
}

TEST(CreatePartitionsCodec, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        auto r = decode_create_partitions_response(encode(sample_response(), v), v);
        ASSERT_TRUE(r.has_value()) << "v" << v << ": " << r.error();
        EXPECT_TRUE(r.value() == sample_response()) << "v" << v;
    }
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
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(req, v).size(), expected) << "v" << v;
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
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(encode(resp, v), expected) << "v" << v;
}

TEST(CreatePartitionsCodec, EveryTruncationFailsCleanly) {
    for (int16_t v = kMin; v <= kMax; ++v) {
        expect_truncations_fail(encode(sample_request(), v),
                                [v](std::string_view b) { return decode_create_partitions_request(b, v); });
        expect_truncations_fail(encode(sample_response(), v),
                                [v](std::string_view b) { return decode_create_partitions_response(b, v); });
    }
}

TEST(CreatePartitionsCodec, ErrorsNameTheField) {
    std::string bytes = encode(sample_request(), 0);
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
    std::string bytes = encode(sample_request(), kMin);
    for (int16_t v : {int16_t(kMin - 1), int16_t(kMax + 1)}) {
        auto r = decode_create_partitions_request(bytes, v);
        ASSERT_FALSE(r.has_value());
        EXPECT_NE(r.error().find("not supported"), std::string::npos) << r.error();
        EXPECT_FALSE(decode_create_partitions_response(bytes, v).has_value());
    }
    for (int16_t v = -1; v <= kMax + 2; ++v) {
        EXPECT_EQ(supported(static_cast<int16_t>(ApiKey::create_partitions), v), v >= kMin && v <= kMax) << v;
    }
}

TEST(CreatePartitionsCodec, RandomBytesNeverCrash) {
    fjord::testing::SeededRng rng(37);
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
            expect_garbage_safe(bytes, v, decode_create_partitions_request, encode_create_partitions_request);
            expect_garbage_safe(bytes, v, decode_create_partitions_response,
                                encode_create_partitions_response);
        }
    }
}

}  // namespace
}  // namespace fjord::kafka
