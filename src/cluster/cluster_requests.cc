// Requests a node serves for its clients (the admin API and the command
// line): topic creation, leadership transfer, appends and committed reads.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "cluster/cluster_node.h"
#include "common/big_endian.h"
#include "common/byte_codec.h"
#include "common/wall_clock.h"
#include "net/transport.h"
#include "storage/record_batch.h"

namespace fjord::cluster {

namespace asio = boost::asio;

namespace {

constexpr int64_t kForwardedMetadataTimeoutMs = 5000;

// metadata_request:  [u64 id][bytes command JSON]
// metadata_response: [u64 id][u8 ok][u8 cluster errc][u8 has metadata errc][u8 metadata errc][u64
// leader][bytes detail]
std::string encode_metadata_response(uint64_t id, const ClusterResult<Ok>& r) {
    std::string out;
    ByteWriter w(out);
    w.u64(id);
    w.boolean(r.has_value());
    ClusterError e = r ? ClusterError{ClusterErrc::invalid, ""} : r.error();
    w.u8(static_cast<uint8_t>(e.code));
    w.boolean(e.metadata_code.has_value());
    w.u8(static_cast<uint8_t>(e.metadata_code.value_or(MetadataErrc::invalid_config)));
    w.u64(e.leader);
    w.bytes(e.detail);
    return out;
}

}  // namespace

void ClusterNode::submit_anywhere(const MetadataCommand& command,
                                  std::function<void(ClusterResult<Ok>)> done) {
    uint64_t controller = controller_leader();
    if (controller == _config.node_id) return submit(command, std::move(done));
    if (controller == 0) {
        done(make_unexpected(
            ClusterError{ClusterErrc::not_controller, "no controller leader is known yet", 0}));
        return;
    }
    uint64_t id = _next_metadata_request++;
    _metadata_requests.emplace(id, MetadataRequest{now_ms() + kForwardedMetadataTimeoutMs, std::move(done)});
    std::string payload;
    ByteWriter w(payload);
    w.u64(id);
    w.bytes(encode_command(command));
    _transport->send(controller,
                     net::Item{net::ItemKind::metadata_request, kControllerGroup, std::move(payload)});
}

void ClusterNode::receive_metadata_request(uint64_t from, const net::Item& item) {
    ByteReader r(item.payload);
    uint64_t id = r.u64("id");
    auto command = decode_command(r.bytes("command"));
    r.expect_end();
    if (!r.ok() || !command) {
        _metrics.observe_rpc_decode_error();
        spdlog::warn("rpc: dropping a metadata request from node {}: {}", from,
                     r.ok() ? command.error() : r.error());
        return;
    }
    submit(*command, [this, from, id](ClusterResult<Ok> result) {
        _transport->send(from, net::Item{net::ItemKind::metadata_response, kControllerGroup,
                                         encode_metadata_response(id, result)});
    });
}

void ClusterNode::receive_metadata_response(const net::Item& item) {
    ByteReader r(item.payload);
    uint64_t id = r.u64("id");
    bool ok = r.boolean("ok");
    auto code = r.u8("cluster error");
    bool has_metadata_code = r.boolean("has metadata error");
    auto metadata_code = r.u8("metadata error");
    uint64_t leader = r.u64("leader");
    std::string detail(r.bytes("detail"));
    r.expect_end();
    if (r.ok() && (code > static_cast<uint8_t>(ClusterErrc::failed) ||
                   metadata_code > static_cast<uint8_t>(MetadataErrc::invalid_node)))
        r.fail("unknown error code");
    if (!r.ok()) {
        _metrics.observe_rpc_decode_error();
        spdlog::warn("rpc: dropping a metadata response: {}", r.error());
        return;
    }
    auto it = _metadata_requests.find(id);
    if (it == _metadata_requests.end()) return;  // timed out already
    auto done = std::move(it->second.done);
    _metadata_requests.erase(it);
    if (ok) return done(Ok{});
    ClusterError e{static_cast<ClusterErrc>(code), std::move(detail), leader};
    if (has_metadata_code) e.metadata_code = static_cast<MetadataErrc>(metadata_code);
    done(make_unexpected(std::move(e)));
}

void ClusterNode::expire_metadata_requests() {
    int64_t now = now_ms();
    for (auto it = _metadata_requests.begin(); it != _metadata_requests.end();) {
        if (it->second.deadline > now) {
            ++it;
            continue;
        }
        auto done = std::move(it->second.done);
        it = _metadata_requests.erase(it);
        done(make_unexpected(
            ClusterError{ClusterErrc::timeout, "the controller's leader did not answer within " +
                                                   std::to_string(kForwardedMetadataTimeoutMs) + " ms"}));
    }
}

void ClusterNode::create_topic(CreateTopic request, std::function<void(ClusterResult<Ok>)> done) {
    submit(request, std::move(done));
}

ClusterResult<Replica*> ClusterNode::local_leader(const std::string& topic, int32_t partition) const {
    if (!metadata().topic(topic))
        return make_unexpected(
            ClusterError{ClusterErrc::unknown_topic, "topic '" + topic + "' does not exist"});
    const PartitionInfo* p = metadata().partition(topic, partition);
    if (!p) {
        return make_unexpected(
            ClusterError{ClusterErrc::unknown_partition,
                         "topic '" + topic + "' has no partition " + std::to_string(partition)});
    }
    Replica* r = replica(p->group);
    if (r && r->is_leader()) return r;
    auto report = leader_report(p->group);
    uint64_t leader = report ? report->first : (r ? r->leader() : 0);
    return make_unexpected(ClusterError{ClusterErrc::not_leader,
                                        topic + "-" + std::to_string(partition) + " is not led by this node",
                                        leader});
}

void ClusterNode::transfer_leadership(const std::string& topic, int32_t partition, uint64_t to,
                                      std::function<void(ClusterResult<Ok>)> done) {
    std::optional<PartitionView> view = this->partition(topic, partition);
    if (!view) {
        done(make_unexpected(ClusterError{ClusterErrc::unknown_partition,
                                          topic + "-" + std::to_string(partition) + " does not exist"}));
        return;
    }
    if (std::find(view->replicas.begin(), view->replicas.end(), to) == view->replicas.end()) {
        done(make_unexpected(ClusterError{ClusterErrc::invalid, "node " + std::to_string(to) +
                                                                    " is not a replica of " + topic + "-" +
                                                                    std::to_string(partition)}));
        return;
    }
    if (view->leader < 0) {
        done(make_unexpected(
            ClusterError{ClusterErrc::busy, topic + "-" + std::to_string(partition) + " has no leader"}));
        return;
    }
    uint64_t leader = static_cast<uint64_t>(view->leader);
    if (leader != to) {
        if (leader == _config.node_id) {
            auto r = replica(view->group)->transfer_leadership(to);
            if (!r) {
                done(make_unexpected(
                    ClusterError{ClusterErrc::busy, std::string(raft::to_string(r.error()))}));
                return;
            }
        } else {
            std::string target;
            be::append(target, to, 8);
            _transport->send(leader, net::Item{net::ItemKind::transfer_leadership, view->group, target});
        }
    }
    await_leader(view->group, to, now_ms() + 5000, std::move(done));
}

// Waits until this node sees `to` lead `group`, or the deadline passes.
void ClusterNode::await_leader(uint64_t group, uint64_t to, int64_t deadline,
                               std::function<void(ClusterResult<Ok>)> done) {
    auto report = leader_report(group);
    if (report && report->first == to) {
        done(Ok{});
        return;
    }
    if (now_ms() >= deadline) {
        done(make_unexpected(ClusterError{
            ClusterErrc::timeout,
            "node " + std::to_string(to) + " did not take over within 5 s (it may be lagging)"}));
        return;
    }
    auto timer = std::make_shared<asio::steady_timer>(_io, std::chrono::milliseconds(20));
    timer->async_wait(
        [this, timer, group, to, deadline, done = std::move(done)](boost::system::error_code) mutable {
            await_leader(group, to, deadline, std::move(done));
        });
}

void ClusterNode::append(const std::string& topic, int32_t partition, std::vector<std::string> values,
                         std::function<void(ClusterResult<Appended>)> done) {
    auto leader = local_leader(topic, partition);
    if (!leader) {
        done(make_unexpected(leader.error()));
        return;
    }
    if (values.empty()) {
        done(make_unexpected(ClusterError{ClusterErrc::invalid, "nothing to append"}));
        return;
    }
    std::vector<storage::Record> records;
    for (std::string& v : values) records.push_back(storage::Record{"", std::move(v), 0});
    std::string batch = storage::encode_batch(0, 0, wall_clock_ms(), records);
    (*leader)->propose(std::move(batch), static_cast<uint32_t>(records.size()),
                       [done = std::move(done)](Result<Appended, ProposeError> r) {
                           if (r) {
                               done(*r);
                               return;
                           }
                           const ProposeError& e = r.error();
                           ClusterErrc code = e.code == ProposeErrc::not_leader     ? ClusterErrc::not_leader
                                              : e.code == ProposeErrc::busy         ? ClusterErrc::busy
                                              : e.code == ProposeErrc::invalid      ? ClusterErrc::invalid
                                              : e.code == ProposeErrc::failed       ? ClusterErrc::failed
                                              : e.code == ProposeErrc::storage_full ? ClusterErrc::failed
                                                                                    : ClusterErrc::timeout;
                           done(make_unexpected(ClusterError{code, e.detail, e.leader}));
                       });
}

ClusterResult<std::vector<RecordView>> ClusterNode::read(const std::string& topic, int32_t partition,
                                                         int64_t from, size_t count) {
    auto leader = local_leader(topic, partition);
    if (!leader) return make_unexpected(leader.error());
    Replica& r = **leader;
    std::vector<RecordView> out;
    int64_t hw = r.high_watermark();
    int64_t offset = std::max(from, r.log().start_offset());
    while (out.size() < count && offset < hw) {
        auto slice = r.log().read(offset, 1 << 20);
        if (!slice) return make_unexpected(ClusterError{ClusterErrc::failed, slice.error().detail});
        if (slice->bytes.empty()) break;
        std::string_view bytes = slice->bytes;
        while (!bytes.empty() && out.size() < count) {
            auto header = storage::validate_batch(bytes);
            if (!header) {
                return make_unexpected(ClusterError{
                    ClusterErrc::failed,
                    "corrupt batch in " + r.name() + ": " + std::string(storage::to_string(header.error()))});
            }
            std::string_view batch = bytes.substr(0, header->size);
            bytes.remove_prefix(header->size);
            offset = header->last_offset() + 1;
            if (header->is_control() || header->base_offset >= hw) continue;
            auto records = storage::decode_records(batch);
            if (!records) continue;
            for (size_t i = 0; i < records->size() && out.size() < count; ++i) {
                int64_t record_offset = header->base_offset + static_cast<int64_t>(i);
                if (record_offset < from || record_offset >= hw) continue;
                out.push_back({record_offset, static_cast<uint64_t>(header->leader_epoch),
                               std::move((*records)[i].key), std::move((*records)[i].value)});
            }
        }
        if (offset <= slice->first_offset) break;
    }
    return out;
}

}  // namespace fjord::cluster
