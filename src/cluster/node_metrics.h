// A node's Prometheus metrics (prometheus-cpp stays inside node_metrics.cc).
// Counters and histograms are recorded as events happen; gauges that describe
// the current state (terms, indexes, lag) are taken from a snapshot of it at
// each scrape, so a partition that moved away leaves no stale series behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fjord::cluster {

struct PartitionGauges {
    std::string topic;
    int32_t partition{0};
    uint64_t term{0};
    int64_t commit_index{0};
    int64_t applied_index{0};
    bool leader{false};
    std::vector<std::pair<uint64_t, int64_t>> follower_lag;  // (follower, entries behind), leaders only
};

struct NodeGauges {
    uint64_t rpc_bytes_sent{0};
    uint64_t rpc_bytes_received{0};
    uint64_t rpc_frames_sent{0};
    uint64_t rpc_frames_received{0};
    uint64_t rpc_items_dropped{0};
    uint64_t rpc_connection_errors{0};
    size_t under_replicated_partitions{0};
    size_t leaderless_partitions{0};
};

class NodeMetrics {
  public:
    NodeMetrics();
    ~NodeMetrics();
    NodeMetrics(const NodeMetrics&) = delete;
    NodeMetrics& operator=(const NodeMetrics&) = delete;

    void observe_append(size_t bytes, double seconds);
    void observe_fsync(double seconds);
    void observe_election_won();
    // How late a tick of the event loop ran.
    void observe_loop_lag(double seconds);
    void observe_rpc_decode_error();
    // One request of a client protocol ("kafka") and API ("Produce"), answered.
    void observe_request(std::string_view protocol, std::string_view api, double seconds);

    // The text exposition format.
    std::string render(const std::vector<PartitionGauges>& partitions, const NodeGauges& node) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> _impl;
};

}  // namespace fjord::cluster
