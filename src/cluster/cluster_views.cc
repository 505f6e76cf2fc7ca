// What a node knows about the whole cluster: nodes, partitions and their
// replication, assembled from its own replicas and its peers' gossip.
#include <algorithm>

#include "cluster/cluster_node.h"
#include "net/transport.h"

namespace fjord::cluster {

std::optional<std::pair<uint64_t, LeaderReport>> ClusterNode::leader_report(uint64_t group) const {
    std::optional<std::pair<uint64_t, LeaderReport>> best;
    if (Replica* r = replica(group); r && r->is_leader()) best.emplace(_config.node_id, r->report());
    for (const auto& [id, peer] : _peers) {
        if (!alive(id) || peer.status_at < 0) continue;
        for (const LeaderReport& report : peer.status.leading) {
            if (report.group == group && (!best || report.term > best->second.term)) best.emplace(id, report);
        }
    }
    return best;
}

std::vector<NodeView> ClusterNode::nodes() const {
    std::map<uint64_t, NodeView> views;
    for (const auto& [id, info] : metadata().nodes()) views[id].info = info;
    for (const ClusterMember& m : _config.initial_cluster) {
        NodeView& v = views[m.id];
        if (v.info.id == 0) v.info = NodeInfo{m.id, m.rpc_addr, {}, {}, {}};
    }
    std::vector<NodeView> out;
    for (auto& [id, v] : views) {
        v.self = id == _config.node_id;
        v.alive = alive(id);
        if (v.self) {
            v.info = self_info();
            v.not_serving_reason = not_serving_reason().value_or("");
        } else if (auto it = _peers.find(id); it != _peers.end() && v.alive && it->second.status_at >= 0) {
            v.not_serving_reason = it->second.status.not_serving_reason;
        } else if (!v.alive) {
            v.not_serving_reason = "unreachable";
        }
        out.push_back(std::move(v));
    }
    return out;
}

std::optional<NodeView> ClusterNode::node(uint64_t id) const {
    for (NodeView& v : nodes()) {
        if (v.info.id == id) return std::move(v);
    }
    return std::nullopt;
}

namespace {

PartitionView view_of(const std::string& topic, int32_t partition, uint64_t group,
                      std::vector<uint64_t> replicas,
                      const std::optional<std::pair<uint64_t, LeaderReport>>& report) {
    PartitionView v;
    v.topic = topic;
    v.partition = partition;
    v.group = group;
    v.replicas = std::move(replicas);
    if (!report) return v;
    const auto& [leader, r] = *report;
    v.leader = static_cast<int64_t>(leader);
    v.term = r.term;
    v.high_watermark = r.commit;
    v.isr.push_back(leader);
    v.replica_status.push_back({leader, r.last, 0, true});
    for (const FollowerReport& f : r.followers) {
        if (f.in_sync) v.isr.push_back(f.node);
        v.replica_status.push_back({f.node, f.match, r.last - f.match, f.in_sync});
    }
    std::sort(v.isr.begin(), v.isr.end());
    return v;
}

}  // namespace

std::vector<PartitionView> ClusterNode::partitions() const {
    std::vector<PartitionView> out;
    std::vector<uint64_t> voters;
    for (const ClusterMember& m : _config.initial_cluster) voters.push_back(m.id);
    out.push_back(view_of(kControllerTopic, 0, kControllerGroup, voters, leader_report(kControllerGroup)));
    for (const auto& [name, topic] : metadata().topics()) {
        for (const PartitionInfo& p : topic.partitions)
            out.push_back(view_of(name, p.partition, p.group, p.replicas, leader_report(p.group)));
    }
    return out;
}

std::optional<PartitionView> ClusterNode::partition(const std::string& topic, int32_t partition) const {
    if (topic == kControllerTopic && partition == 0) return partitions().front();
    const PartitionInfo* p = metadata().partition(topic, partition);
    if (!p) return std::nullopt;
    return view_of(topic, partition, p->group, p->replicas, leader_report(p->group));
}

std::optional<std::string> ClusterNode::not_serving_reason() const {
    if (_shutting_down) return std::string(kShuttingDown);
    for (const auto& [group, r] : _replicas) {
        if (!r->failure().empty()) return r->failure();
        if (!r->stall_reason().empty()) return r->stall_reason();
    }
    if (controller_leader() == 0)
        return "no controller leader known (is a majority of the founding nodes up?)";
    return std::nullopt;
}

std::string ClusterNode::metrics_text() const {
    std::vector<PartitionGauges> gauges;
    NodeGauges node;
    for (const auto& [group, r] : _replicas) {
        PartitionGauges g;
        if (group == kControllerGroup) {
            g.topic = kControllerTopic;
        } else if (auto where = metadata().locate_group(group)) {
            std::tie(g.topic, g.partition) = *where;
        }
        g.term = r->term();
        g.commit_index = static_cast<int64_t>(r->commit_index());
        g.applied_index = r->high_watermark();
        g.leader = r->is_leader();
        if (g.leader) {
            LeaderReport report = r->report();
            for (const FollowerReport& f : report.followers)
                g.follower_lag.emplace_back(f.node, report.last - f.match);
            bool all_in_sync = std::all_of(report.followers.begin(), report.followers.end(),
                                           [](const FollowerReport& f) { return f.in_sync; });
            if (!all_in_sync) ++node.under_replicated_partitions;
        }
        gauges.push_back(std::move(g));
    }
    for (const PartitionView& p : partitions()) {
        if (p.leader < 0) ++node.leaderless_partitions;
    }
    const net::TransportStats& t = _transport->stats();
    node.rpc_bytes_sent = t.bytes_sent;
    node.rpc_bytes_received = t.bytes_received;
    node.rpc_frames_sent = t.frames_sent;
    node.rpc_frames_received = t.frames_received;
    node.rpc_items_dropped = t.items_dropped;
    node.rpc_connection_errors = t.connection_errors;
    return _metrics.render(gauges, node);
}

}  // namespace fjord::cluster
