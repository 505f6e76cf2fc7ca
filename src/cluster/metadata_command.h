// The cluster metadata's vocabulary and its JSON form: the records the
// controller keeps (nodes, topics, partition assignments), the commands that
// change them, and the codecs of both the commands (one per entry of the
// controller's Raft log) and the whole state (the controller's snapshot).
//
// The codecs are strict on purpose: every field is required, unknown fields
// and wrong types are refused. A node that silently skipped a field it does
// not know would apply the command differently from its peers; a refusal at
// least stops it loudly. Decoding never throws; errors name the field.
//
// What a command may do (validation, placement) is metadata.h's business.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace fjord::cluster {

// A cluster member and where it listens. Only rpc_addr is required; a node
// may leave the client-facing listeners it does not run empty.
struct NodeInfo {
    uint64_t id{0};
    std::string rpc_addr, kafka_addr, redis_addr, admin_addr;
    bool operator==(const NodeInfo&) const = default;
};

struct PartitionInfo {
    int32_t partition{0};
    // The partition's Raft group: unique in the cluster and never reused, so a
    // stale message for a deleted partition cannot reach a new one. The
    // controller's own group is 0.
    uint64_t group{0};
    // replicas[0] is the preferred leader.
    std::vector<uint64_t> replicas;
    bool operator==(const PartitionInfo&) const = default;
};

struct TopicInfo {
    std::string name;
    int32_t replication_factor{0};
    std::map<std::string, std::string> configs;
    std::vector<PartitionInfo> partitions;  // partitions[i].partition == i
    bool operator==(const TopicInfo&) const = default;
};

// ---------------------------------------------------------------------------
// Commands: the entries of the controller's log.

// Adds a node, or updates the addresses of a known one.
struct RegisterNode {
    NodeInfo node;
    bool operator==(const RegisterNode&) const = default;
};

// Creates a topic; the controller places its replicas (see Metadata).
struct CreateTopic {
    std::string name;
    int32_t partitions{1};
    int32_t replication_factor{1};
    std::map<std::string, std::string> configs;
    bool operator==(const CreateTopic&) const = default;
};

struct DeleteTopic {
    std::string name;
    bool operator==(const DeleteTopic&) const = default;
};

// Sets and removes topic configs (Kafka's IncrementalAlterConfigs).
struct SetTopicConfig {
    std::string name;
    std::map<std::string, std::string> set;
    std::vector<std::string> remove;
    bool operator==(const SetTopicConfig&) const = default;
};

// Raises a topic's partition count to `count` (never lowers it); the new
// partitions are placed like CreateTopic's, continuing the balance (Kafka's
// CreatePartitions).
struct AddPartitions {
    std::string name;
    int32_t count{0};
    bool operator==(const AddPartitions&) const = default;
};

// New commands go at the end: code elsewhere tests for the alternatives by
// type, but the order is the variant's index.
using MetadataCommand = std::variant<RegisterNode, CreateTopic, DeleteTopic, SetTopicConfig, AddPartitions>;

// JSON text, e.g. {"name":"t","type":"delete_topic"}. Strings that are not
// valid UTF-8 are written with U+FFFD in place of the bad bytes rather than
// throwing; validated commands never contain them.
std::string encode_command(const MetadataCommand& command);
Result<MetadataCommand, std::string> decode_command(std::string_view text);

// ---------------------------------------------------------------------------
// The whole state, as Metadata keeps it and as its snapshot carries it.

struct MetadataImage {
    std::map<uint64_t, NodeInfo> nodes;
    // By name; std::less<> finds them by string_view too.
    std::map<std::string, TopicInfo, std::less<>> topics;
    uint64_t next_group{1};  // the group of the next partition created
    uint64_t version{0};     // commands applied successfully
    bool operator==(const MetadataImage&) const = default;
};

// The codec checks the form only (types, duplicates); Metadata::restore
// checks that the content is consistent.
std::string encode_image(const MetadataImage& image);
Result<MetadataImage, std::string> decode_image(std::string_view text);

}  // namespace fjord::cluster
