// The key-value store on one node: the shards this node holds (created for
// the cluster's `__kv` partitions) and the path of every Redis command.
//
//   - A key belongs to shard crc32c(key) mod the shard count; a key with a
//     {hash tag} to the shard of the tag, as in Redis Cluster, so that
//     multi-key commands on one tag are atomic.
//   - A command on one shard runs on the shard's leader: here, or forwarded
//     over the node transport and answered back. A node that does not lead
//     the shard (yet) says so, and the command is retried for a while.
//   - Commands on several shards (MGET, MSET, DEL, EXISTS) and on all of
//     them (KEYS, SCAN, DBSIZE, FLUSHDB) are split, run per shard, and their
//     answers merged: each shard's part is atomic, the whole is not.
//
// Everything runs on the node's event loop.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "kv/commands.h"
#include "kv/forward_codec.h"
#include "kv/pipeline_order.h"

namespace boost::asio {
class io_context;
}
namespace fjord::cluster {
class ClusterNode;
class Replica;
class StateMachine;
struct ProposeError;
}  // namespace fjord::cluster
namespace fjord::net {
struct Item;
}

namespace fjord::kv {

class KvShard;

struct KvOptions {
    WriteMode write_mode{WriteMode::sync};
    ReadMode read_mode{ReadMode::linearizable};
    Limits limits;
    int64_t retry_ms{3000};    // how long a command waits for its shard to have a leader
    int64_t timeout_ms{5000};  // how long a forwarded command waits for its answer
};

// A command of a connection on one shard, from its first attempt to its answer (kv_service.cc).
struct ShardCommand;

// A client connection's state.
struct Session {
    WriteMode write_mode{WriteMode::sync};
    ReadMode read_mode{ReadMode::linearizable};
    std::string name;
    uint64_t id{0};
    std::map<uint64_t, uint64_t> last_write;  // by shard group: the Raft index of the last write
    uint64_t last_write_group{0};
    // Per shard, the connection's commands in the order sent, run by the
    // rules of kv/pipeline_order.h.
    struct Queued : PipelineSlot {
        std::shared_ptr<ShardCommand> command;
    };
    struct ShardQueue {
        std::deque<Queued> slots;
        size_t not_started{0};  // while 0 (a pipeline all running), there is nothing to start
    };
    uint64_t next_op{1};
    std::map<uint64_t, ShardQueue> queued;  // by shard group
    std::set<uint64_t> retry_armed;         // shard groups with a retry timer running
    bool closed{false};
};

class KvService {
  public:
    KvService(boost::asio::io_context& io, cluster::ClusterNode& node, KvOptions options);
    ~KvService();
    KvService(const KvService&) = delete;
    KvService& operator=(const KvService&) = delete;

    // Registers with the node (state machines for the shards, forwarded
    // commands) and starts the timers; call before the node starts.
    void start();
    void stop();

    // A new connection's state, in the server's modes.
    std::shared_ptr<Session> new_session();
    // Appends to `out` the RESP answer to a command that needs no waiting (a
    // lease read the leader can serve now) and returns true; false when it
    // must be execute()d. Expiry is judged at `wall_ms` (wall_ms()).
    bool answer_now(const Session& session, const Command& command, int64_t wall_ms, std::string& out);
    // The wall clock expiry is judged by, in milliseconds.
    static int64_t wall_ms();
    // Runs one command of a connection; `done` runs once, on the loop.
    void execute(const std::shared_ptr<Session>& session, Command command, std::function<void(Reply)> done);
    void connection_opened() { ++_connections; }
    void connection_closed() { --_connections; }
    // A connection holds `bytes` of answers not yet written; INFO clients
    // reports the most since start or CONFIG RESETSTAT.
    void output_held(size_t bytes) { _max_output_held = std::max(_max_output_held, bytes); }

  private:
    struct Pending;
    struct Timers;
    using AnswerDone = std::function<void(ShardAnswer)>;

    std::shared_ptr<cluster::StateMachine> make_shard(const std::string& topic, int32_t partition,
                                                      uint64_t group);
    void receive(uint64_t from, net::Item& item);

