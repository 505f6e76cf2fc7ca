// Metadata (key 3) in versions 0-7: which brokers exist and who leads each
// partition. Clients route every Produce and Fetch by its answer.
//
//   request  topics [name]; allow_auto_topic_creation (v4+)
//   response throttle_time_ms (v3+);
//            brokers [node_id, host, port, rack (v1+, nullable)];
//            cluster_id (v2+, nullable); controller_id (v1+);
//            topics [error_code, name, is_internal (v1+),
//                    partitions [error_code, partition_index, leader_id,
//                                leader_epoch (v7+), replica_nodes, isr_nodes,
//                                offline_replicas (v5+)]]
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::kafka {

struct MetadataRequest {
    // nullopt asks for every topic. On the wire that is an empty array in v0
    // and a null one from v1, where an empty array asks for none (brokers
    // only). So an empty list cannot be sent at v0: it encodes as "all".
    std::optional<std::vector<std::string>> topics;
    bool allow_auto_topic_creation{true};  // v4+; earlier versions mean true
    bool operator==(const MetadataRequest&) const = default;
};

struct MetadataBroker {
    int32_t node_id{0};
    std::string host;
    int32_t port{0};
    std::optional<std::string> rack;  // v1+
    bool operator==(const MetadataBroker&) const = default;
};

struct MetadataPartition {
    int16_t error_code{0};
    int32_t partition_index{0};
    int32_t leader_id{-1};
    int32_t leader_epoch{-1};  // v7+: the leader's Raft term
    std::vector<int32_t> replica_nodes;
    std::vector<int32_t> isr_nodes;
    std::vector<int32_t> offline_replicas;  // v5+
    bool operator==(const MetadataPartition&) const = default;
};

struct MetadataTopic {
    int16_t error_code{0};
    std::string name;
    bool is_internal{false};  // v1+
    std::vector<MetadataPartition> partitions;
    bool operator==(const MetadataTopic&) const = default;
};

struct MetadataResponse {
    int32_t throttle_time_ms{0};  // v3+
    std::vector<MetadataBroker> brokers;
    std::optional<std::string> cluster_id;  // v2+
    int32_t controller_id{-1};              // v1+
    std::vector<MetadataTopic> topics;
    bool operator==(const MetadataResponse&) const = default;
};

Result<MetadataRequest, std::string> decode_metadata_request(std::string_view body, int16_t version);
void encode_metadata_request(std::string& out, const MetadataRequest& request, int16_t version);
void encode_metadata_response(std::string& out, const MetadataResponse& response, int16_t version);
Result<MetadataResponse, std::string> decode_metadata_response(std::string_view body, int16_t version);

}  // namespace fjord::kafka
