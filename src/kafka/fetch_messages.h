// Fetch (key 1) in versions 4-11, the classic ones that carry record batch v2:
//
//   request  replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level,
//            session_id (v7+), session_epoch (v7+),
//            topics [topic, partitions [partition, current_leader_epoch (v9+),
//                                       fetch_offset, log_start_offset (v5+),
//                                       partition_max_bytes]],
//            forgotten_topics_data (v7+) [topic, partitions [int32]],
//            rack_id (v11+)
//   response throttle_time_ms, error_code (v7+), session_id (v7+),
//            responses [topic, partitions [partition_index, error_code,
//                 high_watermark, last_stable_offset, log_start_offset (v5+),
//                 aborted_transactions (nullable) [producer_id, first_offset],
//                 preferred_read_replica (v11+), records (nullable bytes)]]
//
// Record bytes dominate a Fetch response, so they are never copied except
// into the output: FetchResponseWriter appends a partition's records to the
// output buffer once, or lets the caller write them there in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

struct FetchPartition {
    int32_t partition{0};
    int32_t current_leader_epoch{-1};  // v9+
    int64_t fetch_offset{0};
    int64_t log_start_offset{-1};  // v5+; only followers send it
    int32_t partition_max_bytes{0};
    bool operator==(const FetchPartition&) const = default;
};

struct FetchTopic {
    std::string topic;
    std::vector<FetchPartition> partitions;
    bool operator==(const FetchTopic&) const = default;
};

// An incremental fetch session's partitions to drop.
struct FetchForgottenTopic {
    std::string topic;
    std::vector<int32_t> partitions;
    bool operator==(const FetchForgottenTopic&) const = default;
};

struct FetchRequest {
    int32_t replica_id{-1};  // -1 for a consumer
    int32_t max_wait_ms{0};
    int32_t min_bytes{0};
    int32_t max_bytes{0x7fffffff};
    int8_t isolation_level{0};  // 0 read_uncommitted, 1 read_committed
    int32_t session_id{0};      // v7+
    int32_t session_epoch{-1};  // v7+; -1 with session 0 means no session
    std::vector<FetchTopic> topics;
    std::vector<FetchForgottenTopic> forgotten_topics_data;  // v7+
    std::string rack_id;                                     // v11+
    bool operator==(const FetchRequest&) const = default;
};

struct FetchAbortedTransaction {
    int64_t producer_id{0};
    int64_t first_offset{0};
    bool operator==(const FetchAbortedTransaction&) const = default;
};

struct FetchPartitionResponse {
    int32_t partition_index{0};
    int16_t error_code{0};
    int64_t high_watermark{-1};
    int64_t last_stable_offset{-1};
    int64_t log_start_offset{-1};  // v5+
    // Empty without transactions; null is also valid on the wire.
    std::optional<std::vector<FetchAbortedTransaction>> aborted_transactions{std::in_place};
    int32_t preferred_read_replica{-1};  // v11+
    // Not owned: views the caller's batches, or the decoded response body.
    std::optional<std::string_view> records;
    bool operator==(const FetchPartitionResponse&) const = default;
};

struct FetchTopicResponse {
    std::string topic;
    std::vector<FetchPartitionResponse> partitions;
    bool operator==(const FetchTopicResponse&) const = default;
};

struct FetchResponse {
    int32_t throttle_time_ms{0};
    int16_t error_code{0};  // v7+
    int32_t session_id{0};  // v7+; 0 when there is no session
    std::vector<FetchTopicResponse> responses;
    bool operator==(const FetchResponse&) const = default;
};

Result<FetchRequest, std::string> decode_fetch_request(std::string_view body, int16_t version);
void encode_fetch_request(std::string& out, const FetchRequest& request, int16_t version);
// Appends each partition's records to `out` directly (see FetchResponseWriter).
void encode_fetch_response(std::string& out, const FetchResponse& response, int16_t version);
// The decoded records view `body`, which must outlive the response.
Result<FetchResponse, std::string> decode_fetch_response(std::string_view body, int16_t version);

// Appends a Fetch response body to `out` topic by topic and partition by
// partition, filling in the array counts as it goes, so that the broker can
// write record batches straight into its outgoing buffer:
//
//   FetchResponseWriter w(out, version);
//   w.begin_topic("t");
//   w.add_partition(p);            // appends p.records once, or
//   w.begin_partition(p);          // then append records to out yourself
//   w.end_partition();             // fills in their length
//
// `out` must not be modified otherwise until the last partition ends.
class FetchResponseWriter {
  public:
    // Writes the top-level fields; the responses follow.
    FetchResponseWriter(std::string& out, int16_t version, int32_t throttle_time_ms = 0,
                        int16_t error_code = 0, int32_t session_id = 0);

    void begin_topic(std::string_view topic);
    // Writes all of `p`, including its records (or null records).
    void add_partition(const FetchPartitionResponse& p);
    // Writes `p`'s fields up to its records, whose bytes the caller appends
    // to the returned buffer (`p.records` is ignored) before end_partition().
    std::string& begin_partition(const FetchPartitionResponse& p);
    void end_partition();

  private:
    // Writes `p`'s fields that precede its records.
    void write_partition_fields(const FetchPartitionResponse& p);
    void bump_count(size_t at);

    std::string& _out;
    int16_t _version;
    size_t _topic_count_at;
    size_t _partition_count_at{0};
    size_t _records_length_at{0};
    bool _in_topic{false};
    bool _in_partition{false};
};

}  // namespace fjord::kafka