    // Connection commands (kv_connection_commands.cc).
    Reply connection_command(const std::shared_ptr<Session>& session, const Command& command,
                             std::function<void(Reply)>& done, bool& answered_later);
    Reply info(const std::string& section) const;
    // WAIT: asks the shard's leader when it is another node (it knows its
    // followers' progress; this node only hears of it by gossip), and looks
    // itself when it leads the shard or the leader does not answer.
    void wait_for_replicas(const std::shared_ptr<Session>& session, int64_t wanted, int64_t deadline,
                           std::function<void(Reply)> done, bool ask_leader = true);
    // Answers how many replicas hold `index` once `wanted` do, or at `deadline`.
    void wait_here(uint64_t group, uint64_t index, int64_t wanted, int64_t deadline,
                   std::function<bool()> cancelled, std::function<void(int64_t)> done);
    // A WAIT forwarded by another node (kWaitOnLeader); false if `request` is not one.
    bool receive_wait(uint64_t from, uint64_t id, const ShardRequest& request);
    int64_t replicas_holding(uint64_t group, uint64_t index) const;

    // Splitting and merging (kv_fanout.cc).
    void run_multi(const std::shared_ptr<Session>& session, const CommandSpec& spec, Command command,
                   std::function<void(Reply)> done);
    void run_keyspace(const std::shared_ptr<Session>& session, Command command,
                      std::function<void(Reply)> done);
    void run_parts(const std::shared_ptr<Session>& session, std::vector<ShardRequest> parts,
                   std::function<void(std::vector<Reply>)> done);

    // Routing and running on a shard (kv_service.cc).
    // The shards' Raft groups, by partition (empty until the controller created them).
    const std::vector<uint64_t>& shard_groups() const;
    uint64_t shard_of(std::string_view key, const std::vector<uint64_t>& groups) const;
    ShardRequest request_for(const Session& session, uint64_t group, Command command) const;
    // Runs a command of a session on its shard, in the session's order
    // there (Session::queued), retrying while the shard has no leader.
    void run_for(const std::shared_ptr<Session>& session, ShardRequest request,
                 std::function<void(Reply)> done);
    void start_queued(const std::shared_ptr<Session>& session, uint64_t group);
    void attempt(const std::shared_ptr<Session>& session, uint64_t group, uint64_t id,
                 const std::shared_ptr<ShardCommand>& command);
    void retry_later(const std::shared_ptr<Session>& session, uint64_t group);
    std::string no_leader_error(uint64_t group) const;
    // The node leading `group` as far as this node knows; 0 when none is known.
    uint64_t leader_of(uint64_t group) const;
    void run(const ShardRequest& request, AnswerDone done);
    void run_here(const ShardRequest& request, AnswerDone done);
    void read_here(cluster::Replica& replica, const ShardRequest& request, AnswerDone done);
    // Sends `request` to `leader`; `done` gets its answer, or an error once
    // `timeout_ms` (default: the forwarding timeout) passes without one.
    void forward(uint64_t leader, const ShardRequest& request, AnswerDone done, int64_t timeout_ms = 0);
    // Answers a request that node `from` forwarded here.
    void answer_node(uint64_t from, uint64_t id, uint64_t group, const ShardAnswer& a);
    void arm_housekeeping();
    void schedule_flush();
    void flush_batches();
    void expire_keys();
    void expire_forwards();
    KvShard* shard(uint64_t group) const;
    int64_t now_ms() const;  // monotonic, for deadlines

    boost::asio::io_context& _io;
    cluster::ClusterNode& _node;
    KvOptions _options;
    std::map<uint64_t, std::shared_ptr<KvShard>> _shards;     // by group
    mutable std::vector<uint64_t> _groups;                    // cache of shard_groups()
    mutable uint64_t _groups_version{0};                      // the metadata version it was taken at
    std::map<uint64_t, std::unique_ptr<Pending>> _forwarded;  // by request id
    using ReadBatch = std::vector<std::function<void(Result<uint64_t, cluster::ProposeError>)>>;
    std::map<std::pair<uint64_t, bool>, ReadBatch>
        _read_batches;  // by (shard group, lease), this turn's reads
    uint64_t _next_request{1};
    uint64_t _next_session{1};
    bool _flush_posted{false};
    int64_t _connections{0};
    size_t _max_output_held{0};
    uint64_t _reads_answered_at_once{0};  // by answer_now, since start or CONFIG RESETSTAT
    int64_t _started_ms{0};
    std::unique_ptr<Timers> _timers;
    std::shared_ptr<bool> _alive;
};

}  // namespace fjord::kv
