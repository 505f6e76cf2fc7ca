// Produce (key 0) in versions 3-7, the ones that carry record batch v2 (the
// request body is the same in all of them):
//
//   request  transactional_id (nullable), acks, timeout_ms,
//            topics [name, partitions [index, records (nullable bytes)]]
//   response responses [name, partitions [index, error_code, base_offset,
//                                         log_append_time_ms,
//                                         log_start_offset (v5+)]],
//            throttle_time_ms
//
// The record bytes are not copied: a decoded request's `records` views the
// body it was decoded from, which must outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

struct ProducePartitionData {
    int32_t index{0};
    std::optional<std::string_view> records;  // views the request buffer
    bool operator==(const ProducePartitionData&) const = default;
};

struct ProduceTopicData {
    std::string name;
    std::vector<ProducePartitionData> partitions;
    bool operator==(const ProduceTopicData&) const = default;
};

struct ProduceRequest {
    std::optional<std::string> transactional_id;
    int16_t acks{-1};
    int32_t timeout_ms{0};
    std::vector<ProduceTopicData> topics;
    bool operator==(const ProduceRequest&) const = default;
};

struct ProducePartitionResponse {
    int32_t index{0};
    int16_t error_code{0};
    int64_t base_offset{-1};
    int64_t log_append_time_ms{-1};  // -1 for CreateTime topics
    int64_t log_start_offset{-1};    // v5+
    bool operator==(const ProducePartitionResponse&) const = default;
};

struct ProduceTopicResponse {
    std::string name;
    std::vector<ProducePartitionResponse> partitions;
    bool operator==(const ProduceTopicResponse&) const = default;
};

struct ProduceResponse {
    std::vector<ProduceTopicResponse> responses;
    int32_t throttle_time_ms{0};
    bool operator==(const ProduceResponse&) const = default;
};

Result<ProduceRequest, std::string> decode_produce_request(std::string_view body, int16_t version);
void encode_produce_request(std::string& out, const ProduceRequest& request, int16_t version);
void encode_produce_response(std::string& out, const ProduceResponse& response, int16_t version);
Result<ProduceResponse, std::string> decode_produce_response(std::string_view body, int16_t version);

}  // namespace fjord::kafka
