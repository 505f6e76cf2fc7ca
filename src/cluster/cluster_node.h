// A fjord node at run time: its replicas of the controller and of the
// partitions assigned to it, the transport to its peers, and what it knows
// about the rest of the cluster. It runs on one event loop (the caller's
// io_context, run on one thread); fsyncs run on the Flusher's thread.
//
//   - The controller group (0) spans the founding voters; its state machine
//     is the metadata (cluster/controller.h). Whichever node leads it
//     registers the nodes and serves topic creation.
//   - The partition manager part opens, from the metadata, a replica for
//     every partition assigned to this node.
//   - Every node gossips its status (addresses, the groups it leads and how
//     they replicate) to all peers every 100 ms; from that, any node can
//     answer for the whole cluster and knows who is alive.
//   - A leadership balancer hands each partition back to its preferred
//     replica (the first one) once that replica serves and is in sync, which
//     spreads leaders evenly; a node that shuts down hands its leaderships
//     to in-sync replicas first.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/controller.h"
#include "cluster/node_config.h"
#include "cluster/node_metrics.h"
#include "cluster/node_status.h"
#include "cluster/replica.h"

namespace boost::asio {
class io_context;
}
namespace fjord::net {
class Transport;
struct Item;
}  // namespace fjord::net
namespace fjord::storage {
class PosixFileSystem;
}

namespace fjord::cluster {

struct NodeView {
    NodeInfo info;
    bool alive{false};
    bool self{false};
    std::string not_serving_reason;
};

struct ReplicaView {
    uint64_t node{0};
    int64_t match{0};  // the Raft index the replica's log matches the leader's up to
    int64_t lag{0};    // entries behind the leader's last index
    bool in_sync{false};
};

struct PartitionView {
    std::string topic;
    int32_t partition{0};
    uint64_t group{0};
    int64_t leader{-1};  // -1: none known
    uint64_t term{0};
    std::vector<uint64_t> replicas;
    std::vector<uint64_t> isr;
    int64_t high_watermark{0};
    std::vector<ReplicaView> replica_status;  // known only while a leader reports
};

struct RecordView {
    int64_t offset{0};
    uint64_t term{0};
    std::string key;
    std::string value;
};

enum class ClusterErrc : uint8_t {
    not_leader,      // `leader` names the node to ask (0: none known)
    not_controller,  // `leader` names the controller's leader (0: none known)
    unknown_topic,
    unknown_partition,
    already_exists,
    invalid,  // the request itself is wrong
    busy,     // retry later
    timeout,  // the outcome is unknown
    failed,   // a storage error stopped the replica
};
struct ClusterError {
    ClusterErrc code;
    std::string detail;
    uint64_t leader{0};
    std::optional<MetadataErrc> metadata_code{};  // why the controller refused a command
};
template <typename T>
using ClusterResult = Result<T, ClusterError>;

class ClusterNode final : public ReplicaHost {
  public:
    ClusterNode(boost::asio::io_context& io, NodeConfig config);
    ~ClusterNode() override;
    ClusterNode(const ClusterNode&) = delete;
    ClusterNode& operator=(const ClusterNode&) = delete;

    // Opens the controller replica, binds the RPC port and starts the timers.
    Result<Ok, std::string> start();
    // Hands this node's leaderships to in-sync replicas (or gives up after
    // `timeout_ms`), stops the transport, then runs `done` on the loop.
    void shutdown(int timeout_ms, std::function<void()> done);

    // What the node knows about the cluster.
    uint64_t id() const { return _config.node_id; }
    const NodeConfig& config() const { return _config; }
    uint64_t controller_leader() const;
    const Metadata& metadata() const { return _controller.metadata(); }
    std::vector<NodeView> nodes() const;
    std::optional<NodeView> node(uint64_t id) const;
    std::vector<PartitionView> partitions() const;
    std::optional<PartitionView> partition(const std::string& topic, int32_t partition) const;
    // Why this node does not serve, if it does not.
    std::optional<std::string> not_serving_reason() const;
    std::string metrics_text() const;
    // Latency of one request of a client protocol, for the metrics.
    void observe_request(std::string_view protocol, std::string_view api, double seconds) {
        _metrics.observe_request(protocol, api, seconds);
    }

    // Requests. Callbacks run on the loop, exactly once.
    void create_topic(CreateTopic request, std::function<void(ClusterResult<Ok>)> done);
    // Checks a metadata command and, on the controller's leader, commits it.
    // A CreateTopic with 0 partitions or replication factor gets the defaults.
    void submit(const MetadataCommand& command, std::function<void(ClusterResult<Ok>)> done);
    // The same through the controller's leader wherever it is: here, or
    // forwarded to it and answered back (timeout after 5 s).
    void submit_anywhere(const MetadataCommand& command, std::function<void(ClusterResult<Ok>)> done);
    // The cluster's defaults in place of 0 (or Kafka's -1) partitions and replication factor.
    CreateTopic with_defaults(CreateTopic create) const;
    void transfer_leadership(const std::string& topic, int32_t partition, uint64_t to,
                             std::function<void(ClusterResult<Ok>)> done);
    // Appends each value as a record, all in one batch, on the partition's leader.
    void append(const std::string& topic, int32_t partition, std::vector<std::string> values,
                std::function<void(ClusterResult<Appended>)> done);
    // Committed records from `from` on, at most `count`, skipping control batches.
    ClusterResult<std::vector<RecordView>> read(const std::string& topic, int32_t partition, int64_t from,
                                                size_t count);

