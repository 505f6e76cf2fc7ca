// Layout of format 1 (integers big-endian, `bytes` = u32 length + bytes):
//
//   u8 format, u64 node, bytes rpc_addr, kafka_addr, redis_addr, admin_addr,
//   u64 controller_leader, bytes not_serving_reason,
//   u32 leader report count, then per report: u64 group, u64 term,
//   i64 commit, i64 last, u32 follower count, then per follower:
//   u64 node, i64 match, u8 active, u8 in_sync.
#include "cluster/node_status.h"

#include "common/byte_codec.h"

namespace fjord::cluster {

namespace {

// Smallest encodings, which bound what a count may claim.
constexpr size_t kFollowerReportSize = 8 + 8 + 1 + 1;
constexpr size_t kMinLeaderReportSize = 8 + 8 + 8 + 8 + 4;

void write_leader_report(ByteWriter& w, const LeaderReport& report) {
    w.u64(report.group);
    w.u64(report.term);
    w.i64(report.commit);
    w.i64(report.last);
    w.u32(static_cast<uint32_t>(report.followers.size()));
    for (const FollowerReport& f : report.followers) {
        w.u64(f.node);
        w.i64(f.match);
        w.boolean(f.active);
        w.boolean(f.in_sync);
    }
}

FollowerReport read_follower_report(ByteReader& r) {
    FollowerReport f;
    f.node = r.u64("node");
    f.match = r.i64("match");
    f.active = r.boolean("active");
    f.in_sync = r.boolean("in sync");
    return f;
}

LeaderReport read_leader_report(ByteReader& r) {
    LeaderReport report;
    report.group = r.u64("group");
    report.term = r.u64("term");
    report.commit = r.i64("commit");
    report.last = r.i64("last");
    uint32_t n = r.count("follower count", kFollowerReportSize);
    report.followers.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        report.followers.push_back(read_follower_report(r));
        r.add_context("follower", i);
    }
    return report;
}

}  // namespace

std::string encode_node_status(const NodeStatus& status) {
    std::string out;
    ByteWriter w(out);
    w.u8(kNodeStatusFormat);
    w.u64(status.node);
    w.bytes(status.rpc_addr);
    w.bytes(status.kafka_addr);
    w.bytes(status.redis_addr);
    w.bytes(status.admin_addr);
    w.u64(status.controller_leader);
    w.bytes(status.not_serving_reason);
    w.u32(static_cast<uint32_t>(status.leading.size()));
    for (const LeaderReport& report : status.leading) write_leader_report(w, report);
    return out;
}

Result<NodeStatus, std::string> decode_node_status(std::string_view bytes) {
    ByteReader r(bytes);
    uint8_t format = r.u8("format version");
    if (format != kNodeStatusFormat) r.fail("unknown format version " + std::to_string(format));
    NodeStatus status;
    status.node = r.u64("node");
    status.rpc_addr = r.bytes("rpc addr");
    status.kafka_addr = r.bytes("kafka addr");
    status.redis_addr = r.bytes("redis addr");
    status.admin_addr = r.bytes("admin addr");
    status.controller_leader = r.u64("controller leader");
    status.not_serving_reason = r.bytes("not serving reason");
    uint32_t n = r.count("leader report count", kMinLeaderReportSize);
    status.leading.reserve(n);
    for (uint32_t i = 0; i < n && r.ok(); ++i) {
        status.leading.push_back(read_leader_report(r));
        r.add_context("leader report", i);
    }
    r.expect_end();
    if (!r.ok()) return make_unexpected(r.error());
    return status;
}

}  // namespace fjord::cluster
