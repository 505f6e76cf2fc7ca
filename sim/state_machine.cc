#include "sim/state_machine.h"

#include <cstring>

namespace fjord::sim {

uint64_t hash_bytes(std::string_view bytes) {
    uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
    for (char c : bytes) {
        h ^= static_cast<uint8_t>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t chain_hash(uint64_t prev, const raft::Entry& e) {
    uint64_t h = prev ^ 0x9E3779B97F4A7C15ull;
    for (uint64_t v : {e.index.value, e.term.value, static_cast<uint64_t>(e.type), hash_bytes(e.data)}) {
        h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdull;
    }
    return h;
}

void StateMachine::apply(const raft::Entry& e) {
    applied = e.index;
    chain = chain_hash(chain, e);
    ++entries_applied;
    if (e.type == raft::EntryType::membership) raft::Membership::decode(e.data, membership);
}

std::string StateMachine::encode() const {
    std::string m = membership.encode();
    std::string out(24, '\0');
    std::memcpy(out.data(), &applied.value, 8);
    std::memcpy(out.data() + 8, &chain, 8);
    std::memcpy(out.data() + 16, &entries_applied, 8);
    return out + m;
}

bool StateMachine::decode(std::string_view bytes, StateMachine& out) {
    if (bytes.size() < 24) return false;
    std::memcpy(&out.applied.value, bytes.data(), 8);
    std::memcpy(&out.chain, bytes.data() + 8, 8);
    std::memcpy(&out.entries_applied, bytes.data() + 16, 8);
    return raft::Membership::decode(bytes.substr(24), out.membership);
}

}  // namespace fjord::sim
