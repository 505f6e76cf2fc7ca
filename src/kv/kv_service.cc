#include "kv/kv_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/container/small_vector.hpp>
#include <chrono>
#include <limits>

#include "cluster/cluster_node.h"
#include "common/crc32c.h"
#include "common/wall_clock.h"
#include "kv/shard.h"
#include "net/envelope.h"

namespace fjord::kv {

namespace asio = boost::asio;

namespace {
constexpr int kRetryEveryMs = 10;
constexpr int kHousekeepingMs = 100;
constexpr size_t kExpirePerRound = 256;
constexpr int64_t kReadTimeoutMs = 2000;
// Commands of a connection started together without allocating: a pipeline's worth.
constexpr size_t kInlineRunnable = 16;

// The part of a key that picks its shard: the first non-empty {tag}, else all of it.
std::string_view hash_part(std::string_view key) {
    size_t open = key.find('{');
    if (open == std::string_view::npos) return key;
    size_t close = key.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return key;
    return key.substr(open + 1, close - open - 1);
}

ShardAnswer answer(Reply reply, uint64_t write_index = 0) {
    ShardAnswer a;
    a.reply = std::move(reply);
    a.write_index = write_index;
    return a;
}

ShardAnswer retry(uint64_t leader) {
    ShardAnswer a;
    a.status = ShardAnswer::Status::retry;
    a.leader = leader;
    return a;
}

}  // namespace

struct KvService::Pending {
    int64_t deadline;
    uint64_t leader;
    AnswerDone done;
};

struct KvService::Timers {
    explicit Timers(asio::io_context& io) : housekeeping(io) {}
    asio::steady_timer housekeeping;
};

KvService::KvService(asio::io_context& io, cluster::ClusterNode& node, KvOptions options)
    : _io(io), _node(node), _options(options), _alive(std::make_shared<bool>(true)) {}

KvService::~KvService() {
    stop();
}

void KvService::start() {
    _started_ms = now_ms();
    _node.set_state_machine_factory([this](const std::string& topic, int32_t partition, uint64_t group) {
        return make_shard(topic, partition, group);
    });
    _node.set_item_handler([this](uint64_t from, net::Item& item) { receive(from, item); });
    _timers = std::make_unique<Timers>(_io);
    arm_housekeeping();
}

void KvService::arm_housekeeping() {
    _timers->housekeeping.expires_after(std::chrono::milliseconds(kHousekeepingMs));
    _timers->housekeeping.async_wait(
        [this, alive = std::weak_ptr<bool>(_alive)](boost::system::error_code ec) {
            if (ec || alive.expired()) return;
            expire_keys();
            expire_forwards();
            arm_housekeeping();
        });
}

void KvService::stop() {
    if (_timers) _timers->housekeeping.cancel();
    _alive.reset();
}

std::shared_ptr<cluster::StateMachine> KvService::make_shard(const std::string& topic, int32_t partition,
                                                             uint64_t group) {
    if (topic != cluster::kKvTopic) return nullptr;
    auto shard = std::make_shared<KvShard>(group, partition);
    _shards[group] = shard;
    return shard;
}

KvShard* KvService::shard(uint64_t group) const {
    auto it = _shards.find(group);
    return it == _shards.end() ? nullptr : it->second.get();
}

int64_t KvService::now_ms() const {
    return _node.now_ms();
}

int64_t KvService::wall_ms() {
    return wall_clock_ms();
}

const std::vector<uint64_t>& KvService::shard_groups() const {
    const cluster::Metadata& metadata = _node.metadata();
    if (_groups_version == metadata.version() && !_groups.empty()) return _groups;
    _groups_version = metadata.version();
    _groups.clear();
    if (const cluster::TopicInfo* topic = metadata.topic(cluster::kKvTopic)) {
        for (const auto& partition : topic->partitions) _groups.push_back(partition.group);
    }
    return _groups;
}

uint64_t KvService::shard_of(std::string_view key, const std::vector<uint64_t>& groups) const {
    return groups[crc32c(hash_part(key)) % groups.size()];
}

ShardRequest KvService::request_for(const Session& session, uint64_t group, Command command) const {
    ShardRequest r;
    r.group = group;
    r.command = std::move(command);
    r.write_mode = session.write_mode;
    r.read_mode = session.read_mode;
    if (auto it = session.last_write.find(group); it != session.last_write.end()) r.min_index = it->second;
    return r;
}

void KvService::execute(const std::shared_ptr<Session>& session, Command command,
                        std::function<void(Reply)> done) {
    const CommandSpec* spec = find_command(command[0]);
    if (!spec) {
        std::string args;
        for (size_t i = 1; i < command.size() && i <= 8; ++i) args += "'" + command[i] + "' ";
        done(Reply::error("ERR unknown command '" + command[0] + "', with args beginning with: " + args));
        return;
    }
    if (!arity_ok(*spec, command.size())) {
        done(Reply::error("ERR wrong number of arguments for '" + std::string(spec->name) + "' command"));
        return;
    }
    switch (spec->cls) {
        case CommandClass::connection: {
            bool later = false;
            Reply reply = connection_command(session, command, done, later);
            if (!later) done(std::move(reply));
            return;
        }
        case CommandClass::multi_read:
        case CommandClass::multi_write:
            return run_multi(session, *spec, std::move(command), std::move(done));
        case CommandClass::keyspace:
            return run_keyspace(session, std::move(command), std::move(done));
        case CommandClass::read:
        case CommandClass::write:
            break;
    }
    const std::vector<uint64_t>& groups = shard_groups();
    if (groups.empty()) {
        done(Reply::error("TRYAGAIN the key-value shards are not created yet; the cluster is still forming"));
        return;
    }
    uint64_t group = shard_of(command[1], groups);
    run_for(session, request_for(*session, group, std::move(command)), std::move(done));
}

std::shared_ptr<Session> KvService::new_session() {
    auto session = std::make_shared<Session>();
    session->id = _next_session++;
    session->write_mode = _options.write_mode;
    session->read_mode = _options.read_mode;
    return session;
}

// The common case of a read served by the leader under its lease, taken
// without queueing, batching or callbacks: nothing of the connection's is
// pending on the shard, and the leader has applied its lease read point and
// the connection's last write there.
bool KvService::answer_now(const Session& session, const Command& command, int64_t wall_now,
                           std::string& out) {
    if (session.read_mode != ReadMode::lease) return false;
    const CommandSpec* spec = find_command(command[0]);
    if (!spec || spec->cls != CommandClass::read || !arity_ok(*spec, command.size())) return false;
    const std::vector<uint64_t>& groups = shard_groups();
    if (groups.empty()) return false;
    uint64_t group = shard_of(command[1], groups);
    if (auto q = session.queued.find(group); q != session.queued.end() && !q->second.slots.empty())
        return false;
    KvShard* kv = shard(group);
    cluster::Replica* replica = kv ? _node.replica(group) : nullptr;
    if (!replica) return false;
    uint64_t point = replica->lease_read_point();
    if (point == 0) return false;
    if (auto w = session.last_write.find(group);
        w != session.last_write.end() && replica->applied_index() < w->second)
        return false;
    encode_read(*spec, command, kv->store(), wall_now, out);
    ++_reads_answered_at_once;
    return true;
}

struct ShardCommand {
    ShardRequest request;
    int64_t deadline;  // attempts that find no leader are retried until then
    std::function<void(Reply)> done;
};

void KvService::run_for(const std::shared_ptr<Session>& session, ShardRequest request,
                        std::function<void(Reply)> done) {
    uint64_t group = request.group;
    bool write = find_command(request.command[0])->write;
    auto command = std::make_shared<ShardCommand>(
        ShardCommand{std::move(request), now_ms() + _options.retry_ms, std::move(done)});
    Session::Queued q;
    q.id = session->next_op++;
    q.write = write;
    q.command = std::move(command);
    Session::ShardQueue& queue = session->queued[group];
    queue.slots.push_back(std::move(q));
    ++queue.not_started;
    start_queued(session, group);
}

// Starts, in order, the commands that may run now (kv/pipeline_order.h).
void KvService::start_queued(const std::shared_ptr<Session>& session, uint64_t group) {
    Session::ShardQueue& queue = session->queued[group];
    if (queue.not_started == 0) return;
    // Taken out first: an attempt may be answered at once, which changes the queue.
    boost::container::small_vector<std::pair<uint64_t, std::shared_ptr<ShardCommand>>, kInlineRunnable> ready;
    for (size_t i : take_runnable<boost::container::small_vector<size_t, kInlineRunnable>>(queue.slots))
        ready.emplace_back(queue.slots[i].id, queue.slots[i].command);
    queue.not_started -= ready.size();
    for (const auto& [id, command] : ready) attempt(session, group, id, command);
}

void KvService::attempt(const std::shared_ptr<Session>& session, uint64_t group, uint64_t id,
                        const std::shared_ptr<ShardCommand>& command) {
    if (auto it = session->last_write.find(group); it != session->last_write.end())
        command->request.min_index = it->second;  // a read waits for the connection's own writes
    auto alive = std::weak_ptr<bool>(_alive);
    run(command->request, [this, session, group, id, op = command, alive](ShardAnswer a) {
        Session::ShardQueue& queue = session->queued[group];
        auto entry = std::find_if(queue.slots.begin(), queue.slots.end(),
                                  [id](const Session::Queued& q) { return q.id == id; });
        if (a.status == ShardAnswer::Status::retry) {
            // No leader took it, so it surely did not run: it is tried again
            // shortly, and the session's later commands wait for it.
            if (!alive.expired() && now_ms() < op->deadline && entry != queue.slots.end()) {
                entry->started = false;
                ++queue.not_started;
                entry->retrying = entry->retried = true;
                return retry_later(session, group);
            }
            a = answer(Reply::error(no_leader_error(alive.expired() ? 0 : group)));
        }
        if (a.write_index > 0) {
            session->last_write[group] = a.write_index;
            session->last_write_group = group;
        }
        if (entry != queue.slots.end()) queue.slots.erase(entry);  // it had started: not_started holds
        op->done(std::move(a.reply));
        if (!alive.expired()) start_queued(session, group);
    });
}

// One timer per session and shard, however many of its commands wait.
void KvService::retry_later(const std::shared_ptr<Session>& session, uint64_t group) {
    if (!session->retry_armed.insert(group).second) return;
    auto timer = std::make_shared<asio::steady_timer>(_io, std::chrono::milliseconds(kRetryEveryMs));
    timer->async_wait(
        [this, timer, session, group, alive = std::weak_ptr<bool>(_alive)](boost::system::error_code ec) {
            session->retry_armed.erase(group);
            if (ec || alive.expired()) return;
            for (Session::Queued& q : session->queued[group].slots) q.retrying = false;
            start_queued(session, group);
        });
}

std::string KvService::no_leader_error(uint64_t group) const {
    std::string shard = "a key-value shard";
    if (group != 0) {
        if (auto where = _node.metadata().locate_group(group))
            shard = "key-value shard " + std::to_string(where->second);
    }
    return "TRYAGAIN no leader for " + shard + " yet; the command was not run";
}

// Runs a command once on its shard's leader, wherever that is; answers
// `retry` when no node took it (it then surely did not run).
uint64_t KvService::leader_of(uint64_t group) const {
    if (cluster::Replica* replica = _node.replica(group); replica && replica->leader() != 0)
        return replica->leader();
    if (auto where = _node.metadata().locate_group(group)) {
        if (auto view = _node.partition(where->first, where->second); view && view->leader > 0)
            return static_cast<uint64_t>(view->leader);
    }
    return 0;
}

void KvService::run(const ShardRequest& request, AnswerDone done) {
    cluster::Replica* replica = _node.replica(request.group);
    bool write = find_command(request.command[0])->write;
    // A read is served by any replica: a stale one at once, a linearizable
    // one once the replica has applied the leader's read index (thesis §6.4).
    bool read_here = !write && replica && shard(request.group) &&
                     (request.read_mode == ReadMode::stale || replica->leader() != 0);
    uint64_t leader = read_here ? _node.id() : leader_of(request.group);
    if (leader == _node.id()) return run_here(request, std::move(done));
    if (leader == 0) return done(retry(0));
    forward(leader, request, std::move(done));
}

// On the shard's leader (or on any replica, for a stale read).
void KvService::run_here(const ShardRequest& request, AnswerDone done) {
    cluster::Replica* replica = _node.replica(request.group);
    KvShard* kv = shard(request.group);
    if (!replica || !kv) return done(retry(0));
    const CommandSpec* spec = find_command(request.command[0]);
    if (!spec->write && request.read_mode == ReadMode::stale) {
        return done(answer(evaluate_read(request.command, kv->store(), wall_ms())));
    }
    if (!spec->write) return read_here(*replica, request, std::move(done));
    if (!replica->is_leader()) return done(retry(replica->leader()));
    // A new leader first applies what earlier leaders committed.
    if (!replica->applied_own_term()) return done(retry(_node.id()));
    auto reply = std::make_shared<Reply>();
    *reply = kv->write(
        *replica, request.command, wall_ms(), _options.limits, request.write_mode == WriteMode::async,
        [reply, done = std::move(done), group = request.group,
         this](Result<uint64_t, cluster::ProposeError> r) {
            if (r) return done(answer(std::move(*reply), *r));
            uint64_t self = _node.id();
            cluster::Replica* now_replica = _node.replica(group);
            std::string shard_name = now_replica ? now_replica->name() : "group " + std::to_string(group);
            switch (r.error().code) {
                case cluster::ProposeErrc::not_leader:
                case cluster::ProposeErrc::busy:
                case cluster::ProposeErrc::lost:
                    return done(retry(r.error().leader));
                case cluster::ProposeErrc::storage_full:
                    return done(answer(Reply::error("ERR disk full on node " + std::to_string(self) +
                                                    ", the leader of " + shard_name +
                                                    ": the write was not stored there and may or may "
                                                    "not be applied")));
                case cluster::ProposeErrc::failed:
                    return done(answer(
                        Reply::error("ERR " + r.error().detail + "; the write may or may not be applied")));
                case cluster::ProposeErrc::invalid:
                    return done(answer(Reply::error("ERR " + r.error().detail)));
            }
        });
    schedule_flush();
}

// Reads of one shard that arrive before the next flush_batches() share one read
// index; each is served once the replica has applied it (and the
// connection's own last write there).
void KvService::read_here(cluster::Replica& replica, const ShardRequest& request, AnswerDone done) {
    if (!replica.is_leader() && replica.leader() == 0) return done(retry(0));
    bool lease = request.read_mode == ReadMode::lease;
    ReadBatch& batch = _read_batches[{request.group, lease}];
    uint64_t group = request.group;
    uint64_t min_index = request.min_index;
    batch.push_back([this, group, min_index, command = request.command,
                     done = std::move(done)](Result<uint64_t, cluster::ProposeError> r) {
        if (!r) return done(retry(r.error().leader));
        auto serve = [this, group, command, done](Result<uint64_t, cluster::ProposeError> applied) {
            KvShard* s = shard(group);
            if (!applied || !s) return done(retry(0));
            done(answer(evaluate_read(command, s->store(), wall_ms())));
        };
        cluster::Replica* rep = _node.replica(group);
        if (!rep) return done(retry(0));
        // Read-your-writes: an async write this connection made may not be applied yet.
        if (*r < min_index) return rep->await_applied(min_index, serve);
        serve(*r);
    });
    schedule_flush();
}

void KvService::forward(uint64_t leader, const ShardRequest& request, AnswerDone done, int64_t timeout_ms) {
    uint64_t id = _next_request++;
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : _options.timeout_ms);
    _forwarded.emplace(id, std::make_unique<Pending>(Pending{deadline, leader, std::move(done)}));
    _node.send_item(leader, net::Item{net::ItemKind::kv_request, request.group, encode_request(id, request)});
}

