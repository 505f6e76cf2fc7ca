// Elections: timeouts, pre-vote (thesis §9.6), votes, check-quorum and role changes.
#include <cassert>

#include "raft/node.h"

namespace fjord::raft {

void Node::reset_randomized_timeout() {
    auto et = static_cast<uint64_t>(_config.election_tick);
    _randomized_election_timeout = static_cast<int>(et + next_random() % et);
}

// A voter campaigns. So does a voter that an uncommitted change is removing:
// if the leader that proposed its own removal lost its quorum, it may be the
// only node holding that change with a log current enough to win, and must
// be able to finish it (it steps down once the change commits).
bool Node::promotable() const {
    if (membership().is_voter(_config.id)) return true;
    return _log.membership_index() > _log.committed() && _log.previous_membership().is_voter(_config.id);
}

// Leader stickiness: a node that heard from a leader less than an election
// timeout ago ignores (pre-)votes, so a partitioned node rejoining cannot
// depose a healthy leader, and a leader's lease is honoured. The promise holds
// across term changes (learning a higher term from a stray message does not
// end it), and a node that has just started counts as having made one: it
// cannot know whether it acknowledged a lease before its restart. A leader
// holds its own lease until check-quorum deposes it.
bool Node::in_lease() const {
    return _config.check_quorum && (_role == Role::leader || _now < _lease_until);
}

void Node::tick_election() {
    ++_election_elapsed;
    if (_election_elapsed < _randomized_election_timeout) return;
    _election_elapsed = 0;
    if (promotable()) {
        campaign(_config.pre_vote, false);
    } else {
        _leader = no_node;  // a learner, too, stops trusting a leader it no longer hears
    }
}

void Node::campaign_now() {
    if (_role == Role::leader || !promotable()) return;
    _election_elapsed = 0;
    campaign(_config.pre_vote, false);
}

void Node::tick_heartbeat() {
    ++_heartbeat_elapsed;
    ++_election_elapsed;
    if (_transfer_target != no_node && ++_transfer_elapsed >= _config.election_tick) {
        _transfer_target = no_node;  // the target did not take over in time
    }
    if (_election_elapsed >= _config.election_tick) {
        _election_elapsed = 0;
        if (_config.check_quorum) {
            size_t active = 0;
            for (auto& [id, pr] : _progress) {
                if (membership().is_voter(id) && (id == _config.id || pr.recent_active)) ++active;
                if (id != _config.id) pr.recent_active = false;
            }
            if (active < membership().voters.size() / 2 + 1) {
                become_follower(_term, no_node);
                return;
            }
        }
    }
    if (_heartbeat_elapsed >= _config.heartbeat_tick) {
        _heartbeat_elapsed = 0;
        broadcast_heartbeat();
    }
}

void Node::campaign(bool pre_vote, bool force) {
    if (pre_vote) {
        become_pre_candidate();
    } else {
        become_candidate();
    }
    Term vote_term{pre_vote ? _term.value + 1 : _term.value};
    _votes[_config.id] = true;
    const std::vector<NodeId>& voters = membership().voters;
    if (voters.size() == 1 && voters.front() == _config.id) {
        // Alone: the own vote is a majority, but it counts only once it is
        // durable (advance() makes us leader), like any other vote.
        if (pre_vote) campaign(false, force);
        return;
    }
    for (NodeId id : membership().voters) {
        if (id == _config.id) continue;
        Message m;
        m.type = pre_vote ? MessageType::pre_vote : MessageType::vote;
        m.to = id;
        m.term = vote_term;
        m.log_index = _log.last_index();
        m.log_term = _log.last_term();
        m.force = force;
        send(std::move(m));
    }
}

void Node::handle_vote_request(const Message& m) {
    bool pre = m.type == MessageType::pre_vote;
    // For a real vote we are at m.term by now (step() moved us there).
    bool can_vote = _vote == m.from || (_vote == no_node && _leader == no_node) || (pre && m.term > _term);
    if (_config.mutation == Mutation::vote_twice_in_term && !pre) can_vote = true;
    Message resp;
    resp.type = pre ? MessageType::pre_vote_resp : MessageType::vote_resp;
    resp.to = m.from;
    if (can_vote && _log.is_up_to_date(m.log_index, m.log_term)) {
        resp.term = m.term;
        if (!pre) {
            _vote = m.from;
            _election_elapsed = 0;
        }
    } else {
        resp.term = _term;
        resp.reject = true;
    }
    send(std::move(resp));
}

void Node::handle_vote_response(const Message& m) {
    bool pre = m.type == MessageType::pre_vote_resp;
    if (_role != (pre ? Role::pre_candidate : Role::candidate)) return;
    if (!membership().is_voter(m.from)) return;
    _votes[m.from] = !m.reject;
    size_t granted = 0;
    size_t rejected = 0;
    for (const auto& [id, yes] : _votes) {
        if (!membership().is_voter(id)) continue;
        (yes ? granted : rejected) += 1;
    }
    size_t quorum = membership().voters.size() / 2 + 1;
    if (granted >= quorum) {
        if (pre) {
            campaign(false, false);
        } else {
            become_leader();
        }
    } else if (rejected >= quorum) {
        become_follower(_term, no_node);
    }
}

void Node::reset(Term term) {
    if (term != _term) {
        assert(term > _term);
        _term = term;
        _vote = no_node;
    }
    _leader = no_node;
    _election_elapsed = 0;
    _heartbeat_elapsed = 0;
    reset_randomized_timeout();
    _votes.clear();
    _progress.clear();
    _transfer_target = no_node;
    _lease_revoked = false;
    _uncommitted.clear();
    _uncommitted_bytes = 0;
    _pending_reads.clear();
    _reads_awaiting_commit.clear();
    _read_seq = 0;
    _append_pending = false;
    _read_round_pending = false;
}

void Node::become_follower(Term term, NodeId leader) {
    reset(term);
    _role = Role::follower;
    _leader = leader;
}

void Node::become_pre_candidate() {
    // Neither the term nor the vote changes: a pre-vote only asks whether an
    // election could be won.
    _role = Role::pre_candidate;
    _votes.clear();
    _leader = no_node;
}

void Node::become_candidate() {
    assert(_role != Role::leader);
    reset(Term{_term.value + 1});
    _vote = _config.id;
    _role = Role::candidate;
}

void Node::become_leader() {
    assert(_role == Role::candidate);
    reset(_term);
    _role = Role::leader;
    _leader = _config.id;
    for (NodeId id : membership().all()) {
        Progress& pr =
            _progress.try_emplace(id, _config.max_inflight_msgs, _config.max_inflight_bytes).first->second;
        pr.sent = _log.last_index();
        pr.recent_active = true;
    }
    // The leader's own progress exists even when it is not (or no longer) a member.
    Progress& self = _progress.try_emplace(_config.id, _config.max_inflight_msgs, _config.max_inflight_bytes)
                         .first->second;
    self.match = _log.stable_last();
    self.sent = _log.last_index();
    self.state = ProgressState::replicate;
    // A no-op of the new term: once it commits, so has everything before it,
    // and only then may reads be served (thesis §6.4).
    Entry noop;
    noop.index = Index{_log.last_index().value + 1};
    noop.term = _term;
    noop.type = EntryType::noop;
    _log.append({std::move(noop)});
    _append_pending = true;
}

}  // namespace fjord::raft
