// Fetch v4-11 both ways, and FetchResponseWriter, which writes records into
// the output buffer without an intermediate copy.
#include <gtest/gtest.h>

#include "codec_checks.h"
#include "kafka/fetch_messages.h"

namespace fjord::kafka::testing {
namespace {

FetchRequest sample_request() {
    FetchRequest r;
    r.replica_id = -1;
    r.max_wait_ms = 500;
    r.min_bytes = 1;
    r.max_bytes = 52428800;
    r.isolation_level = 1;
    r.session_id = 0;
    r.session_epoch = -1;
    r.topics = {{"t", {{0, 3, 42, 6, 1048576}}}};
    r.forgotten_topics_data = {{"f", {1, 2}}};
    r.rack_id = "r";
    return r;
}

FetchRequest expected_at(FetchRequest r, int16_t version) {
    if (version < 7) {
        r.session_id = 0;
        r.session_epoch = -1;
        r.forgotten_topics_data.clear();
    }
    if (version < 11) r.rack_id.clear();
    for (FetchTopic& t : r.topics) {
        for (FetchPartition& p : t.partitions) {
            if (version < 9) p.current_leader_epoch = -1;
            if (version < 5) p.log_start_offset = -1;
        }
    }
    return r;
}

FetchPartitionResponse sample_partition() {
    FetchPartitionResponse p;
    p.partition_index = 0;
    p.high_watermark = 10;
    p.last_stable_offset = 10;
    p.log_start_offset = 0;
    p.preferred_read_replica = 2;
    p.records = std::string_view("ABCD");
    return p;
}

FetchResponse sample_response() {
    FetchResponse r;
    r.throttle_time_ms = 1;
    r.error_code = 0;
    r.session_id = 5;
    r.responses = {{"t", {sample_partition()}}};
    return r;
}

FetchResponse expected_at(FetchResponse r, int16_t version) {
    if (version < 7) r.session_id = 0;
    for (FetchTopicResponse& t : r.responses) {
        for (FetchPartitionResponse& p : t.partitions) {
            if (version < 5) p.log_start_offset = -1;
            if (version < 11) p.preferred_read_replica = -1;
        }
    }
    return r;
}

TEST(FetchTest, RequestSizesFollowTheSchema) {
    // v4: five top-level fields (17) and one topic (4 + 3 + 4 + 16). v5 adds
    // log_start_offset (8); v7 the session (8) and forgotten topics
    // (4 + 3 + 4 + 8); v9 current_leader_epoch (4); v11 rack_id (3).
    const size_t sizes[] = {44, 52, 52, 79, 79, 83, 83, 86};
    for (int16_t v = 4; v <= 11; ++v) {
        std::string out;
        encode_fetch_request(out, sample_request(), v);
        EXPECT_EQ(out.size(), sizes[v - 4]) << "v" << v;
    }
    std::string v4;
    encode_fetch_request(v4, sample_request(), 4);
    EXPECT_EQ(v4, unhex("ffffffff 000001f4 00000001 03200000 01"
                        "00000001 0001 74 00000001 00000000 000000000000002a 00100000"));
}

TEST(FetchTest, RequestRoundTripsAndDecodesStrictlyAtEveryVersion) {
    for (int16_t v = 4; v <= 11; ++v) {
        std::string out;
        encode_fetch_request(out, sample_request(), v);
        auto decoded = decode_fetch_request(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(sample_request(), v)) << "v" << v;
        expect_strict_decoding(out, 0xFE7C + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_fetch_request(b, v); });
    }
}

TEST(FetchTest, ResponseSizesFollowTheSchema) {
    // v4: throttle (4) and one topic (4 + 3 + 4) with one partition
    // (4 + 2 + 8 + 8 + aborted 4 + records 4 + 4). v5 adds log_start_offset
    // (8), v7 error_code and session_id (6), v11 preferred_read_replica (4).
    const size_t sizes[] = {49, 57, 57, 63, 63, 63, 63, 67};
    for (int16_t v = 4; v <= 11; ++v) {
        std::string out;
        encode_fetch_response(out, sample_response(), v);
        EXPECT_EQ(out.size(), sizes[v - 4]) << "v" << v;
    }
    std::string v4;
    encode_fetch_response(v4, sample_response(), 4);
    EXPECT_EQ(v4, unhex("00000001 00000001 0001 74 00000001"
                        "00000000 0000 000000000000000a 000000000000000a 00000000 00000004 41424344"));
}

TEST(FetchTest, ResponseRoundTripsAtEveryVersion) {
    for (int16_t v = 4; v <= 11; ++v) {
        FetchResponse resp = sample_response();
        FetchPartitionResponse aborted = sample_partition();
        aborted.partition_index = 1;
        aborted.error_code = 1;
        aborted.aborted_transactions = {{{7, 100}, {8, 200}}};
        aborted.records.reset();
        FetchPartitionResponse null_aborted = sample_partition();
        null_aborted.partition_index = 2;
        null_aborted.aborted_transactions.reset();
        resp.responses[0].partitions.push_back(aborted);
        resp.responses[0].partitions.push_back(null_aborted);
        resp.responses.push_back({"empty", {}});

        std::string out;
        encode_fetch_response(out, resp, v);
        auto decoded = decode_fetch_response(out, v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(resp, v)) << "v" << v;
        // Decoded records view the response body.
        EXPECT_GE(decoded->responses[0].partitions[0].records->data(), out.data());
        EXPECT_LT(decoded->responses[0].partitions[0].records->data(), out.data() + out.size());
    }
}

TEST(FetchTest, ResponseDecodingIsStrict) {
    for (int16_t v = 4; v <= 11; ++v) {
        std::string out;
        encode_fetch_response(out, sample_response(), v);
        expect_strict_decoding(out, 0xFE7D + static_cast<uint64_t>(v),
                               [v](std::string_view b) { return decode_fetch_response(b, v); });
    }
    // Records claiming more bytes than are left name the field.
    auto r = decode_fetch_response(
        unhex("00000000 00000001 0001 74 00000001"
              "00000000 0000 000000000000000a 000000000000000a 00000000 00000064 41424344"),
        4);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().find("records"), std::string::npos) << r.error();
}

