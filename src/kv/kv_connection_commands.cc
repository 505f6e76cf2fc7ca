// Commands answered by the node a client is connected to: PING, ECHO,
// SELECT, INFO, COMMAND, CLIENT, CONFIG, HELLO, WAIT, and fjord's READONLY /
// READWRITE / WRITEMODE / READMODE, which set the connection's modes.
// CONFIG SET appendfsync changes the flush policy of every shard's log,
// cluster-wide, through the controller.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <optional>
#include <string>

#include "cluster/cluster_node.h"
#include "kv/kv_service.h"
#include "kv/kv_store.h"
#include "kv/shard.h"
#include "net/envelope.h"

namespace fjord::kv {

namespace {

constexpr int kWaitPollMs = 5;
// How long past its own end a forwarded WAIT's answer may take before this
// node stops waiting for it and looks at the leader's gossiped progress.
constexpr int64_t kWaitAnswerMarginMs = 50;
// A WAIT asked of the shard's leader by another node: [name, index, wanted, ms to wait].
// Not a client command: only the node transport carries it.
constexpr std::string_view kWaitOnLeader = "fjord.wait-on-leader";

Reply command_entry(const CommandSpec& spec) {
    std::vector<Reply> flags;
    flags.push_back(Reply::simple(spec.write ? "write" : "readonly"));
    if (spec.cls == CommandClass::connection) flags = {Reply::simple("fast")};
    return Reply::array({Reply::bulk(std::string(spec.name)), Reply::integer_of(spec.arity),
                         Reply::array(flags), Reply::integer_of(spec.first_key),
                         Reply::integer_of(spec.last_key), Reply::integer_of(spec.key_step)});
}

// Redis's appendfsync values as the shards' log flush policy (topic configs
// of the key-value topic): always = fsync before acknowledging (the default),
// everysec = every second, no = when the page cache writes back.
std::optional<cluster::SetTopicConfig> appendfsync_change(std::string_view value) {
    std::string v = upper(value);
    if (v == "EVERYSEC")
        return cluster::SetTopicConfig{
            cluster::kKvTopic, {{"flush.policy", "interval"}, {"flush.ms", "1000"}}, {}};
    if (v != "ALWAYS" && v != "NO") return std::nullopt;
    // flush.ms means nothing under these two: it goes, not to linger as a stale setting.
    return cluster::SetTopicConfig{
        cluster::kKvTopic, {{"flush.policy", v == "ALWAYS" ? "every_append" : "never"}}, {"flush.ms"}};
}

std::string appendfsync_of(const cluster::Metadata& metadata) {
    const cluster::TopicInfo* topic = metadata.topic(cluster::kKvTopic);
    if (topic == nullptr) return "always";
    auto policy = topic->configs.find("flush.policy");
    if (policy == topic->configs.end() || policy->second == "every_append") return "always";
    if (policy->second != "interval") return "no";
    // Redis has no name for another interval (set through Kafka's AlterConfigs): say what it is.
    auto ms = topic->configs.find("flush.ms");
    return ms == topic->configs.end() || ms->second == "1000" ? "everysec"
                                                              : "interval of " + ms->second + " ms";
}

const char* name_of(WriteMode m) {
    return m == WriteMode::sync ? "sync" : "async";
}
const char* name_of(ReadMode m) {
    return m == ReadMode::linearizable ? "linearizable" : m == ReadMode::lease ? "lease" : "stale";
}

}  // namespace

Reply KvService::connection_command(const std::shared_ptr<Session>& session, const Command& c,
                                    std::function<void(Reply)>& done, bool& answered_later) {
    std::string name = upper(c[0]);
    if (name == "PING") {
        if (c.size() > 2) return Reply::error("ERR wrong number of arguments for 'ping' command");
        return c.size() == 2 ? Reply::bulk(c[1]) : Reply::simple("PONG");
    }
    if (name == "ECHO") return Reply::bulk(c[1]);
    if (name == "QUIT") return Reply::ok();
    if (name == "SELECT") {
        if (c[1] != "0") return Reply::error("ERR DB index is out of range (fjord has only database 0)");
        return Reply::ok();
    }
    if (name == "READONLY" || name == "READWRITE") {
        session->read_mode = name == "READONLY" ? ReadMode::stale : _options.read_mode;
        return Reply::ok();
    }
    if ((name == "WRITEMODE" || name == "READMODE") && c.size() != 2) {
        if (c.size() > 2)
            return Reply::error(std::string("ERR wrong number of arguments for '") +
                                (name == "WRITEMODE" ? "writemode" : "readmode") + "' command");
        return Reply::simple(name == "WRITEMODE" ? name_of(session->write_mode)
                                                 : name_of(session->read_mode));
    }
    if (name == "WRITEMODE") {
        std::string mode = upper(c[1]);
        if (mode != "SYNC" && mode != "ASYNC") return Reply::error("ERR WRITEMODE takes SYNC or ASYNC");
        session->write_mode = mode == "SYNC" ? WriteMode::sync : WriteMode::async;
        return Reply::ok();
    }
    if (name == "READMODE") {
        std::string mode = upper(c[1]);
        if (mode == "LINEARIZABLE") {
            session->read_mode = ReadMode::linearizable;
        } else if (mode == "LEASE") {
            session->read_mode = ReadMode::lease;
        } else if (mode == "STALE") {
            session->read_mode = ReadMode::stale;
        } else {
            return Reply::error("ERR READMODE takes LINEARIZABLE, LEASE or STALE");
        }
        return Reply::ok();
    }
    if (name == "CLIENT") {
        std::string sub = upper(c[1]);
        if (sub == "SETNAME" && c.size() == 3) {
            if (c[2].find_first_of(" \n") != std::string::npos)
                return Reply::error(
                    "ERR Client names cannot contain spaces, newlines or special characters.");
            session->name = c[2];
            return Reply::ok();
        }
        if (sub == "GETNAME" && c.size() == 2)
            return session->name.empty() ? Reply::nil() : Reply::bulk(session->name);
        if (sub == "ID" && c.size() == 2) return Reply::integer_of(static_cast<int64_t>(session->id));
        if (sub == "SETINFO" && c.size() == 4) return Reply::ok();
        return Reply::error("ERR unknown subcommand or wrong number of arguments for 'client|" + c[1] + "'");
    }
    if (name == "CONFIG") {
        // fjord persists through its log, not RDB snapshots: appendonly is always yes.
        std::string sub = upper(c[1]);
        if (sub == "GET" && c.size() == 3) {
            std::string param = upper(c[2]);
            if (param == "SAVE") return Reply::array({Reply::bulk("save"), Reply::bulk("")});
            if (param == "APPENDONLY") return Reply::array({Reply::bulk("appendonly"), Reply::bulk("yes")});
            if (param == "APPENDFSYNC")
                return Reply::array(
                    {Reply::bulk("appendfsync"), Reply::bulk(appendfsync_of(_node.metadata()))});
            return Reply::array({});
        }
        if (sub == "SET" && c.size() == 4 && upper(c[2]) == "APPENDFSYNC") {
            auto change = appendfsync_change(c[3]);
            if (!change)
                return Reply::error(
                    "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - "
                    "argument(s) must be one of the following: always, everysec, no");
            answered_later = true;
            _node.submit_anywhere(*change, [done = std::move(done), alive = std::weak_ptr<bool>(_alive)](
                                               cluster::ClusterResult<Ok> r) {
                if (alive.expired()) return;
                if (r) return done(Reply::ok());
                // A refusal by the controller will not change on a retry; no controller leader may.
                done(Reply::error((r.error().metadata_code
                                       ? "ERR CONFIG SET appendfsync refused: "
                                       : "TRYAGAIN CONFIG SET appendfsync was not committed: ") +
                                  r.error().detail));
            });
            return Reply::nil();
        }
        if (sub == "RESETSTAT" && c.size() == 2) {
            _max_output_held = 0;
            _reads_answered_at_once = 0;
            return Reply::ok();
        }
        if (sub == "SET")
            return Reply::error("ERR CONFIG SET of '" + (c.size() > 2 ? c[2] : std::string()) +
                                "' is not supported by fjord (only appendfsync)");
        return Reply::error("ERR CONFIG " + c[1] +
                            " is not supported by fjord (CONFIG GET, CONFIG SET and CONFIG RESETSTAT are)");
    }
    if (name == "HELLO") {
        if (c.size() >= 2 && c[1] != "2") return Reply::error("NOPROTO fjord speaks RESP2 only");
        return Reply::array({Reply::bulk("server"), Reply::bulk("fjord"), Reply::bulk("version"),
                             Reply::bulk("7.0.0"), Reply::bulk("proto"), Reply::integer_of(2),
                             Reply::bulk("id"), Reply::integer_of(static_cast<int64_t>(session->id)),
                             Reply::bulk("mode"), Reply::bulk("standalone"), Reply::bulk("role"),
                             Reply::bulk("master"), Reply::bulk("modules"), Reply::array({})});
    }
    if (name == "COMMAND") {
        std::string sub = c.size() > 1 ? upper(c[1]) : "";
        if (sub == "COUNT") return Reply::integer_of(static_cast<int64_t>(command_table().size()));
        if (sub == "DOCS") return Reply::array({});
        if (sub == "INFO") {
            std::vector<Reply> entries;
            for (size_t i = 2; i < c.size(); ++i) {
                const CommandSpec* spec = find_command(c[i]);
                entries.push_back(spec ? command_entry(*spec) : Reply::nil_array());
            }
            return Reply::array(std::move(entries));
        }
        if (!sub.empty()) return Reply::error("ERR unknown subcommand '" + c[1] + "'");
        std::vector<Reply> entries;
        for (const CommandSpec& spec : command_table()) entries.push_back(command_entry(spec));
        return Reply::array(std::move(entries));
    }
    if (name == "INFO") return info(c.size() > 1 ? c[1] : "default");
    if (name == "WAIT") {
        int64_t wanted = 0, timeout = 0;
        if (!parse_int64(c[1], wanted) || !parse_int64(c[2], timeout) || timeout < 0)
            return Reply::error("ERR value is not an integer or out of range");
        answered_later = true;
        int64_t deadline = timeout == 0 ? std::numeric_limits<int64_t>::max() : now_ms() + timeout;
        wait_for_replicas(session, wanted, deadline, std::move(done));
        return Reply::nil();
    }
    return Reply::error("ERR unknown command '" + c[0] + "'");
}

// How many replicas other than the leader hold the log up to `index`, as the
// shard's leader reports it (our own view, or its gossip).
int64_t KvService::replicas_holding(uint64_t group, uint64_t index) const {
    auto where = _node.metadata().locate_group(group);
    if (!where) return 0;
    auto view = _node.partition(where->first, where->second);
    if (!view) return 0;
    int64_t n = 0;
    for (const cluster::ReplicaView& r : view->replica_status) {
        if (static_cast<int64_t>(r.node) != view->leader && r.match >= static_cast<int64_t>(index)) ++n;
    }
    return n;
}

void KvService::wait_for_replicas(const std::shared_ptr<Session>& session, int64_t wanted, int64_t deadline,
                                  std::function<void(Reply)> done, bool ask_leader) {
    uint64_t group = session->last_write_group;
    if (group == 0) {
        // No write yet: every replica holds all of it.
        int64_t holding = 0;
        const auto& groups = shard_groups();
        if (!groups.empty()) {
            if (auto where = _node.metadata().locate_group(groups.front())) {
                if (auto view = _node.partition(where->first, where->second))
                    holding = static_cast<int64_t>(view->replicas.size()) - 1;
            }
        }
        return done(Reply::integer_of(holding));
    }
    uint64_t index = session->last_write.at(group);
    uint64_t leader = leader_of(group);
    if (!ask_leader || leader == 0 || leader == _node.id()) {
        auto cancelled = [session] { return session->closed; };
        return wait_here(group, index, wanted, deadline, cancelled,
                         [done = std::move(done)](int64_t holding) { done(Reply::integer_of(holding)); });
    }
    // Each forwarded wait ends well before the forwarding timeout; a longer WAIT asks again.
    int64_t now = now_ms();
    int64_t until = std::min(deadline, now + _options.timeout_ms / 2);
    ShardRequest request;
    request.group = group;
    request.command = {std::string(kWaitOnLeader), std::to_string(index), std::to_string(wanted),
                       std::to_string(until - now)};
    forward(
        leader, request,
        [this, session, wanted, deadline, done = std::move(done),
         alive = std::weak_ptr<bool>(_alive)](ShardAnswer a) mutable {
            if (alive.expired()) return;
            bool counted = a.status == ShardAnswer::Status::answer && a.reply.kind == Reply::Kind::integer;
            if (counted && (a.reply.integer >= wanted || now_ms() >= deadline || session->closed))
                return done(std::move(a.reply));
            // Not enough yet: ask again; no answer (the leader moved or stopped): look here.
            wait_for_replicas(session, wanted, deadline, std::move(done), counted);
        },
        until - now + kWaitAnswerMarginMs);
}

void KvService::wait_here(uint64_t group, uint64_t index, int64_t wanted, int64_t deadline,
                          std::function<bool()> cancelled, std::function<void(int64_t)> done) {
    int64_t holding = replicas_holding(group, index);
    if (holding >= wanted || now_ms() >= deadline || cancelled()) return done(holding);
    auto timer = std::make_shared<boost::asio::steady_timer>(_io, std::chrono::milliseconds(kWaitPollMs));
    timer->async_wait([this, timer, alive = std::weak_ptr<bool>(_alive), group, index, wanted, deadline,
                       cancelled = std::move(cancelled),
                       done = std::move(done)](boost::system::error_code ec) mutable {
        if (ec || alive.expired()) return;
        wait_here(group, index, wanted, deadline, std::move(cancelled), std::move(done));
    });
}

bool KvService::receive_wait(uint64_t from, uint64_t id, const ShardRequest& request) {
    const Command& c = request.command;
    if (c.empty() || c[0] != kWaitOnLeader) return false;
    int64_t index = 0, wanted = 0, wait_ms = 0;
    if (c.size() != 4 || !parse_int64(c[1], index) || !parse_int64(c[2], wanted) ||
        !parse_int64(c[3], wait_ms) || index < 0 || wait_ms < 0) {
        spdlog::warn("kv: dropping a malformed forwarded WAIT from node {}", from);
        return true;
    }
    // Never longer than the asking node waits for the answer, whatever its settings.
    wait_ms = std::min<int64_t>(wait_ms, _options.timeout_ms / 2);
    wait_here(
        request.group, static_cast<uint64_t>(index), wanted, now_ms() + wait_ms, [] { return false; },
        [this, from, id, group = request.group](int64_t holding) {
            ShardAnswer a;
            a.reply = Reply::integer_of(holding);
            answer_node(from, id, group, a);
        });
    return true;
}

Reply KvService::info(const std::string& requested) const {
    std::string section = upper(requested);
    bool all = section == "DEFAULT" || section == "ALL" || section == "EVERYTHING";
    std::string out;
    auto line = [&out](const std::string& k, const std::string& v) { out += k + ":" + v + "\r\n"; };
    if (all || section == "SERVER") {
        out += "# Server\r\n";
        line("redis_version", "7.0.0");
        line("fjord_node_id", std::to_string(_node.id()));
        line("redis_mode", "standalone");
        line("fjord_write_mode", name_of(_options.write_mode));
        line("fjord_read_mode", name_of(_options.read_mode));
        line("process_id", std::to_string(::getpid()));
        line("uptime_in_seconds", std::to_string((now_ms() - _started_ms) / 1000));
        out += "\r\n";
    }
    if (all || section == "CLIENTS") {
        out += "# Clients\r\n";
        line("connected_clients", std::to_string(_connections));
        line("fjord_max_output_buffer", std::to_string(_max_output_held));
        out += "\r\n";
    }
    if (all || section == "STATS") {
        out += "# Stats\r\n";
        // Lease reads this node led and answered from its store as it read
        // them, with no queueing (KvService::answer_now).
        line("fjord_reads_answered_at_once", std::to_string(_reads_answered_at_once));
        out += "\r\n";
    }
    int64_t now = wall_ms();
    if (all || section == "REPLICATION") {
        out += "# Replication\r\n";
        size_t leading = 0;
        int64_t offset = 0;
        std::map<uint64_t, std::pair<int64_t, int64_t>> followers;  // node -> (sum of matches, max lag)
        std::string shards;
        for (const auto& [group, kv] : _shards) {
            cluster::Replica* r = _node.replica(group);
            if (!r) continue;
            offset += r->high_watermark();
            bool leads = r->is_leader();
            if (leads) {
                ++leading;
                cluster::LeaderReport report = r->report();
                for (const cluster::FollowerReport& f : report.followers) {
                    auto& [match, lag] = followers[f.node];
                    match += f.match;
                    lag = std::max(lag, report.last - f.match);
                }
            }
            shards += "shard" + std::to_string(kv->partition()) + ":role=" + (leads ? "leader" : "follower") +
                      ",leader=" + std::to_string(r->leader()) + ",term=" + std::to_string(r->term()) +
                      ",applied=" + std::to_string(r->applied_index()) +
                      ",commit=" + std::to_string(r->commit_index()) +
                      ",last=" + std::to_string(r->last_index()) + "\r\n";
        }
        // Each node leads some shards: it is a master for those and a replica of the others.
        line("role", leading > 0 ? "master" : "slave");
        line("leading_shards", std::to_string(leading));
        line("connected_slaves", std::to_string(followers.size()));
        size_t i = 0;
        for (const auto& [node, f] : followers) {
            auto info = _node.node(node);
            std::string addr = info ? info->info.redis_addr : "";
            std::string ip = addr.substr(0, addr.rfind(':'));
            std::string port = addr.substr(addr.rfind(':') + 1);
            line("slave" + std::to_string(i++),
                 "ip=" + ip + ",port=" + port + ",node=" + std::to_string(node) +
                     ",state=" + (info && info->alive ? "online" : "offline") +
                     ",offset=" + std::to_string(f.first) + ",lag=" + std::to_string(f.second));
        }
        line("master_repl_offset", std::to_string(offset));
        out += shards;
        out += "\r\n";
    }
    if (all || section == "KEYSPACE") {
        out += "# Keyspace\r\n";
        size_t keys = 0;
        for (const auto& [group, kv] : _shards) {
            if (_node.replica(group)) keys += kv->store().live_size(now);
        }
        if (keys > 0) line("db0", "keys=" + std::to_string(keys) + ",expires=0,avg_ttl=0");
        out += "\r\n";
    }
    return Reply::bulk(std::move(out));
}

}  // namespace fjord::kv