void KvService::answer_node(uint64_t from, uint64_t id, uint64_t group, const ShardAnswer& a) {
    _node.send_item(from, net::Item{net::ItemKind::kv_response, group, encode_answer(id, a)});
}

void KvService::receive(uint64_t from, net::Item& item) {
    if (item.kind == net::ItemKind::kv_request) {
        auto decoded = decode_request(item.payload, item.group);
        if (!decoded) {
            spdlog::warn("kv: dropping a request from node {}: {}", from, decoded.error());
            return;
        }
        auto [id, request] = std::move(*decoded);
        if (receive_wait(from, id, request)) return;
        if (!find_command(request.command[0])) {
            spdlog::warn("kv: dropping a request from node {}: unknown command", from);
            return;
        }
        run_here(request, [this, from, id = id, group = item.group](ShardAnswer a) {
            answer_node(from, id, group, a);
        });
        return;
    }
    auto decoded = decode_answer(item.payload);
    if (!decoded) {
        spdlog::warn("kv: dropping an answer from node {}: {}", from, decoded.error());
        return;
    }
    auto it = _forwarded.find(decoded->first);
    if (it == _forwarded.end()) return;  // timed out already
    AnswerDone done = std::move(it->second->done);
    _forwarded.erase(it);
    done(std::move(decoded->second));
}