    // ReplicaHost
    storage::FileSystem& file_system() override;
    storage::Flusher* flusher() override { return _flusher.get(); }
    void post(std::function<void()> fn) override;
    void post_after(int ms, std::function<void()> fn) override;
    void send_raft(uint64_t group, const raft::Message& m) override;
    int64_t now_ms() const override;
    void observe_append(size_t bytes, double seconds) override { _metrics.observe_append(bytes, seconds); }
    void observe_fsync(double seconds) override { _metrics.observe_fsync(seconds); }
    void observe_election_won() override { _metrics.observe_election_won(); }
    void on_applied(uint64_t group) override;
    // Runs after a group's high watermark moved (e.g. to wake long-polling fetches).
    void set_applied_listener(std::function<void(uint64_t group)> listener) {
        _applied_listener = std::move(listener);
    }
    // The local replica of a partition when this node leads it; otherwise
    // not_leader (with the leader, if known), unknown_topic or unknown_partition.
    ClusterResult<Replica*> local_leader(const std::string& topic, int32_t partition) const;
    // Creates the topic through the controller's leader, wherever it is; the
    // outcome is not reported (clients see the topic appear in metadata).
    void request_topic(const CreateTopic& request);
    // This node's replica of a group, if it has one.
    Replica* replica(uint64_t group) const;

    // Partitions whose state is not the log itself (the key-value shards)
    // get a state machine from this factory; null means none (Kafka topics).
    // Such partitions are compacted below snapshots, never by retention.
    using StateMachineFactory = std::function<std::shared_ptr<StateMachine>(
        const std::string& topic, int32_t partition, uint64_t group)>;
    void set_state_machine_factory(StateMachineFactory factory) {
        _state_machine_factory = std::move(factory);
    }
    // Items of kinds the cluster layer does not handle itself (kv_request,
    // kv_response) go to this handler; send_item() sends one to a peer.
    void set_item_handler(std::function<void(uint64_t from, net::Item& item)> handler) {
        _item_handler = std::move(handler);
    }
    void send_item(uint64_t to, net::Item item);

  private:
    struct Timers;
    struct PeerState {
        NodeStatus status;
        int64_t heard_at{-1};  // any frame
        int64_t status_at{-1};
    };

    // `late_seconds`: how late the tick ran (the event loop's lag).
    void on_tick(double late_seconds);
    void on_gossip();
    void on_balance();
    void on_retention();
    void receive(uint64_t from, std::vector<net::Item>& items);
    void reconcile_partitions();
    void register_nodes();
    NodeInfo self_info() const;
    NodeStatus self_status() const;
    bool alive(uint64_t node) const;
    bool serving(uint64_t node) const;
    // Not alive, or said in its last status that it is shutting down.
    bool stopping_or_gone(uint64_t node) const;
    void ensure_kv_topic();
    raft::Config raft_config(uint64_t group) const;
    // The freshest leader report for a group: our own, or a live peer's.
    std::optional<std::pair<uint64_t, LeaderReport>> leader_report(uint64_t group) const;
    void await_leader(uint64_t group, uint64_t to, int64_t deadline,
                      std::function<void(ClusterResult<Ok>)> done);
    void finish_shutdown(int64_t deadline, std::function<void()> done);
    void finish_shutdown_after(int ms, int64_t deadline, std::function<void()> done);
    void receive_metadata_request(uint64_t from, const net::Item& item);
    void receive_metadata_response(const net::Item& item);
    void expire_metadata_requests();

    boost::asio::io_context& _io;
    NodeConfig _config;
    std::unique_ptr<storage::PosixFileSystem> _fs;
    std::unique_ptr<storage::Flusher> _flusher;
    std::unique_ptr<net::Transport> _transport;
    std::unique_ptr<Timers> _timers;
    NodeMetrics _metrics;
    Controller _controller;
    StateMachineFactory _state_machine_factory;
    std::function<void(uint64_t from, net::Item& item)> _item_handler;
    // Declared before the replicas, which point to them, so that they outlive them.
    std::map<uint64_t, std::shared_ptr<StateMachine>> _state_machines;  // by group
    std::map<uint64_t, std::unique_ptr<Replica>> _replicas;  // by group; the controller's is group 0
    std::map<uint64_t, PeerState> _peers;
    std::set<uint64_t> _registering;
    bool _reconcile_posted{false};
    bool _shutting_down{false};
    std::function<void(uint64_t group)> _applied_listener;
    std::set<std::string> _requested_topics;  // auto-creations asked of the controller, not yet seen
    bool _kv_topic_requested{false};
    struct MetadataRequest {
        int64_t deadline;
        std::function<void(ClusterResult<Ok>)> done;
    };
    std::map<uint64_t, MetadataRequest> _metadata_requests;  // forwarded to the controller, by id
    uint64_t _next_metadata_request{1};
};

}  // namespace fjord::cluster
