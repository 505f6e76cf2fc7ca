// Metadata v0-5 both ways, including the three meanings of the topic list.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/metadata_messages.h"

namespace fjord::kafka::testing {
namespace {

MetadataResponse sample() {
    MetadataResponse r;
    r.throttle_time_ms = 3;
    r.brokers = {{1, "h", 9092, "r"}};
    r.cluster_id = "c";
    r.controller_id = 1;
    r.topics = {{0, "t", true, {{0, 0, 1, 5, {1}, {1}, {2}}}}};
    return r;
}

// What a response looks like after a trip through `version`: the fields it
// lacks come back as their defaults.
MetadataResponse expected_at(MetadataResponse r, int16_t version) {
    if (version < 3) r.throttle_time_ms = 0;
    if (version < 2) r.cluster_id.reset();
    if (version < 1) r.controller_id = -1;
    for (MetadataBroker& b : r.brokers) {
        if (version < 1) b.rack.reset();
    }
    for (MetadataTopic& t : r.topics) {
        if (version < 1) t.is_internal = false;
        for (MetadataPartition& p : t.partitions) {
            if (version < 5) p.offline_replicas.clear();
            if (version < 7) p.leader_epoch = -1;
        }
    }
    return r;
}

Result<MetadataRequest, std::string> request_at(int16_t version, std::string_view bytes) {
    return decode_metadata_request(bytes, version);
}

TEST(MetadataTest, V0RequestWithOneTopicBytesAreExact) {
    std::string out;
    encode_metadata_request(out, {std::vector<std::string>{"abc"}, true}, 0);
    EXPECT_EQ(out, unhex("00000001 0003 616263"));
    auto req = request_at(0, out);
    ASSERT_TRUE(req) << req.error();
    EXPECT_EQ(req->topics, std::vector<std::string>{"abc"});
}

TEST(MetadataTest, V0EmptyListMeansAllTopics) {
    std::string out;
    encode_metadata_request(out, {std::nullopt, true}, 0);
    EXPECT_EQ(out, unhex("00000000"));
    auto req = request_at(0, out);
    ASSERT_TRUE(req) << req.error();
    EXPECT_FALSE(req->topics.has_value());
    // Null is not a v0 value.
    auto null = request_at(0, unhex("ffffffff"));
    ASSERT_FALSE(null);
    EXPECT_NE(null.error().find("topics"), std::string::npos);
}

TEST(MetadataTest, V1NullMeansAllAndEmptyMeansNone) {
    for (int16_t v = 1; v <= 3; ++v) {
        std::string all;
        encode_metadata_request(all, {std::nullopt, true}, v);
        EXPECT_EQ(all, unhex("ffffffff"));
        EXPECT_FALSE(request_at(v, all)->topics.has_value());

        std::string none;
        encode_metadata_request(none, {std::vector<std::string>{}, true}, v);
        EXPECT_EQ(none, unhex("00000000"));
        auto req = request_at(v, none);
        ASSERT_TRUE(req) << req.error();
        ASSERT_TRUE(req->topics.has_value());
        EXPECT_TRUE(req->topics->empty());
    }
}

TEST(MetadataTest, V4AddsAllowAutoTopicCreation) {
    for (int16_t v = 4; v <= 7; ++v) {
        std::string out;
        encode_metadata_request(out, {std::vector<std::string>{"abc"}, false}, v);
        EXPECT_EQ(out, unhex("00000001 0003 616263 00"));
        auto req = request_at(v, out);
        ASSERT_TRUE(req) << req.error();
        EXPECT_EQ(*req, (MetadataRequest{std::vector<std::string>{"abc"}, false}));
    }
}

TEST(MetadataTest, RequestRoundTripsAndDecodesStrictlyAtEveryVersion) {
    MetadataRequest req{std::vector<std::string>{"orders", "payments"}, false};
    for (int16_t v = 0; v <= 7; ++v) {
        std::string out;
        encode_metadata_request(out, req, v);
        auto decoded = request_at(v, out);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(decoded->topics, req.topics);
        EXPECT_EQ(decoded->allow_auto_topic_creation, v < 4 ? true : false);
        expect_strict_decoding(out, 0x3E7A + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return request_at(v, b); });
    }
}

TEST(MetadataTest, ResponseSizesFollowTheSchema) {
    // v0: brokers 4 + (4 + 3 + 4); topics 4 + (2 + 3 + 4 + partition 26).
    // v1 adds rack (3), controller_id (4) and is_internal (1); v2 cluster_id
    // (3); v3 throttle_time_ms (4); v5 offline_replicas (8); v7 leader_epoch (4).
    const size_t sizes[] = {54, 62, 65, 69, 69, 77, 77, 81};
    for (int16_t v = 0; v <= 7; ++v) {
        std::string out;
        encode_metadata_response(out, sample(), v);
        EXPECT_EQ(out.size(), sizes[v]) << "v" << v;
    }
    std::string v0;
    encode_metadata_response(v0, sample(), 0);
    EXPECT_EQ(
        v0,
        unhex("00000001 00000001 000168 00002384"
              "00000001 0000 000174 00000001 0000 00000000 00000001 00000001 00000001 00000001 00000001"));
}

TEST(MetadataTest, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = 0; v <= 7; ++v) {
        std::string out;
        encode_metadata_response(out, sample(), v);
        auto decoded = decode_metadata_response(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(sample(), v)) << "v" << v;
    }
}

TEST(MetadataTest, ResponseNullsRoundTrip) {
    MetadataResponse r = sample();
    r.brokers[0].rack.reset();
    r.cluster_id.reset();
    std::string out;
    encode_metadata_response(out, r, 7);
    EXPECT_EQ(*decode_metadata_response(out, 7), r);
}

TEST(MetadataTest, ResponseDecodingIsStrict) {
    for (int16_t v = 0; v <= 7; ++v) {
        std::string out;
        encode_metadata_response(out, sample(), v);
        expect_strict_decoding(out, 0x3E70 + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_metadata_response(b, v); });
    }
    // The replica list is not nullable.
    std::string bad =
        unhex("00000000 00000001 0000 000174 00000001 0000 00000000 00000001 ffffffff 00000000");
    auto r = decode_metadata_response(bad, 0);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("replica_nodes"), std::string::npos) << r.error();
}

TEST(MetadataTest, UnsupportedVersionsAreRefused) {
    EXPECT_EQ(request_at(8, "").error(), "Metadata v8 is not supported");
    EXPECT_FALSE(decode_metadata_response("", 9));
}

}  // namespace
}  // namespace fjord::kafka::testing
