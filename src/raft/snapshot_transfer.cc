// InstallSnapshot in chunks, stop-and-wait: the leader has one chunk in
// flight and the follower acknowledges each with the next offset it expects.
// Only an answer that moves the offset sends another chunk (duplicates do
// not, or parallel chains of chunks would multiply); a chunk lost for half an
// election timeout is resent on a heartbeat answer; a restarted follower asks
// for offset 0 and starts over.
#include <algorithm>

#include "raft/node.h"

namespace fjord::raft {

void Node::send_snapshot_chunk(NodeId to, Progress& pr) {
    const Snapshot& snap = *pr.snapshot;
    uint64_t offset = std::min<uint64_t>(pr.snapshot_offset, snap.data.size());
    size_t len = std::min<size_t>(_config.snapshot_chunk_bytes, snap.data.size() - offset);
    Message m;
    m.type = MessageType::snapshot;
    m.to = to;
    m.log_index = snap.meta.index;
    m.log_term = snap.meta.term;
    m.snapshot_membership = snap.meta.membership;
    m.chunk_offset = offset;
    m.chunk = snap.data.substr(offset, len);
    m.chunk_last = offset + len == snap.data.size();
    m.lease_tick = _now;
    pr.snapshot_sent_tick = _now;
    send(std::move(m));
}

void Node::handle_snapshot_chunk(const Message& m) {
    Message resp;
    resp.to = m.from;
    resp.lease_tick = m.lease_tick;
    if (m.log_index <= _log.committed() || _log.matches(m.log_index, m.log_term)) {
        // We already hold everything the snapshot covers. Installing it would
        // discard the entries after it, which we may have acknowledged.
        _incoming_snapshot.reset();
        _log.commit_to(m.log_index);
        resp.type = MessageType::append_resp;
        resp.log_index = std::max(_log.committed(), m.log_index);
        send(std::move(resp));
        return;
    }
    resp.type = MessageType::snapshot_resp;
    resp.log_index = m.log_index;
    resp.log_term = m.log_term;
    if (m.chunk_offset == 0) {
        _incoming_snapshot = IncomingSnapshot{{m.log_index, m.log_term, m.snapshot_membership}, {}};
    }
    IncomingSnapshot* in = _incoming_snapshot ? &*_incoming_snapshot : nullptr;
    if (in == nullptr || in->meta.index != m.log_index || in->meta.term != m.log_term ||
        m.chunk_offset != in->data.size()) {
        // Out of order or from another snapshot: say where we are.
        bool same = in != nullptr && in->meta.index == m.log_index && in->meta.term == m.log_term;
        resp.chunk_offset = same ? in->data.size() : 0;
        send(std::move(resp));
        return;
    }
    in->data.append(m.chunk);
    if (!m.chunk_last) {
        resp.chunk_offset = in->data.size();
        send(std::move(resp));
        return;
    }
    auto snap = std::make_shared<Snapshot>();
    snap->meta = std::move(in->meta);
    snap->data = std::move(in->data);
    _incoming_snapshot.reset();
    Index index = snap->meta.index;
    _log.restore(std::move(snap));
    resp.type = MessageType::append_resp;
    resp.log_index = index;
    send(std::move(resp));
}

void Node::handle_snapshot_response(const Message& m) {
    if (_role != Role::leader) return;
    Progress* pr = progress(m.from);
    if (pr == nullptr) return;
    pr->recent_active = true;
    pr->lease_ack_tick = std::max(pr->lease_ack_tick, m.lease_tick);
    if (pr->state != ProgressState::snapshot || pr->snapshot->meta.index != m.log_index ||
        pr->snapshot->meta.term != m.log_term || m.chunk_offset > pr->snapshot->data.size() ||
        m.chunk_offset == pr->snapshot_offset) {
        return;
    }
    pr->snapshot_offset = m.chunk_offset;
    send_snapshot_chunk(m.from, *pr);
}

}  // namespace fjord::raft
