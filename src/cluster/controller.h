// The controller's state machine: the cluster metadata (cluster/metadata.h),
// rebuilt on every node by applying the commands committed in the
// controller's Raft group (group 0) in order. Each command is one record of a
// Kafka record batch, its value the command's JSON. Its image is the
// metadata's JSON snapshot, so the controller's log is compacted like a
// key-value shard's.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "cluster/metadata.h"
#include "cluster/replica.h"

namespace fjord::cluster {

inline constexpr uint64_t kControllerGroup = 0;
inline constexpr const char* kControllerTopic = "__controller";
// The key-value store's shards: one partition each (kv/).
inline constexpr const char* kKvTopic = "__kv";

class Controller final : public StateMachine {
  public:
    // `on_change` runs after every command that changed the metadata.
    explicit Controller(std::function<void()> on_change) : _on_change(std::move(on_change)) {}

    void apply(const raft::Entry& entry) override;
    bool has_image() const override { return true; }
    std::string image() const override { return _metadata.snapshot(); }
    bool restore(std::string_view image) override;
    const Metadata& metadata() const { return _metadata; }

    // The outcome of the command committed at Raft index `index`, for the
    // node that proposed it; taken once.
    std::optional<Result<Ok, MetadataError>> take_outcome(uint64_t index);

    // The record batch that carries `command` in the controller's log.
    static std::string encode_entry(const MetadataCommand& command, int64_t now_ms);

  private:
    Metadata _metadata;
    std::function<void()> _on_change;
    // Outcomes of the latest commands; bounded, since only a waiting proposer reads them.
    std::map<uint64_t, Result<Ok, MetadataError>> _outcomes;
};

}  // namespace fjord::cluster
