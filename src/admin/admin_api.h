// The admin HTTP API of a node, as JSON over HTTP/1.1 (see docs/operations.md):
//
//   GET  /health                      200 when the node serves, 503 and why not
//   GET  /cluster/status              controller leader, nodes, partition counts
//   GET  /cluster/nodes
//   GET  /cluster/partitions          leader, term, replicas, ISR, high watermark, lag
//   POST /cluster/partitions/{topic}/{partition}/transfer-leadership?to=N
//   GET  /metrics                     Prometheus text format
//   POST /topics                      {"name", "partitions", "replication_factor", "configs"}
//   GET  /topics/{topic}
//   POST /topics/{topic}/partitions/{p}/records   {"values": [...]}, answered once committed
//   GET  /topics/{topic}/partitions/{p}/records?from=O&count=N
//
// Requests that only a leader can serve answer 421 with the leader's id and
// admin address when another node should be asked.
#pragma once

#include "admin/http.h"

namespace fjord::cluster {
class ClusterNode;
}

namespace fjord::admin {

HttpHandler make_admin_handler(cluster::ClusterNode& node);

}  // namespace fjord::admin
