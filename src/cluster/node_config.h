// The settings of one fjord node, as `fjord serve` validated them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace fjord::cluster {

struct ClusterMember {
    uint64_t id{0};
    std::string rpc_addr;  // host:port
};

struct NodeConfig {
    uint64_t node_id{0};
    std::string data_dir;
    std::string rpc_addr;
    std::string kafka_addr;
    std::string advertised_kafka_addr;
    std::string redis_addr;
    std::string admin_addr;
    // The founding voters of the controller, identical on every founding node.
    std::vector<ClusterMember> initial_cluster;
    int default_replication_factor{3};
    int default_partitions{1};  // of topics created without a count (Kafka's num.partitions)
    bool auto_create_topics{true};
    int min_insync_replicas{1};
    int election_timeout_ms{150};  // followers wait 1 to 2 times this before campaigning
    int heartbeat_interval_ms{50};
    int tick_ms{10};
    int64_t replica_lag_time_ms{10000};
    std::string redis_write_mode{"sync"};         // sync | async
    std::string redis_read_mode{"linearizable"};  // linearizable | lease | stale
    int64_t redis_max_value_bytes{8 << 20};
    int kv_shards{16};                          // key-value partitions, created once (0: no key-value store)
    uint64_t kv_snapshot_every{100000};         // entries applied between two snapshots of a shard
    uint64_t controller_snapshot_every{10000};  // entries the controller applies between two snapshots
    std::string fsync_mode{"file"};             // file: fdatasync each log | filesystem: one syncfs per round
};

// Identifies the cluster on the wire, so nodes of two clusters never talk:
// derived from the founding members, the same on every node.
std::string cluster_id_of(const std::vector<ClusterMember>& initial_cluster);

// Parses "1=host:port,2=host:port,..."; the error names the bad member.
Result<std::vector<ClusterMember>, std::string> parse_initial_cluster(const std::string& text);
// Checks "host:port" with a port in 1..65535 (0 too when `allow_any_port`).
Result<Ok, std::string> check_host_port(const std::string& setting, const std::string& address);
// Checks every setting and fills the derived ones (the advertised Kafka
// address). The error is one line naming the setting, e.g.
// "--node-id 4 is not in --initial-cluster (1, 2, 3)".
Result<Ok, std::string> validate(NodeConfig& config);

}  // namespace fjord::cluster
