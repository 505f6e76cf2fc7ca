// Membership changes one node at a time (thesis §4.1, with the fix of §4.1's
// bug note: a leader changes membership only after committing an entry of its
// own term), and leadership transfer (thesis §3.10).
#include <algorithm>

#include "raft/node.h"

namespace fjord::raft {

namespace {

void insert_sorted(std::vector<NodeId>& v, NodeId id) {
    v.insert(std::upper_bound(v.begin(), v.end(), id), id);
}

void erase(std::vector<NodeId>& v, NodeId id) {
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
}

}  // namespace

Result<Index, Error> Node::propose_membership(MembershipChange change) {
    if (_role != Role::leader) return make_unexpected(Error::not_leader);
    if (_transfer_target != no_node) return make_unexpected(Error::transfer_in_progress);
    if (_log.membership_index() > _log.committed()) return make_unexpected(Error::membership_change_pending);
    if (!committed_in_current_term()) return make_unexpected(Error::leader_not_ready);
    Membership next = membership();
    NodeId id = change.node;
    if (id == no_node) return make_unexpected(Error::invalid_membership_change);
    switch (change.kind) {
        case MembershipChangeKind::add_voter:
            if (next.is_voter(id)) return make_unexpected(Error::invalid_membership_change);
            erase(next.learners, id);
            insert_sorted(next.voters, id);
            break;
        case MembershipChangeKind::add_learner:
            if (next.contains(id)) return make_unexpected(Error::invalid_membership_change);
            insert_sorted(next.learners, id);
            break;
        case MembershipChangeKind::remove:
            if (!next.contains(id)) return make_unexpected(Error::invalid_membership_change);
            erase(next.voters, id);
            erase(next.learners, id);
            if (next.voters.empty()) return make_unexpected(Error::invalid_membership_change);
            break;
    }
    Entry e;
    e.index = Index{_log.last_index().value + 1};
    e.term = _term;
    e.type = EntryType::membership;
    e.data = next.encode();
    Index index = e.index;
    _log.append({std::move(e)});
    on_membership_changed();
    _append_pending = true;
    return index;
}

void Node::on_membership_changed() {
    const Membership& m = membership();
    for (NodeId id : m.all()) {
        auto [it, added] = _progress.try_emplace(id, _config.max_inflight_msgs, _config.max_inflight_bytes);
        if (added) {
            it->second.sent = _log.last_index();
            it->second.recent_active = true;
        }
    }
    for (auto it = _progress.begin(); it != _progress.end();) {
        if (it->first != _config.id && !m.contains(it->first)) {
            it = _progress.erase(it);
        } else {
            ++it;
        }
    }
    if (_transfer_target != no_node && !m.is_voter(_transfer_target)) _transfer_target = no_node;
}

Result<Ok, Error> Node::transfer_leadership(NodeId to) {
    if (_role != Role::leader) return make_unexpected(Error::not_leader);
    if (to == _config.id) return Ok{};
    if (!membership().is_voter(to)) return make_unexpected(Error::invalid_transfer_target);
    if (_transfer_target == to) return Ok{};
    _transfer_target = to;
    _transfer_elapsed = 0;
    Progress& pr = *progress(to);
    if (pr.match == _log.last_index()) {
        maybe_send_timeout_now(to, pr);
    } else {
        send_append(to, pr, true);
    }
    return Ok{};
}

void Node::maybe_send_timeout_now(NodeId to, const Progress& pr) {
    if (to != _transfer_target || pr.match != _log.last_index()) return;
    // The target may now win an election while our followers still honour
    // our lease, so the lease ends here for the rest of this term.
    _lease_revoked = true;
    Message m;
    m.type = MessageType::timeout_now;
    m.to = to;
    send(std::move(m));
}

}  // namespace fjord::raft
