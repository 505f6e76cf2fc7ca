// OffsetForLeaderEpoch v0-3 codecs: round trips (fields a version lacks come
// back as defaults), the exact layout per version, truncation, trailing
// bytes, refused nulls and versions, and random garbage.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/api.h"
#include "kafka/offset_for_leader_epoch_messages.h"
#include "kafka/wire.h"

namespace fjord::kafka::testing {
namespace {

constexpr int16_t kMin = kOffsetForLeaderEpochMinVersion;
constexpr int16_t kMax = kOffsetForLeaderEpochMaxVersion;
constexpr AdminCodecs<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> kCodecs{
    "OffsetForLeaderEpoch",
    ApiKey::offset_for_leader_epoch,
    kMin,
    kMax,
    {decode_offset_for_leader_epoch_request, encode_offset_for_leader_epoch_request},
    {decode_offset_for_leader_epoch_response, encode_offset_for_leader_epoch_response}};

OffsetForLeaderEpochRequest sample_request() {
    OffsetForLeaderEpochRequest req;
    req.replica_id = -1;
    req.topics.push_back({"orders", {{0, 5, 4}, {3, 7, 7}}});
    req.topics.push_back({"empty", {}});
    return req;
}

OffsetForLeaderEpochResponse sample_response() {
    OffsetForLeaderEpochResponse resp;
    resp.throttle_time_ms = 2;
    resp.topics.push_back({"orders", {{0, 0, 4, 1234}, {74, 3, -1, -1}}});
    resp.topics.push_back({"empty", {}});
    return resp;
}

// The messages as a decoder sees them at `v`: fields the version lacks are defaults.
OffsetForLeaderEpochRequest as_seen_at(OffsetForLeaderEpochRequest req, int16_t v) {
    if (v < 3) req.replica_id = -2;
    for (auto& t : req.topics) {
        for (auto& p : t.partitions) {
            if (v < 2) p.current_leader_epoch = -1;
        }
    }
    return req;
}

OffsetForLeaderEpochResponse as_seen_at(OffsetForLeaderEpochResponse resp, int16_t v) {
    if (v < 2) resp.throttle_time_ms = 0;
    for (auto& t : resp.topics) {
        for (auto& p : t.partitions) {
            if (v < 1) p.leader_epoch = -1;
        }
    }
    return resp;
}

TEST(OffsetForLeaderEpochCodec, RequestRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_request(), [](auto m, int16_t v) { return as_seen_at(m, v); });
}

TEST(OffsetForLeaderEpochCodec, ResponseRoundTripsAtEveryVersion) {
    expect_round_trips(kCodecs, sample_response(), [](auto m, int16_t v) { return as_seen_at(m, v); });
}

TEST(OffsetForLeaderEpochCodec, RequestLayoutPerVersionMatchesTheSchema) {
    OffsetForLeaderEpochRequest req{-1, {{"t", {{0, 5, 4}}}}};
    // topics count 4; "t" 2+1; partitions count 4; partition 4; leader_epoch 4;
    // then current_leader_epoch 4 from v2 and replica_id 4 from v3.
    const size_t v0 = 4 + 3 + 4 + 4 + 4;
    const size_t expected[] = {v0, v0, v0 + 4, v0 + 8};
    for (int16_t v = kMin; v <= kMax; ++v) EXPECT_EQ(kCodecs.encode(req, v).size(), expected[v]) << "v" << v;
    // v3 starts with replica_id -1; v2 puts current_leader_epoch before leader_epoch.
    EXPECT_EQ(kCodecs.encode(req, 3).substr(0, 4), std::string("\xff\xff\xff\xff", 4));
    EXPECT_EQ(kCodecs.encode(req, 2).substr(v0 - 8), std::string("\0\0\0\0\0\0\0\5\0\0\0\4", 12));
}

TEST(OffsetForLeaderEpochCodec, ResponseBytesPerVersionMatchTheSchema) {
    OffsetForLeaderEpochResponse resp{9, {{"t", {{0, 1, 4, 0x0102030405060708}}}}};
    // topics count 1, "t", partitions count 1, error_code 0, partition 1,
    // [leader_epoch 4 from v1], end_offset; v2 and v3 start with throttle_time_ms 9.
    const std::string head(
        "\0\0\0\1"
        "\0\1t"
        "\0\0\0\1"
        "\0\0"
        "\0\0\0\1",
        17);
    const std::string epoch("\0\0\0\4", 4);
    const std::string end("\1\2\3\4\5\6\7\x08", 8);
    const std::string throttle("\0\0\0\x09", 4);
    EXPECT_EQ(kCodecs.encode(resp, 0), head + end);
    EXPECT_EQ(kCodecs.encode(resp, 1), head + epoch + end);
    EXPECT_EQ(kCodecs.encode(resp, 2), throttle + head + epoch + end);
    EXPECT_EQ(kCodecs.encode(resp, 3), throttle + head + epoch + end);
}

TEST(OffsetForLeaderEpochCodec, EveryTruncationFailsCleanly) {
    expect_every_truncation_fails(kCodecs, sample_request(), sample_response());
}

TEST(OffsetForLeaderEpochCodec, ErrorsNameTheField) {
    OffsetForLeaderEpochRequest req{-1, {{"orders", {{0, 5, 4}}}}};
    std::string bytes = kCodecs.encode(req, 2);
    // Cut inside the topic name: topics count, name length, 4 of its 6 bytes.
    auto r = decode_offset_for_leader_epoch_request(std::string_view(bytes).substr(0, 4 + 2 + 4), 2);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(), "OffsetForLeaderEpoch v2 request: topics.topic: needs 6 bytes, 4 left");

    // Partitions have a fixed size, so a cut inside one fails the array bound.
    r = decode_offset_for_leader_epoch_request(std::string_view(bytes).substr(0, bytes.size() - 3), 2);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(
        r.error(),
        "OffsetForLeaderEpoch v2 request: topics.partitions: array length 1 does not fit the 9 bytes left");

    // A v3 body read as v2 does not parse: its replica_id -1 reads as a null topics array.
    r = decode_offset_for_leader_epoch_request(kCodecs.encode(req, 3), 2);
    ASSERT_FALSE(r.has_value());

    // A partition count the bytes left cannot hold is refused before allocating.
    bytes = std::string("\0\0\0\1\0\1t\x7f\xff\xff\xff", 11);
    r = decode_offset_for_leader_epoch_request(bytes, 0);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error(),
              "OffsetForLeaderEpoch v0 request: topics.partitions: "
              "array length 2147483647 does not fit the 0 bytes left");
}

TEST(OffsetForLeaderEpochCodec, RefusesNullsTheSchemaForbids) {
    std::string bytes;
    Writer w(bytes);
    w.i32(0);    // throttle_time_ms
    w.array(1);  // topics
    w.string("t");
    w.null_array();  // partitions
    auto r = decode_offset_for_leader_epoch_response(bytes, 2);
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().find("topics.partitions: null"), std::string::npos) << r.error();
}

TEST(OffsetForLeaderEpochCodec, RefusesVersionsOutsideTheRange) {
    expect_versions_outside_refused(kCodecs, sample_request());
}

TEST(OffsetForLeaderEpochCodec, RandomBytesNeverCrash) {
    expect_random_bytes_refused_or_stable(kCodecs, 23, kMax, sample_request(), sample_response());
}

}  // namespace
}  // namespace fjord::kafka::testing
