// ListOffsets (key 2) in versions 1-3: an offset by timestamp, where -2 asks
// for the log start and -1 for the end. Clients use it to reset a position.
//
//   request  replica_id, isolation_level (v2+),
//            topics [name, partitions [partition_index, timestamp]]
//   response throttle_time_ms (v2+),
//            topics [name, partitions [partition_index, error_code,
//                                      timestamp, offset]]
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

struct ListOffsetsPartition {
    int32_t partition_index{0};
    int64_t timestamp{-1};
    bool operator==(const ListOffsetsPartition&) const = default;
};

struct ListOffsetsTopic {
    std::string name;
    std::vector<ListOffsetsPartition> partitions;
    bool operator==(const ListOffsetsTopic&) const = default;
};

struct ListOffsetsRequest {
    int32_t replica_id{-1};     // -1 for a consumer
    int8_t isolation_level{0};  // v2+; 0 read_uncommitted, 1 read_committed
    std::vector<ListOffsetsTopic> topics;
    bool operator==(const ListOffsetsRequest&) const = default;
};

struct ListOffsetsPartitionResponse {
    int32_t partition_index{0};
    int16_t error_code{0};
    int64_t timestamp{-1};
    int64_t offset{-1};
    bool operator==(const ListOffsetsPartitionResponse&) const = default;
};

struct ListOffsetsTopicResponse {
    std::string name;
    std::vector<ListOffsetsPartitionResponse> partitions;
    bool operator==(const ListOffsetsTopicResponse&) const = default;
};

struct ListOffsetsResponse {
    int32_t throttle_time_ms{0};  // v2+
    std::vector<ListOffsetsTopicResponse> topics;
    bool operator==(const ListOffsetsResponse&) const = default;
};

Result<ListOffsetsRequest, std::string> decode_list_offsets_request(std::string_view body, int16_t version);
void encode_list_offsets_request(std::string& out, const ListOffsetsRequest& request, int16_t version);
void encode_list_offsets_response(std::string& out, const ListOffsetsResponse& response, int16_t version);
Result<ListOffsetsResponse, std::string> decode_list_offsets_response(std::string_view body, int16_t version);

}  // namespace fjord::kafka
