// Linearizable reads: ReadIndex (thesis §6.4) and lease reads (§6.4.1).
#include <algorithm>

#include "raft/node.h"

namespace fjord::raft {

Result<Ok, Error> Node::read_index(uint64_t context, ReadMode mode) {
    if (_role == Role::leader) {
        start_read(context, _config.id, mode);
        return Ok{};
    }
    if (_leader == no_node) return make_unexpected(Error::no_leader);
    Message m;
    m.type = MessageType::read_index;
    m.to = _leader;
    m.context = context;
    m.lease_read = mode == ReadMode::lease;
    send(std::move(m));
    return Ok{};
}

void Node::handle_read_index_request(const Message& m) {
    if (_role != Role::leader) return;  // the requester times out and retries
    start_read(m.context, m.from, m.lease_read ? ReadMode::lease : ReadMode::read_index);
}

void Node::handle_read_index_response(const Message& m) {
    if (_role == Role::leader || m.from != _leader) return;
    _read_states.push_back({m.context, m.log_index});
}

void Node::start_read(uint64_t context, NodeId requester, ReadMode mode) {
    // Until its no-op commits, a new leader may not know the latest commit
    // index: a read now could miss a write acknowledged by the previous leader.
    if (!committed_in_current_term() && _config.mutation != Mutation::read_before_noop_commit) {
        _reads_awaiting_commit.push_back({0, context, requester, Index{}, mode});
        return;
    }
    const std::vector<NodeId>& voters = membership().voters;
    bool alone = voters.size() == 1 && voters.front() == _config.id;
    if ((mode == ReadMode::lease && lease_valid()) || alone) {
        answer_read(context, requester, _log.committed());
        return;
    }
    _pending_reads.push_back({++_read_seq, context, requester, _log.committed(), mode});
    _read_round_pending = true;  // one heartbeat round confirms every read since the last
}

void Node::release_waiting_reads() {
    std::vector<PendingRead> waiting;
    waiting.swap(_reads_awaiting_commit);
    for (const PendingRead& r : waiting) start_read(r.context, r.requester, r.mode);
}

void Node::release_confirmed_reads() {
    if (_pending_reads.empty()) return;
    std::vector<uint64_t> acks;
    for (const auto& [id, pr] : _progress) {
        if (!membership().is_voter(id)) continue;
        acks.push_back(id == _config.id ? _read_seq : pr.read_ack_seq);
    }
    size_t quorum = membership().voters.size() / 2 + 1;
    if (acks.size() < quorum) return;
    std::sort(acks.begin(), acks.end(), std::greater<>());
    uint64_t confirmed = acks[quorum - 1];
    while (!_pending_reads.empty() && _pending_reads.front().seq <= confirmed) {
        PendingRead r = _pending_reads.front();
        _pending_reads.pop_front();
        answer_read(r.context, r.requester, r.index);
    }
}

void Node::answer_read(uint64_t context, NodeId requester, Index index) {
    if (requester == _config.id) {
        _read_states.push_back({context, index});
        return;
    }
    Message m;
    m.type = MessageType::read_index_resp;
    m.to = requester;
    m.context = context;
    m.log_index = index;
    send(std::move(m));
}

// The lease runs from the oldest send tick among the newest acknowledgements
// of a quorum: every voter of that quorum refuses votes for an election
// timeout after it heard us, so no other leader can exist until then.
bool Node::lease_valid() const {
    if (_role != Role::leader || !_config.check_quorum || _lease_revoked) return false;
    if (!committed_in_current_term()) return false;
    std::vector<uint64_t> ticks;
    for (const auto& [id, pr] : _progress) {
        if (!membership().is_voter(id)) continue;
        ticks.push_back(id == _config.id ? _now : pr.lease_ack_tick);
    }
    size_t quorum = membership().voters.size() / 2 + 1;
    if (ticks.size() < quorum) return false;
    std::sort(ticks.begin(), ticks.end(), std::greater<>());
    uint64_t start = ticks[quorum - 1];
    if (start == 0) return false;
    auto length = static_cast<uint64_t>(std::max(0, _config.election_tick - _config.lease_margin_ticks));
    return start + length > _now;
}

}  // namespace fjord::raft
