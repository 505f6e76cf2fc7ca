// The controller's state machine: the cluster metadata (nodes, topics, their
// partitions' replicas and Raft groups, topic configs), changed only by
// commands committed in the controller's Raft log.
//
// Every node applies the same commands in the same order and must reach the
// same state, so everything here is deterministic: no clocks, no randomness,
// only ordered containers, and placement computed from the state alone.
//
// Rules (Kafka's where Kafka has one):
//   - topic names: 1..249 characters of [a-zA-Z0-9._-], not "." or "..";
//   - partitions: 1..10000, and a topic's count only ever grows;
//   - replication factor: 1..registered nodes;
//   - configs: a fixed set of keys with typed values (see metadata.cc);
//   - a node needs an id > 0 and an rpc address; addresses are printable ASCII;
//   - each partition gets the next Raft group id from a counter kept in the
//     state, starting at 1 and never reused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "cluster/metadata_command.h"
#include "common/result.h"

namespace fjord::cluster {

enum class MetadataErrc : uint8_t {
    topic_exists,
    unknown_topic,
    invalid_topic_name,
    invalid_partitions,
    invalid_replication_factor,
    invalid_config,
    invalid_node,
};

std::string_view to_string(MetadataErrc code);

struct MetadataError {
    MetadataErrc code;
    std::string detail;  // names the topic, key or value, e.g. "replication factor 4 exceeds ..."
    bool operator==(const MetadataError&) const = default;
};

// Limits of CreateTopic and AddPartitions.
inline constexpr int32_t kMaxPartitions = 10000;
inline constexpr size_t kMaxTopicNameLength = 249;

class Metadata {
  public:
    // What apply() would refuse, without changing anything: the leader checks
    // a command before proposing it, so that refusals reach the client and
    // only commands that will apply enter the log.
    Result<Ok, MetadataError> check(const MetadataCommand& command) const;
    // Refuses exactly what check() refuses, and then changes nothing.
    Result<Ok, MetadataError> apply(const MetadataCommand& command);

    const std::map<uint64_t, NodeInfo>& nodes() const { return _image.nodes; }
    const std::map<std::string, TopicInfo, std::less<>>& topics() const { return _image.topics; }
    const TopicInfo* topic(std::string_view name) const;
    const PartitionInfo* partition(std::string_view topic, int32_t p) const;
    // The (topic, partition) whose Raft group is `group`.
    std::optional<std::pair<std::string, int32_t>> locate_group(uint64_t group) const;

    // The whole state as JSON text, and back. restore() refuses an image that
    // is malformed or inconsistent (e.g. a replica on an unknown node).
    std::string snapshot() const;
    static Result<Metadata, std::string> restore(std::string_view image);

    // Commands applied successfully: a watcher that saw version v has seen
    // everything until it changes.
    uint64_t version() const { return _image.version; }
    // The group the next partition created will get.
    uint64_t next_group() const { return _image.next_group; }

  private:
    void apply_checked(const RegisterNode& c);
    void apply_checked(const CreateTopic& c);
    void apply_checked(const DeleteTopic& c);
    void apply_checked(const SetTopicConfig& c);
    void apply_checked(const AddPartitions& c);

    MetadataImage _image;
    // group -> (topic, partition), derived from _image.topics.
    std::map<uint64_t, std::pair<std::string, int32_t>> _groups;
};

}  // namespace fjord::cluster