void KvService::expire_forwards() {
    int64_t now = now_ms();
    for (auto it = _forwarded.begin(); it != _forwarded.end();) {
        // A leader that went silent will not answer: say so now rather than at the deadline.
        auto leader = _node.node(it->second->leader);
        bool gone = leader && !leader->alive;
        if (it->second->deadline > now && !gone) {
            ++it;
            continue;
        }
        AnswerDone done = std::move(it->second->done);
        uint64_t node = it->second->leader;
        it = _forwarded.erase(it);
        std::string why = gone ? "stopped answering"
                               : "did not answer within " + std::to_string(_options.timeout_ms) + " ms";
        done(answer(Reply::error("ERR node " + std::to_string(node) + ", the shard's leader, " + why +
                                 "; the command may or may not have run")));
    }
}

// The open batches are proposed once the loop has polled its sockets again
// (the first post runs before that poll, the second after it), so that the
// commands already on their way, typically the rest of the clients'
// pipelines, share the batch: 40 % fewer Raft entries, fsyncs and acks
// under load, for one more turn of the queue when idle.
void KvService::schedule_flush() {
    if (_flush_posted) return;
    _flush_posted = true;
    asio::post(_io, [this, alive = std::weak_ptr<bool>(_alive)] {
        if (alive.expired()) return;
        asio::post(_io, [this, alive] {
            if (alive.expired()) return;
            _flush_posted = false;
            flush_batches();
        });
    });
}