TEST(FetchTest, WriterStreamsRecordsInPlace) {
    // The broker's way: records are appended straight to the output, in
    // pieces, after the partition's fields; the result matches the one-shot
    // encoder, counts and lengths included.
    for (int16_t v = 4; v <= 11; ++v) {
        FetchPartitionResponse first = sample_partition();
        first.records = std::string_view("batch-1batch-2");
        FetchPartitionResponse second = sample_partition();
        second.partition_index = 1;
        second.records = std::string_view();
        FetchResponse expected;
        expected.responses = {{"a", {first, second}}, {"b", {first}}};

        std::string streamed = "FRAME";  // a frame header the writer must keep
        FetchResponseWriter w(streamed, v);
        w.begin_topic("a");
        std::string& buffer = w.begin_partition(first);
        buffer.append("batch-1");
        buffer.append("batch-2");
        w.end_partition();
        w.begin_partition(second);
        w.end_partition();
        w.begin_topic("b");
        w.add_partition(first);

        std::string one_shot = "FRAME";
        encode_fetch_response(one_shot, expected, v);
        EXPECT_EQ(streamed, one_shot) << "v" << v;
        auto decoded = decode_fetch_response(std::string_view(streamed).substr(5), v);
        ASSERT_TRUE(decoded) << decoded.error();
        EXPECT_EQ(*decoded, expected_at(expected, v));
    }
}

TEST(FetchTest, UnsupportedVersionsAreRefused) {
    EXPECT_EQ(decode_fetch_request("", 3).error(), "Fetch v3 is not supported");
    EXPECT_FALSE(decode_fetch_request("", 12));
    EXPECT_FALSE(decode_fetch_response("", 12));
}

}  // namespace
}  // namespace fjord::kafka::testing
