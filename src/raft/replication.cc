// Log replication: appends and their answers, heartbeats, the commit rule.
#include <algorithm>
#include <cassert>

#include "raft/node.h"

namespace fjord::raft {

Result<Index, Error> Node::propose(std::string data, uint32_t span) {
    if (_role != Role::leader) return make_unexpected(Error::not_leader);
    if (_transfer_target != no_node) return make_unexpected(Error::transfer_in_progress);
    if (span == 0 || _log.last_index().value > UINT64_MAX - span)
        return make_unexpected(Error::invalid_entry);
    if (_uncommitted_bytes > 0 && _uncommitted_bytes + data.size() > _config.max_uncommitted_bytes) {
        return make_unexpected(Error::too_much_uncommitted);
    }
    Entry e;
    e.index = Index{_log.last_index().value + span};
    e.term = _term;
    e.span = span;
    if (_config.stamp_entry) _config.stamp_entry(data, e.index, span, _term);
    e.data = std::move(data);
    Index index = e.index;
    _uncommitted.push_back({index, e.data.size()});
    _uncommitted_bytes += e.data.size();
    _log.append({std::move(e)});
    // Sent with the next Ready, batched with every other proposal until then.
    _append_pending = true;
    return index;
}

bool Node::valid_entries(const Message& m) const {
    Index prev = m.log_index;
    Term prev_term = m.log_term;
    for (const Entry& e : m.entries) {
        // Offsets are contiguous: an entry starts right after its predecessor.
        if (e.span == 0 || e.index.value < e.span || e.index.value - e.span != prev.value) return false;
        if (e.term < prev_term || e.term > m.term) return false;
        if (e.type == EntryType::membership) {
            Membership decoded;
            if (!Membership::decode(e.data, decoded)) return false;
        }
        prev = e.index;
        prev_term = e.term;
    }
    return true;
}

void Node::handle_append(const Message& m) {
    Message resp;
    resp.type = MessageType::append_resp;
    resp.to = m.from;
    resp.lease_tick = m.lease_tick;
    if (!valid_entries(m)) return;  // malformed: drop, the leader retries
    if (m.log_index < _log.committed()) {
        // Everything up to our commit index matches the leader's log already.
        resp.log_index = _log.committed();
        send(std::move(resp));
        return;
    }
    if (std::optional<Index> last = _log.maybe_append({m.log_index, m.log_term}, m.entries)) {
        _log.commit_to(std::min(m.commit, *last));
        resp.log_index = *last;
    } else {
        EntryId hint = _log.conflict_hint(m.log_index, m.log_term);
        resp.reject = true;
        resp.log_index = m.log_index;
        resp.hint_index = hint.index;
        resp.hint_term = hint.term;
    }
    send(std::move(resp));
}

void Node::handle_append_response(const Message& m) {
    if (_role != Role::leader) return;
    Progress* pr = progress(m.from);
    if (pr == nullptr) return;
    pr->recent_active = true;
    pr->lease_ack_tick = std::max(pr->lease_ack_tick, m.lease_tick);
    if (m.log_index > _log.last_index()) return;  // impossible index: ignore
    if (m.reject) {
        bool stale = pr->state == ProgressState::snapshot ||
                     (pr->state == ProgressState::replicate && m.log_index <= pr->match) ||
                     (pr->state == ProgressState::probe && m.log_index != pr->sent);
        if (stale) return;
        // Fast backtracking: probe next at our last entry that can match the
        // follower's hint. When even our snapshot point is newer than the
        // follower's entry there, nothing in our log can match: the next send
        // finds the prefix compacted and sends the snapshot instead.
        Index next = m.hint_index;
        if (next >= _log.snapshot_index()) {
            EntryId back = _log.conflict_hint(m.hint_index, m.hint_term);
            next = back.term <= m.hint_term ? back.index : Index{0};
        }
        pr->become_probe();
        pr->sent = std::max(next, pr->match);
        send_append(m.from, *pr, true);
        return;
    }
    bool news = pr->update_match(m.log_index);
    if (pr->state == ProgressState::snapshot && pr->match >= pr->snapshot->meta.index) {
        // The follower holds what the snapshot covers (it may have had it all along).
        pr->become_replicate();
        news = true;
    }
    if (!news) return;
    if (pr->state == ProgressState::probe) pr->become_replicate();
    pr->inflights.free_up_to(pr->match);
    if (maybe_commit()) {
        // Committing may have made us step down (our own removal committed),
        // which discards every progress, `pr` included.
        if (_role != Role::leader) return;
        broadcast_append();
    } else {
        while (send_append(m.from, *pr, false)) {
        }
    }
    maybe_send_timeout_now(m.from, *pr);
}

void Node::handle_heartbeat(const Message& m) {
    _log.commit_to(std::min(m.commit, _log.last_index()));
    Message resp;
    resp.type = MessageType::heartbeat_resp;
    resp.to = m.from;
    resp.read_seq = m.read_seq;
    resp.lease_tick = m.lease_tick;
    send(std::move(resp));
}

void Node::handle_heartbeat_response(const Message& m) {
    if (_role != Role::leader) return;
    Progress* pr = progress(m.from);
    if (pr == nullptr) return;
    pr->recent_active = true;
    pr->probe_sent = false;
    pr->lease_ack_tick = std::max(pr->lease_ack_tick, m.lease_tick);
    pr->read_ack_seq = std::max(pr->read_ack_seq, std::min(m.read_seq, _read_seq));
    if (pr->state == ProgressState::snapshot) {
        // The chunk in flight, or its answer, may have been lost.
        if (_now - pr->snapshot_sent_tick >= static_cast<uint64_t>(_config.election_tick / 2)) {
            send_snapshot_chunk(m.from, *pr);
        }
    } else if (pr->match < _log.last_index()) {
        // An append may have been lost: make room and resend; the follower's
        // answer leads us back to the right place.
        if (pr->state == ProgressState::replicate && pr->inflights.full()) pr->inflights.free_first();
        send_append(m.from, *pr, true);
    }
    release_confirmed_reads();
}

bool Node::send_append(NodeId to, Progress& pr, bool send_if_empty) {
    if (pr.paused()) return false;
    Index prev = pr.sent;
    std::optional<Term> prev_term = _log.term_at(prev);
    if (!prev_term || prev < _log.snapshot_index()) {
        // The follower needs entries we have compacted: send the snapshot.
        pr.become_snapshot(_log.latest_snapshot());
        send_snapshot_chunk(to, pr);
        return false;
    }
    Message m;
    m.type = MessageType::append;
    m.to = to;
    m.log_index = prev;
    m.log_term = *prev_term;
    m.commit = _log.committed();
    m.lease_tick = _now;
    if (prev < _log.last_index()) m.entries = _log.entries(prev, _log.last_index(), _config.max_append_bytes);
    if (m.entries.empty() && !send_if_empty) return false;
    if (pr.state == ProgressState::replicate && !m.entries.empty()) {
        size_t bytes = 0;
        for (const Entry& e : m.entries) bytes += e.byte_size();
        pr.sent = m.entries.back().index;
        pr.inflights.add(pr.sent, bytes);
    } else if (pr.state == ProgressState::probe) {
        pr.probe_sent = true;
    }
    send(std::move(m));
    return true;
}

void Node::broadcast_append() {
    for (auto& [id, pr] : _progress) {
        if (id != _config.id) send_append(id, pr, true);
    }
}

void Node::broadcast_heartbeat() {
    for (auto& [id, pr] : _progress) {
        if (id == _config.id) continue;
        Message m;
        m.type = MessageType::heartbeat;
        m.to = id;
        // Never ahead of what the follower is known to hold.
        m.commit = std::min(pr.match, _log.committed());
        m.read_seq = _read_seq;
        m.lease_tick = _now;
        send(std::move(m));
    }
}

Index Node::quorum_index(const std::vector<std::pair<NodeId, Index>>& values) const {
    std::vector<Index> voters;
    for (const auto& [id, v] : values) {
        if (membership().is_voter(id)) voters.push_back(v);
    }
    if (voters.empty()) return Index{0};
    std::sort(voters.begin(), voters.end(), std::greater<>());
    return voters[voters.size() / 2 + 1 - 1];
}

bool Node::maybe_commit() {
    std::vector<std::pair<NodeId, Index>> matches;
    matches.reserve(_progress.size());
    for (const auto& [id, pr] : _progress) matches.emplace_back(id, pr.match);
    Index candidate = quorum_index(matches);
    if (candidate <= _log.committed()) return false;
    // Figure 8: only an entry of the current term is committed by counting
    // replicas; earlier entries commit with it.
    if (_config.mutation != Mutation::commit_previous_term_by_count && _log.term_at(candidate) != _term) {
        return false;
    }
    _log.commit_to(candidate);
    on_committed();
    return true;
}

void Node::on_committed() {
    Index committed = _log.committed();
    while (!_uncommitted.empty() && _uncommitted.front().first <= committed) {
        _uncommitted_bytes -= _uncommitted.front().second;
        _uncommitted.pop_front();
    }
    if (!_reads_awaiting_commit.empty() && committed_in_current_term()) release_waiting_reads();
    // A leader that removed itself leads until that change commits, then
    // steps down (thesis §4.2.2).
    if (!membership().is_voter(_config.id) && _log.membership_index() <= committed) {
        broadcast_append();  // let the remaining voters learn the commit before they must elect
        become_follower(_term, no_node);
    }
}

}  // namespace fjord::raft