void KvService::flush_batches() {
    for (auto& [group, kv] : _shards) {
        if (!kv->has_open_batch()) continue;
        if (cluster::Replica* replica = _node.replica(group)) kv->flush(*replica);
    }
    auto reads = std::move(_read_batches);
    _read_batches.clear();
    for (auto& [key, waiters] : reads) {
        auto [group, lease] = key;
        cluster::Replica* replica = _node.replica(group);
        auto shared = std::make_shared<ReadBatch>(std::move(waiters));
        auto answer_all = [shared](Result<uint64_t, cluster::ProposeError> r) {
            for (auto& w : *shared) w(r);
        };
        if (!replica) {
            answer_all(
                make_unexpected(cluster::ProposeError{cluster::ProposeErrc::not_leader, 0, "no replica"}));
            continue;
        }
        replica->read(lease ? raft::ReadMode::lease : raft::ReadMode::read_index, kReadTimeoutMs, answer_all);
    }
}

// The leader decides when a key has expired and replicates its deletion.
void KvService::expire_keys() {
    int64_t now = wall_ms();
    for (auto& [group, kv] : _shards) {
        cluster::Replica* replica = _node.replica(group);
        if (!replica || !replica->applied_own_term()) continue;
        kv->expire_keys(*replica, now, kExpirePerRound);
    }
    schedule_flush();
}

}  // namespace fjord::kv
