#include "raft/types.h"

#include <algorithm>
#include <iterator>

namespace fjord::raft {

bool Membership::is_voter(NodeId id) const {
    return std::binary_search(voters.begin(), voters.end(), id);
}

bool Membership::is_learner(NodeId id) const {
    return std::binary_search(learners.begin(), learners.end(), id);
}

std::vector<NodeId> Membership::all() const {
    std::vector<NodeId> out;
    out.reserve(voters.size() + learners.size());
    std::merge(voters.begin(), voters.end(), learners.begin(), learners.end(), std::back_inserter(out));
    return out;
}

namespace {

void put_u64(std::string& out, uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (56 - 8 * i));
    out.append(buf, 8);
}

bool get_u64(std::string_view& in, uint64_t& v) {
    if (in.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[static_cast<size_t>(i)]);
    in.remove_prefix(8);
    return true;
}

bool get_ids(std::string_view& in, std::vector<NodeId>& ids) {
    uint64_t n = 0;
    if (!get_u64(in, n) || n > in.size() / 8) return false;
    ids.clear();
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t v = 0;
        get_u64(in, v);
        if (v == 0 || (!ids.empty() && NodeId{v} <= ids.back())) return false;
        ids.push_back(NodeId{v});
    }
    return true;
}

}  // namespace

// Big-endian counts and ids: [n voters][ids...][n learners][ids...].
std::string Membership::encode() const {
    std::string out;
    out.reserve(16 + 8 * (voters.size() + learners.size()));
    put_u64(out, voters.size());
    for (NodeId id : voters) put_u64(out, id.value);
    put_u64(out, learners.size());
    for (NodeId id : learners) put_u64(out, id.value);
    return out;
}

bool Membership::decode(std::string_view bytes, Membership& out) {
    Membership m;
    if (!get_ids(bytes, m.voters) || !get_ids(bytes, m.learners) || !bytes.empty()) return false;
    for (NodeId id : m.learners) {
        if (m.is_voter(id)) return false;
    }
    out = std::move(m);
    return true;
}

std::string_view to_string(MessageType t) {
    switch (t) {
        case MessageType::pre_vote:
            return "pre_vote";
        case MessageType::pre_vote_resp:
            return "pre_vote_resp";
        case MessageType::vote:
            return "vote";
        case MessageType::vote_resp:
            return "vote_resp";
        case MessageType::append:
            return "append";
        case MessageType::append_resp:
            return "append_resp";
        case MessageType::heartbeat:
            return "heartbeat";
        case MessageType::heartbeat_resp:
            return "heartbeat_resp";
        case MessageType::snapshot:
            return "snapshot";
        case MessageType::snapshot_resp:
            return "snapshot_resp";
        case MessageType::timeout_now:
            return "timeout_now";
        case MessageType::read_index:
            return "read_index";
        case MessageType::read_index_resp:
            return "read_index_resp";
    }
    return "unknown";
}

std::string_view to_string(Role r) {
    switch (r) {
        case Role::follower:
            return "follower";
        case Role::pre_candidate:
            return "pre_candidate";
        case Role::candidate:
            return "candidate";
        case Role::leader:
            return "leader";
    }
    return "unknown";
}

std::string_view to_string(Error e) {
    switch (e) {
        case Error::not_leader:
            return "not the leader";
        case Error::no_leader:
            return "no leader known";
        case Error::transfer_in_progress:
            return "leadership transfer in progress";
        case Error::membership_change_pending:
            return "a membership change is still uncommitted";
        case Error::leader_not_ready:
            return "leader has not committed an entry of its term yet";
        case Error::too_much_uncommitted:
            return "too many uncommitted bytes";
        case Error::invalid_membership_change:
            return "invalid membership change";
        case Error::invalid_transfer_target:
            return "invalid leadership transfer target";
        case Error::invalid_entry:
            return "invalid entry";
    }
    return "unknown";
}

}  // namespace fjord::raft
