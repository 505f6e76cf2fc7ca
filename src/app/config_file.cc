#include "app/config_file.h"

#include <toml++/toml.h>

#include <functional>
#include <map>

namespace fjord::app {

namespace {

std::string where(const std::string& path, const toml::node& node) {
    return path + ":" + std::to_string(node.source().begin.line);
}

template <typename T>
std::function<Result<Ok, std::string>(const std::string&, const toml::node&)> setter(T& field) {
    return [&field](const std::string& path, const toml::node& node) -> Result<Ok, std::string> {
        if constexpr (std::is_same_v<T, std::string>) {
            auto v = node.value<std::string>();
            if (!v) return make_unexpected(where(path, node) + ": expected a string");
            field = *v;
        } else {
            auto v = node.value<int64_t>();
            if (!v || *v < 0) return make_unexpected(where(path, node) + ": expected a non-negative integer");
            field = static_cast<T>(*v);
        }
        return Ok{};
    };
}

}  // namespace

Result<Ok, std::string> load_config_file(const std::string& path, cluster::NodeConfig& c,
                                         std::string& initial_cluster) {
    toml::table table;
    try {
        table = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        return make_unexpected("--config " + path + ":" + std::to_string(e.source().begin.line) + ": " +
                               std::string(e.description()));
    }
    const std::map<std::string, std::function<Result<Ok, std::string>(const std::string&, const toml::node&)>>
        keys = {
            {"node-id", setter(c.node_id)},
            {"data-dir", setter(c.data_dir)},
            {"rpc-addr", setter(c.rpc_addr)},
            {"kafka-addr", setter(c.kafka_addr)},
            {"advertised-kafka-addr", setter(c.advertised_kafka_addr)},
            {"redis-addr", setter(c.redis_addr)},
            {"admin-addr", setter(c.admin_addr)},
            {"initial-cluster", setter(initial_cluster)},
            {"default-replication-factor", setter(c.default_replication_factor)},
            {"min-insync-replicas", setter(c.min_insync_replicas)},
            {"default-partitions", setter(c.default_partitions)},
            {"election-timeout-ms", setter(c.election_timeout_ms)},
            {"heartbeat-interval-ms", setter(c.heartbeat_interval_ms)},
            {"replica-lag-time-ms", setter(c.replica_lag_time_ms)},
            {"fsync-mode", setter(c.fsync_mode)},
            {"redis-write-mode", setter(c.redis_write_mode)},
            {"redis-read-mode", setter(c.redis_read_mode)},
            {"redis-max-value-bytes", setter(c.redis_max_value_bytes)},
            {"kv-shards", setter(c.kv_shards)},
            {"kv-snapshot-every", setter(c.kv_snapshot_every)},
            {"controller-snapshot-every", setter(c.controller_snapshot_every)},
        };
    for (const auto& [key, node] : table) {
        auto it = keys.find(std::string(key.str()));
        if (it == keys.end())
            return make_unexpected("--config " + where(path, node) + ": unknown setting '" +
                                   std::string(key.str()) + "'");
        if (auto set = it->second(path, node); !set)
            return make_unexpected("--config " + set.error() + " (" + std::string(key.str()) + ")");
    }
    return Ok{};
}

}  // namespace fjord::app
