// Construction, message dispatch, and the Ready/advance cycle.
#include "raft/node.h"

#include <algorithm>
#include <cassert>

#include "common/splitmix.h"

namespace fjord::raft {

Bootstrap bootstrap(const Membership& founding) {
    Bootstrap b;
    b.entry.index = Index{1};
    b.entry.term = Term{1};
    b.entry.type = EntryType::membership;
    b.entry.data = founding.encode();
    b.hard_state = HardState{Term{1}, no_node, Index{1}};
    return b;
}

Node::Node(const Config& config, const LogStorage& storage)
    : _config(config),
      _log(storage),
      _rng_state(config.random_seed * 0x9E3779B97F4A7C15ull + config.id.value) {
    assert(config.id != no_node);
    assert(config.heartbeat_tick > 0 && config.election_tick > config.heartbeat_tick);
    HardState hs = storage.hard_state();
    _term = hs.term;
    _vote = hs.vote;
    _last_hard_state = hard_state();
    // After a restart we may have promised a leader, before the crash, not to
    // vote for a while: keep that promise for one election timeout. Leaders
    // exist only from term 2 on (a group starts in term 1, see bootstrap()),
    // so a node still in term 1 or 0 never promised anything.
    _lease_until = _term.value <= 1 ? 0 : static_cast<uint64_t>(_config.election_tick);
    reset_randomized_timeout();
}

uint64_t Node::next_random() {
    return splitmix64(_rng_state);
}

void Node::tick() {
    ++_now;
    if (_role == Role::leader) {
        tick_heartbeat();
    } else {
        tick_election();
    }
}

bool Node::is_leader_message(MessageType t) const {
    return t == MessageType::append || t == MessageType::heartbeat || t == MessageType::snapshot ||
           t == MessageType::timeout_now || t == MessageType::read_index_resp;
}

Progress* Node::progress(NodeId id) {
    auto it = _progress.find(id);
    return it == _progress.end() ? nullptr : &it->second;
}

void Node::send(Message m) {
    m.from = _config.id;
    if (m.type != MessageType::pre_vote && m.type != MessageType::pre_vote_resp) m.term = _term;
    // Leader traffic carries only durable state (rule 1 of the contract);
    // everything else waits for the Ready to be persisted (rule 2).
    bool immediate = _role == Role::leader && is_leader_message(m.type);
    if (_config.mutation == Mutation::ack_before_persist) immediate = true;
    (immediate ? _msgs : _persisted_msgs).push_back(std::move(m));
}

void Node::step(Message m) {
    if (m.from == _config.id || m.from == no_node) return;
    bool is_vote_request = m.type == MessageType::vote || m.type == MessageType::pre_vote;
    // While a voter follows a leader, a node outside its voting configuration
    // (say, one removed while it was cut off) must not disturb the group.
    // Otherwise we answer anyone: our configuration may be the stale one, and
    // candidates only count the votes of their own voters.
    if (is_vote_request && _leader != no_node && membership().is_voter(_config.id) &&
        !membership().is_voter(m.from)) {
        return;
    }

    // Leader stickiness (thesis §4.2.3), for vote requests of any term.
    if (is_vote_request && !m.force && m.term >= _term && in_lease()) return;

    if (m.term > _term) {
        if (m.type == MessageType::pre_vote) {
            // A pre-vote never changes our term.
        } else if (m.type == MessageType::pre_vote_resp && !m.reject) {
            // Granted pre-votes carry the proposed term, not the voter's.
        } else if (is_leader_message(m.type)) {
            become_follower(m.term, m.from);
        } else {
            become_follower(m.term, no_node);
        }
    } else if (m.term < _term) {
        if (m.type == MessageType::append || m.type == MessageType::heartbeat) {
            // A deposed leader learns our term from this and steps down.
            Message resp;
            resp.type = MessageType::append_resp;
            resp.to = m.from;
            send(std::move(resp));
        } else if (m.type == MessageType::pre_vote) {
            Message resp;
            resp.type = MessageType::pre_vote_resp;
            resp.to = m.from;
            resp.term = _term;
            resp.reject = true;
            send(std::move(resp));
        }
        return;
    }

    switch (m.type) {
        case MessageType::pre_vote:
        case MessageType::vote:
            handle_vote_request(m);
            break;
        case MessageType::pre_vote_resp:
        case MessageType::vote_resp:
            handle_vote_response(m);
            break;
        case MessageType::append:
        case MessageType::heartbeat:
        case MessageType::snapshot:
            if (_role == Role::leader) return;  // two leaders in one term cannot happen; drop
            if (_role != Role::follower) become_follower(_term, m.from);
            _leader = m.from;
            _election_elapsed = 0;
            _lease_until = _now + static_cast<uint64_t>(_config.election_tick);
            if (m.type == MessageType::append)
                handle_append(m);
            else if (m.type == MessageType::heartbeat)
                handle_heartbeat(m);
            else
                handle_snapshot_chunk(m);
            break;
        case MessageType::append_resp:
            handle_append_response(m);
            break;
        case MessageType::heartbeat_resp:
            handle_heartbeat_response(m);
            break;
        case MessageType::snapshot_resp:
            handle_snapshot_response(m);
            break;
        case MessageType::timeout_now:
            if (_role != Role::leader && promotable()) campaign(false, true);
            break;
        case MessageType::read_index:
            handle_read_index_request(m);
            break;
        case MessageType::read_index_resp:
            handle_read_index_response(m);
            break;
    }
}

bool Node::has_ready() const {
    return _append_pending || _read_round_pending || _log.has_unpersisted() ||
           hard_state() != _last_hard_state || !_msgs.empty() || !_persisted_msgs.empty() ||
           _log.has_committed_to_apply() || !_read_states.empty();
}

Ready Node::ready() {
    if (_append_pending) {
        _append_pending = false;
        broadcast_append();
    }
    if (_read_round_pending) {
        _read_round_pending = false;
        broadcast_heartbeat();
    }
    Ready rd;
    rd.snapshot = _log.take_snapshot();
    rd.entries = _log.take_unpersisted();
    HardState hs = hard_state();
    if (hs != _last_hard_state) {
        rd.hard_state = hs;
        _last_hard_state = hs;
    }
    rd.messages.swap(_msgs);
    rd.persisted_messages.swap(_persisted_msgs);
    rd.committed = _log.take_committed(_config.max_inflight_bytes);
    rd.read_states.swap(_read_states);
    return rd;
}

void Node::advance(const Ready& rd) {
    if (rd.snapshot) _log.snapshot_persisted(rd.snapshot->meta.index);
    if (!rd.entries.empty()) _log.persisted(rd.entries);
    // A lone voter's candidacy: its vote for itself is durable now.
    const std::vector<NodeId>& voters = membership().voters;
    if (_role == Role::candidate && voters.size() == 1 && voters.front() == _config.id &&
        _last_hard_state.term == _term && _last_hard_state.vote == _config.id) {
        become_leader();
        return;
    }
    if (_role != Role::leader) return;
    if (Progress* self = progress(_config.id); self != nullptr && self->update_match(_log.stable_last())) {
        if (maybe_commit()) broadcast_append();
    }
}

bool Node::committed_in_current_term() const {
    return _log.term_at(_log.committed()) == _term;
}

std::vector<FollowerStatus> Node::followers() const {
    std::vector<FollowerStatus> out;
    if (_role != Role::leader) return out;
    for (const auto& [id, pr] : _progress) {
        out.push_back({id, pr.match, pr.state, membership().is_learner(id), pr.recent_active});
    }
    return out;
}

}  // namespace fjord::raft
