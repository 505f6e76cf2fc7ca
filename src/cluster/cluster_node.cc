#include "cluster/cluster_node.h"

#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>

#include "cluster/raft_message_codec.h"
#include "common/big_endian.h"
#include "common/crc32c.h"
#include "common/host_port.h"
#include "common/splitmix.h"
#include "net/transport.h"
#include "storage/flusher.h"
#include "storage/posix_file_system.h"

namespace fjord::cluster {

namespace asio = boost::asio;

namespace {

constexpr int64_t kGossipIntervalMs = 100;
constexpr int64_t kAliveWithinMs = 1000;  // ten gossip rounds
constexpr int64_t kBalanceIntervalMs = 2000;
// fsyncs of different partitions in parallel: a device flush takes
// milliseconds whatever its size, and one slow flush must not queue the rest.
constexpr size_t kFlushThreads = 4;
constexpr int kShutdownPollMs = 20;             // how often a stopping node checks its hand-overs
constexpr int64_t kRetentionIntervalMs = 1000;  // Kafka checks every 5 min; segments are few, checks cheap

// A recurring timer on the loop that stops when the node goes away. `fn`
// gets how late it runs, in seconds: how long the loop was busy elsewhere.
class Repeater {
  public:
    Repeater(asio::io_context& io, int64_t interval_ms, std::function<void(double)> fn)
        : _timer(io), _interval(interval_ms), _fn(std::move(fn)) {}
    void start() { arm(); }
    void stop() { _timer.cancel(); }

