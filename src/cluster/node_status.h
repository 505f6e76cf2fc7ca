// The status a node gossips to every peer about every 100 ms, as the payload
// of a net::Item of kind `node_status`: where it listens, which controller
// leader it knows, whether it serves, and how the groups it leads replicate.
// Peers use it to route clients and to answer admin queries about the whole
// cluster without asking each node.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::cluster {

inline constexpr uint8_t kNodeStatusFormat = 1;

// A leader's view of one follower.
struct FollowerReport {
    uint64_t node{0};
    int64_t match{0};  // the raft index the follower's log matches up to
    bool active{false};
    bool in_sync{false};
    bool operator==(const FollowerReport&) const = default;
};

struct LeaderReport {
    uint64_t group{0};
    uint64_t term{0};
    int64_t commit{0};
    int64_t last{0};
    std::vector<FollowerReport> followers;
    bool operator==(const LeaderReport&) const = default;
};

// The not-serving reason of a node that is stopping: peers hand it no leadership
// and, stopping too, do not wait for it to take theirs.
inline constexpr std::string_view kShuttingDown = "shutting down";

struct NodeStatus {
    uint64_t node{0};
    std::string rpc_addr, kafka_addr, redis_addr, admin_addr;
    uint64_t controller_leader{0};      // 0: unknown
    std::string not_serving_reason;     // empty when the node serves
    std::vector<LeaderReport> leading;  // the groups this node leads
    bool operator==(const NodeStatus&) const = default;
};

std::string encode_node_status(const NodeStatus& status);
// The error says which field is wrong and how, e.g. "leader report 2:
// follower 0: in sync: byte 7 is not a boolean".
Result<NodeStatus, std::string> decode_node_status(std::string_view bytes);

}  // namespace fjord::cluster
