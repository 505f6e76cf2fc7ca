#include "cluster/node_config.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace fjord::cluster {

namespace {

template <typename T>
bool parse_number(std::string_view text, T& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

std::string joined_ids(const std::vector<ClusterMember>& members) {
    std::string out;
    for (const ClusterMember& m : members) out += (out.empty() ? "" : ", ") + std::to_string(m.id);
    return out;
}

}  // namespace

Result<Ok, std::string> check_host_port(const std::string& setting, const std::string& address) {
    size_t colon = address.rfind(':');
    uint32_t port = 0;
    if (colon == std::string::npos || colon == 0 ||
        !parse_number(std::string_view(address).substr(colon + 1), port) || port == 0 || port > 65535)
        return make_unexpected(setting + " '" + address + "' is not HOST:PORT with a port in 1..65535");
    return Ok{};
}

Result<std::vector<ClusterMember>, std::string> parse_initial_cluster(const std::string& text) {
    std::vector<ClusterMember> members;
    std::set<uint64_t> ids;
    std::set<std::string> addresses;
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? text.size() + 1 : comma + 1;
        size_t eq = item.find('=');
        ClusterMember m;
        if (eq == std::string::npos || !parse_number(std::string_view(item).substr(0, eq), m.id) || m.id == 0)
            return make_unexpected("--initial-cluster: '" + item +
                                   "' is not ID=HOST:PORT with a positive ID");
        m.rpc_addr = item.substr(eq + 1);
        if (auto ok = check_host_port("--initial-cluster: node " + std::to_string(m.id), m.rpc_addr); !ok)
            return make_unexpected(ok.error());
        if (!ids.insert(m.id).second)
            return make_unexpected("--initial-cluster: node " + std::to_string(m.id) + " appears twice");
        if (!addresses.insert(m.rpc_addr).second)
            return make_unexpected("--initial-cluster: address " + m.rpc_addr + " appears twice");
        members.push_back(std::move(m));
    }
    std::sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return members;
}

Result<Ok, std::string> validate(NodeConfig& c) {
    if (c.node_id == 0) return make_unexpected(std::string("--node-id must be a positive integer"));
    if (c.data_dir.empty()) return make_unexpected(std::string("--data-dir is required"));
    if (c.initial_cluster.empty())
        return make_unexpected(std::string("--initial-cluster is required (ID=HOST:PORT,...)"));
    auto self = std::find_if(c.initial_cluster.begin(), c.initial_cluster.end(),
                             [&](const ClusterMember& m) { return m.id == c.node_id; });
    if (self == c.initial_cluster.end()) {
        return make_unexpected("--node-id " + std::to_string(c.node_id) + " is not in --initial-cluster (" +
                               joined_ids(c.initial_cluster) + ")");
    }
    if (c.rpc_addr.empty()) c.rpc_addr = self->rpc_addr;
    if (c.advertised_kafka_addr.empty()) c.advertised_kafka_addr = c.kafka_addr;
    const std::pair<const char*, const std::string*> addresses[] = {
        {"--rpc-addr", &c.rpc_addr},
        {"--kafka-addr", &c.kafka_addr},
        {"--redis-addr", &c.redis_addr},
        {"--admin-addr", &c.admin_addr},
        {"--advertised-kafka-addr", &c.advertised_kafka_addr}};
    for (const auto& [setting, address] : addresses) {
        if (address->empty()) return make_unexpected(std::string(setting) + " is required");
        if (auto ok = check_host_port(setting, *address); !ok) return ok;
    }
    if (c.rpc_addr != self->rpc_addr)
        return make_unexpected("--rpc-addr " + c.rpc_addr +
                               " differs from this node's entry in --initial-cluster (" + self->rpc_addr +
                               ")");
    std::set<std::string> listening;
    for (const auto& [setting, address] : addresses) {
        if (std::string_view(setting) == "--advertised-kafka-addr") continue;
        if (!listening.insert(*address).second)
            return make_unexpected(std::string(setting) + " " + *address +
                                   " is already used by another listener");
    }
    if (c.default_replication_factor < 1)
        return make_unexpected(std::string("--default-replication-factor must be at least 1"));
    if (c.default_partitions < 1)
        return make_unexpected(std::string("--default-partitions must be at least 1"));
    if (c.min_insync_replicas < 1)
        return make_unexpected(std::string("--min-insync-replicas must be at least 1"));
    if (c.min_insync_replicas > c.default_replication_factor)
        return make_unexpected("--min-insync-replicas " + std::to_string(c.min_insync_replicas) +
                               " exceeds --default-replication-factor " +
                               std::to_string(c.default_replication_factor));
    if (c.tick_ms < 1) return make_unexpected(std::string("the Raft tick must be at least 1 ms"));
    if (c.heartbeat_interval_ms < c.tick_ms)
        return make_unexpected("--heartbeat-interval-ms must be at least " + std::to_string(c.tick_ms));
    if (c.election_timeout_ms < 2 * c.heartbeat_interval_ms)
        return make_unexpected("--election-timeout-ms " + std::to_string(c.election_timeout_ms) +
                               " must be at least twice --heartbeat-interval-ms (" +
                               std::to_string(c.heartbeat_interval_ms) + ")");
    if (c.fsync_mode != "file" && c.fsync_mode != "filesystem")
        return make_unexpected("--fsync-mode '" + c.fsync_mode + "' is not file or filesystem");
    if (c.redis_write_mode != "sync" && c.redis_write_mode != "async")
        return make_unexpected("--redis-write-mode '" + c.redis_write_mode + "' is not sync or async");
    if (c.redis_read_mode != "linearizable" && c.redis_read_mode != "lease" && c.redis_read_mode != "stale")
        return make_unexpected("--redis-read-mode '" + c.redis_read_mode +
                               "' is not linearizable, lease or stale");
    if (c.redis_max_value_bytes < 1 || c.redis_max_value_bytes > (512 << 20))
        return make_unexpected(std::string("--redis-max-value-bytes must be between 1 and 536870912"));
    if (c.kv_shards < 0 || c.kv_shards > 1024)
        return make_unexpected(std::string("--kv-shards must be between 0 and 1024"));
    if (c.replica_lag_time_ms < c.election_timeout_ms)
        return make_unexpected(std::string("--replica-lag-time-ms must be at least --election-timeout-ms"));
    return Ok{};
}

}  // namespace fjord::cluster