  private:
    void arm() {
        _timer.expires_after(std::chrono::milliseconds(_interval));
        _timer.async_wait([this](boost::system::error_code ec) {
            if (ec) return;
            std::chrono::duration<double> late = asio::steady_timer::clock_type::now() - _timer.expiry();
            _fn(late.count());
            arm();
        });
    }
    asio::steady_timer _timer;
    int64_t _interval;
    std::function<void(double)> _fn;
};

}  // namespace

std::string cluster_id_of(const std::vector<ClusterMember>& initial_cluster) {
    std::string text;
    for (const ClusterMember& m : initial_cluster) text += std::to_string(m.id) + "=" + m.rpc_addr + ",";
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", crc32c(text));
    return std::string("fjord-") + hex;
}

struct ClusterNode::Timers {
    Timers(asio::io_context& io, ClusterNode& node)
        : tick(io, node._config.tick_ms, [&node](double late) { node.on_tick(late); }),
          gossip(io, kGossipIntervalMs, [&node](double) { node.on_gossip(); }),
          balance(io, kBalanceIntervalMs, [&node](double) { node.on_balance(); }),
          retention(io, kRetentionIntervalMs, [&node](double) { node.on_retention(); }) {}
    void start() {
        for (Repeater* r : {&tick, &gossip, &balance, &retention}) r->start();
    }
    void stop() {
        for (Repeater* r : {&tick, &gossip, &balance, &retention}) r->stop();
    }
    Repeater tick;
    Repeater gossip;
    Repeater balance;
    Repeater retention;
};

ClusterNode::ClusterNode(asio::io_context& io, NodeConfig config)
    : _io(io),
      _config(std::move(config)),
      _fs(std::make_unique<storage::PosixFileSystem>()),
      _controller([this] {
          if (_reconcile_posted) return;
          _reconcile_posted = true;
          post([this] {
              _reconcile_posted = false;
              reconcile_partitions();
          });
      }) {}

ClusterNode::~ClusterNode() {
    if (_timers) _timers->stop();
    if (_transport) _transport->stop();
    // Replicas go before the Flusher, whose last completions find them gone.
    _replicas.clear();
    _flusher.reset();
}

Result<Ok, std::string> ClusterNode::start() {
    _flusher = std::make_unique<storage::Flusher>(
        [this](std::function<void()> fn) { asio::post(_io, std::move(fn)); }, kFlushThreads,
        [fs = _fs.get()](const std::vector<std::shared_ptr<storage::File>>& files) {
            return fs->sync_files(files);
        });
    if (auto made = _fs->create_dirs(_config.data_dir); !made)
        return make_unexpected("cannot create data dir " + _config.data_dir + ": " + made.error().message());
    if (_config.fsync_mode == "filesystem") {
        if (auto shared = _fs->share_syncs(_config.data_dir); !shared)
            return make_unexpected("--fsync-mode filesystem: " + shared.error());
        spdlog::info("node {}: a round of fsyncs is one syncfs of the file system holding {}",
                     _config.node_id, _config.data_dir);
    }

    ReplicaOptions controller;
    controller.group = kControllerGroup;
    controller.name = std::string(kControllerTopic) + "-0";
    controller.dir = _config.data_dir + "/" + controller.name;
    for (const ClusterMember& m : _config.initial_cluster) controller.founding_voters.push_back(m.id);
    controller.raft = raft_config(kControllerGroup);
    controller.replica_lag_ms = _config.replica_lag_time_ms;
    controller.tick_ms = _config.tick_ms;
    controller.snapshot_every = _config.controller_snapshot_every;
    auto opened = Replica::open(*this, std::move(controller), &_controller);
    if (!opened) return make_unexpected(opened.error());
    _replicas.emplace(kControllerGroup, std::move(*opened));

    net::TransportConfig transport;
    transport.self = _config.node_id;
    transport.cluster_id = cluster_id_of(_config.initial_cluster);
    std::tie(transport.listen_host, transport.listen_port) = split_host_port(_config.rpc_addr);
    for (const ClusterMember& m : _config.initial_cluster) {
        if (m.id == _config.node_id) continue;
        auto [host, port] = split_host_port(m.rpc_addr);
        transport.peers.push_back({m.id, host, port});
        _peers.emplace(m.id, PeerState{});
    }
    _transport = std::make_unique<net::Transport>(
        _io, std::move(transport),
        [this](uint64_t from, std::vector<net::Item>& items) { receive(from, items); });
    auto bound = _transport->start();
    if (!bound) return make_unexpected(bound.error());

    _timers = std::make_unique<Timers>(_io, *this);
    _timers->start();
    spdlog::info("node {} started: rpc {}, data dir {}, cluster {}", _config.node_id, _config.rpc_addr,
                 _config.data_dir, cluster_id_of(_config.initial_cluster));
    return Ok{};
}

raft::Config ClusterNode::raft_config(uint64_t group) const {
    raft::Config c;
    c.id = raft::NodeId{_config.node_id};
    c.election_tick = std::max(2, _config.election_timeout_ms / _config.tick_ms);
    c.heartbeat_tick = std::max(1, _config.heartbeat_interval_ms / _config.tick_ms);
    uint64_t seed = _config.node_id * 0x100000001B3ull ^ group;
    c.random_seed = splitmix64(seed);
    return c;
}

storage::FileSystem& ClusterNode::file_system() {
    return *_fs;
}

void ClusterNode::post(std::function<void()> fn) {
    asio::post(_io, std::move(fn));
}

void ClusterNode::post_after(int ms, std::function<void()> fn) {
    auto timer = std::make_shared<asio::steady_timer>(_io, std::chrono::milliseconds(ms));
    timer->async_wait([timer, fn = std::move(fn)](boost::system::error_code ec) {
        if (!ec) fn();
    });
}

int64_t ClusterNode::now_ms() const {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void ClusterNode::send_raft(uint64_t group, const raft::Message& m) {
    net::Item item{net::ItemKind::raft, group, {}};
    encode_message(item.payload, m);
    _transport->send(m.to.value, std::move(item));
}

void ClusterNode::send_item(uint64_t to, net::Item item) {
    _transport->send(to, std::move(item));
}

void ClusterNode::on_applied(uint64_t group) {
    if (_applied_listener) _applied_listener(group);
}

void ClusterNode::request_topic(const CreateTopic& request) {
    if (metadata().topic(request.name) || !_requested_topics.insert(request.name).second) return;
    auto forget = [this, name = request.name](const ClusterResult<Ok>& r) {
        _requested_topics.erase(name);
        if (!r && r.error().code != ClusterErrc::already_exists)
            spdlog::warn("auto-creating topic {} failed: {}", name, r.error().detail);
    };
    uint64_t controller = controller_leader();
    if (controller == _config.node_id || controller == 0) {
        submit(request, forget);
    } else {
        _transport->send(controller,
                         net::Item{net::ItemKind::create_topic, kControllerGroup, encode_command(request)});
        // Asked again after a while if the topic has not appeared by then.
        auto timer = std::make_shared<asio::steady_timer>(_io, std::chrono::seconds(2));
        timer->async_wait(
            [this, timer, name = request.name](boost::system::error_code) { _requested_topics.erase(name); });
    }
}

Replica* ClusterNode::replica(uint64_t group) const {
    auto it = _replicas.find(group);
    return it == _replicas.end() ? nullptr : it->second.get();
}

void ClusterNode::receive(uint64_t from, std::vector<net::Item>& items) {
    PeerState& peer = _peers[from];
    peer.heard_at = now_ms();
    for (net::Item& item : items) {
        switch (item.kind) {
            case net::ItemKind::raft: {
                auto m = decode_message(item.payload);
                Replica* r = replica(item.group);
                if (!m || m->to.value != _config.node_id) {
                    _metrics.observe_rpc_decode_error();
                    spdlog::warn("rpc: dropping a raft message from node {} for group {}: {}", from,
                                 item.group, m ? "addressed to another node" : m.error());
                } else if (r) {
                    r->step(std::move(*m));
                }
                break;
            }
            case net::ItemKind::node_status: {
                auto status = decode_node_status(item.payload);
                if (!status || status->node != from) {
                    _metrics.observe_rpc_decode_error();
                    spdlog::warn("rpc: dropping a status from node {}: {}", from,
                                 status ? "it names another node" : status.error());
                    break;
                }
                peer.status = std::move(*status);
                peer.status_at = peer.heard_at;
                break;
            }
            case net::ItemKind::create_topic: {
                auto command = decode_command(item.payload);
                if (command && std::holds_alternative<CreateTopic>(*command)) {
                    request_topic(std::get<CreateTopic>(*command));
                } else {
                    _metrics.observe_rpc_decode_error();
                }
                break;
            }
            case net::ItemKind::transfer_leadership: {
                Replica* r = replica(item.group);
                if (r && item.payload.size() == 8 && r->is_leader())
                    (void)r->transfer_leadership(be::load64(item.payload.data()));
                break;
            }
            case net::ItemKind::kv_request:
            case net::ItemKind::kv_response:
                if (_item_handler) _item_handler(from, item);
                break;
            case net::ItemKind::metadata_request:
                receive_metadata_request(from, item);
                break;
            case net::ItemKind::metadata_response:
                receive_metadata_response(item);
                break;
        }
    }
}

void ClusterNode::on_tick(double late_seconds) {
    _metrics.observe_loop_lag(late_seconds);
    // A stall as long as an election timeout can cost this node its leaderships.
    // (No rate limit needed: each such warning takes a stall that long.)
    auto late_ms = static_cast<int64_t>(late_seconds * 1000);
    if (late_ms >= _config.election_timeout_ms) {
        spdlog::warn("node {}: the event loop was busy for {} ms (election timeout {} ms)", _config.node_id,
                     late_ms, _config.election_timeout_ms);
    }
    for (auto& [group, r] : _replicas) r->tick();
}

NodeInfo ClusterNode::self_info() const {
    return NodeInfo{_config.node_id, _config.rpc_addr, _config.advertised_kafka_addr, _config.redis_addr,
                    _config.admin_addr};
}

NodeStatus ClusterNode::self_status() const {
    NodeStatus s;
    NodeInfo info = self_info();
    s.node = info.id;
    s.rpc_addr = info.rpc_addr;
    s.kafka_addr = info.kafka_addr;
    s.redis_addr = info.redis_addr;
    s.admin_addr = info.admin_addr;
    s.controller_leader = controller_leader();
    s.not_serving_reason = not_serving_reason().value_or("");
    for (const auto& [group, r] : _replicas) {
        if (r->is_leader()) s.leading.push_back(r->report());
    }
    return s;
}

void ClusterNode::on_gossip() {
    std::string payload = encode_node_status(self_status());
    for (const auto& [id, peer] : _peers)
        _transport->send(id, net::Item{net::ItemKind::node_status, 0, payload});
    register_nodes();
    ensure_kv_topic();
    expire_metadata_requests();
}

// The controller's leader creates the key-value shards once every founding
// node is registered, so that they are spread over all of them.
void ClusterNode::ensure_kv_topic() {
    if (_config.kv_shards <= 0 || _kv_topic_requested || !replica(kControllerGroup)->is_leader() ||
        metadata().topic(kKvTopic) || metadata().nodes().size() < _config.initial_cluster.size())
        return;
    _kv_topic_requested = true;
    CreateTopic create;
    create.name = kKvTopic;
    create.partitions = _config.kv_shards;
    create.replication_factor = 0;  // the cluster's default
    submit(create, [this](ClusterResult<Ok> r) {
        _kv_topic_requested = false;
        if (!r && r.error().code != ClusterErrc::already_exists)
            spdlog::warn("controller: creating the key-value shards failed: {}", r.error().detail);
    });
}

bool ClusterNode::alive(uint64_t node) const {
    if (node == _config.node_id) return true;
    auto it = _peers.find(node);
    return it != _peers.end() && it->second.heard_at >= 0 && now_ms() - it->second.heard_at < kAliveWithinMs;
}

bool ClusterNode::stopping_or_gone(uint64_t node) const {
    if (!alive(node)) return true;
    auto it = _peers.find(node);
    return it != _peers.end() && it->second.status_at >= 0 &&
           it->second.status.not_serving_reason == kShuttingDown;
}

bool ClusterNode::serving(uint64_t node) const {
    if (node == _config.node_id) return !not_serving_reason();
    auto it = _peers.find(node);
    return alive(node) && it->second.status_at >= 0 && it->second.status.not_serving_reason.empty();
}

uint64_t ClusterNode::controller_leader() const {
    return replica(kControllerGroup)->leader();
}

// The controller's leader keeps every founding node's addresses registered,
// as the nodes gossip them.
void ClusterNode::register_nodes() {
    if (!replica(kControllerGroup)->is_leader()) return;
    for (const ClusterMember& m : _config.initial_cluster) {
        std::optional<NodeInfo> wanted;
        if (m.id == _config.node_id) {
            wanted = self_info();
        } else if (auto it = _peers.find(m.id); it != _peers.end() && it->second.status_at >= 0) {
            const NodeStatus& s = it->second.status;
            wanted = NodeInfo{s.node, s.rpc_addr, s.kafka_addr, s.redis_addr, s.admin_addr};
        }
        if (!wanted || _registering.contains(m.id)) continue;
        auto known = metadata().nodes().find(m.id);
        if (known != metadata().nodes().end() && known->second == *wanted) continue;
        _registering.insert(m.id);
        submit(RegisterNode{*wanted}, [this, id = m.id](ClusterResult<Ok> r) {
            _registering.erase(id);
            if (!r) spdlog::warn("controller: registering node {} failed: {}", id, r.error().detail);
        });
    }
}

CreateTopic ClusterNode::with_defaults(CreateTopic create) const {
    if (create.partitions <= 0) create.partitions = _config.default_partitions;
    if (create.replication_factor <= 0) {
        create.replication_factor = std::min<int32_t>(_config.default_replication_factor,
                                                      static_cast<int32_t>(_config.initial_cluster.size()));
    }
    return create;
}

void ClusterNode::submit(const MetadataCommand& requested, std::function<void(ClusterResult<Ok>)> done) {
    MetadataCommand command = requested;
    if (auto* create = std::get_if<CreateTopic>(&command)) *create = with_defaults(*create);
    Replica* controller = replica(kControllerGroup);
    if (!controller->is_leader()) {
        done(make_unexpected(ClusterError{ClusterErrc::not_controller,
                                          "this node does not lead the controller", controller->leader()}));
        return;
    }
    if (std::holds_alternative<CreateTopic>(command) || std::holds_alternative<AddPartitions>(command)) {
        // Placement needs every founding node: until the controller's leader
        // has registered them all, a topic would be placed on too few.
        size_t registered = metadata().nodes().size();
        if (registered < _config.initial_cluster.size()) {
            done(make_unexpected(ClusterError{
                ClusterErrc::busy, "the cluster is still forming: " + std::to_string(registered) + " of " +
                                       std::to_string(_config.initial_cluster.size()) +
                                       " nodes registered, retry shortly"}));
            return;
        }
    }
    if (auto checked = metadata().check(command); !checked) {
        ClusterErrc code = checked.error().code == MetadataErrc::topic_exists ? ClusterErrc::already_exists
                                                                              : ClusterErrc::invalid;
        done(make_unexpected(ClusterError{code, checked.error().detail, 0, checked.error().code}));
        return;
    }
    controller->propose(
        Controller::encode_entry(command, now_ms()), 1,
        [this, done = std::move(done)](Result<Appended, ProposeError> r) {
            if (!r) {
                ClusterErrc code = r.error().code == ProposeErrc::not_leader ? ClusterErrc::not_controller
                                                                             : ClusterErrc::busy;
                done(make_unexpected(ClusterError{code, r.error().detail, r.error().leader}));
                return;
            }
            auto outcome = _controller.take_outcome(static_cast<uint64_t>(r->last_offset + 1));
            if (outcome && !*outcome) {
                done(make_unexpected(
                    ClusterError{ClusterErrc::invalid, outcome->error().detail, 0, outcome->error().code}));
            } else {
                done(Ok{});
            }
        });
}

namespace {

storage::LogConfig log_config_of(const TopicInfo& topic) {
    storage::LogConfig c;
    auto number = [&](const char* key, auto& field) {
        if (auto it = topic.configs.find(key); it != topic.configs.end()) field = std::stoll(it->second);
    };
    number("segment.bytes", c.segment_bytes);
    number("segment.ms", c.segment_ms);
    number("retention.bytes", c.retention_bytes);
    number("retention.ms", c.retention_ms);
    number("flush.ms", c.flush_interval_ms);
    if (auto it = topic.configs.find("flush.policy"); it != topic.configs.end()) {
        c.flush = it->second == "never"      ? storage::FlushPolicy::never
                  : it->second == "interval" ? storage::FlushPolicy::interval
                                             : storage::FlushPolicy::every_append;
    }
    return c;
}

}  // namespace

// Opens a replica for every partition assigned to this node, and closes
// (and deletes) those of deleted topics.
void ClusterNode::reconcile_partitions() {
    for (auto it = _replicas.begin(); it != _replicas.end();) {
        if (it->first == kControllerGroup || metadata().locate_group(it->first)) {
            ++it;
            continue;
        }
        std::string dir = it->second->log().dir();
        spdlog::info("{}: topic deleted, removing the replica and {}", it->second->name(), dir);
        _state_machines.erase(it->first);
        it = _replicas.erase(it);
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
        if (ec) spdlog::warn("cannot remove {}: {}", dir, ec.message());
    }
    for (const auto& [name, topic] : metadata().topics()) {
        for (const PartitionInfo& p : topic.partitions) {
            if (auto it = _replicas.find(p.group); it != _replicas.end()) {
                it->second->log().reconfigure(log_config_of(topic));
                continue;
            }
            if (std::find(p.replicas.begin(), p.replicas.end(), _config.node_id) == p.replicas.end())
                continue;
            ReplicaOptions options;
            options.group = p.group;
            options.name = name + "-" + std::to_string(p.partition);
            options.dir = _config.data_dir + "/" + options.name;
            options.founding_voters = p.replicas;
            options.raft = raft_config(p.group);
            options.log = log_config_of(topic);
            options.replica_lag_ms = _config.replica_lag_time_ms;
            options.tick_ms = _config.tick_ms;
            options.campaign_if_new = p.replicas.front() == _config.node_id;
            std::shared_ptr<StateMachine> state_machine;
            if (_state_machine_factory) state_machine = _state_machine_factory(name, p.partition, p.group);
            if (state_machine) options.snapshot_every = _config.kv_snapshot_every;
            auto opened = Replica::open(*this, std::move(options), state_machine.get());
            if (!opened) {
                spdlog::error("{}", opened.error());
                continue;
            }
            if (state_machine) _state_machines[p.group] = std::move(state_machine);
            spdlog::info("{}-{}: replica opened (group {}, replicas {})", name, p.partition, p.group,
                         fmt::join(p.replicas, ","));
            _replicas.emplace(p.group, std::move(*opened));
        }
    }
}

// Moves each partition's leadership to its preferred replica once that
// replica serves and is fully caught up: leaders end up spread as placed.
void ClusterNode::on_balance() {
    if (_shutting_down) return;
    for (const auto& [group, r] : _replicas) {
        if (group == kControllerGroup || !r->is_leader()) continue;
        auto where = metadata().locate_group(group);
        if (!where) continue;
        const PartitionInfo* p = metadata().partition(where->first, where->second);
        uint64_t preferred = p->replicas.front();
        if (preferred == _config.node_id || !serving(preferred)) continue;
        LeaderReport report = r->report();
        for (const FollowerReport& f : report.followers) {
            if (f.node == preferred && f.in_sync && f.match == report.last) {
                spdlog::info("{}: handing leadership back to preferred replica {}", r->name(), preferred);
                (void)r->transfer_leadership(preferred);
            }
        }
    }
}

void ClusterNode::on_retention() {
    for (const auto& [group, r] : _replicas) {
        if (group != kControllerGroup && !_state_machines.contains(group)) r->enforce_retention();
    }
}

void ClusterNode::shutdown(int timeout_ms, std::function<void()> done) {
    _shutting_down = true;
    spdlog::info("node {} shutting down: handing over leaderships", _config.node_id);
    on_gossip();  // peers learn at once that this node no longer serves
    finish_shutdown_after(kShutdownPollMs, now_ms() + timeout_ms, std::move(done));
}

// Looks again after `ms`: in between, the loop writes what is queued (the
// gossip saying this node stops, the transfers' messages).
void ClusterNode::finish_shutdown_after(int ms, int64_t deadline, std::function<void()> done) {
    post_after(ms, [this, deadline, done = std::move(done)]() mutable {
        finish_shutdown(deadline, std::move(done));
    });
}

// Hands each leadership to the most caught-up replica that serves, and waits
// for that until the deadline, but not for groups whose other replicas are
// all gone or stopping too (a whole cluster stopping at once).
void ClusterNode::finish_shutdown(int64_t deadline, std::function<void()> done) {
    size_t leading = 0, movable = 0;
    for (const auto& [group, r] : _replicas) {
        if (!r->is_leader()) continue;
        ++leading;
        LeaderReport report = r->report();
        const FollowerReport* best = nullptr;
        bool may_serve = false;
        for (const FollowerReport& f : report.followers) {
            may_serve = may_serve || !stopping_or_gone(f.node);
            if (!serving(f.node) || !f.active) continue;
            if (!best || f.match > best->match) best = &f;
        }
        if (best) (void)r->transfer_leadership(best->node);
        if (best || may_serve) ++movable;
    }
    if (movable == 0 || now_ms() >= deadline) {
        if (movable > 0) {
            spdlog::warn("node {}: still leads {} groups at shutdown (no in-sync replica took over)",
                         _config.node_id, leading);
        } else if (leading > 0) {
            spdlog::info("node {}: still leads {} groups, whose other replicas are gone or stopping too",
                         _config.node_id, leading);
        } else {
            spdlog::info("node {}: leads no group any more", _config.node_id);
        }
        _timers->stop();
        _transport->stop();
        done();
        return;
    }
    finish_shutdown_after(kShutdownPollMs, deadline, std::move(done));
}

}  // namespace fjord::cluster
