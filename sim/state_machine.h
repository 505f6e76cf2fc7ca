// The application state of a simulated node: a running hash over every
// applied entry (so two nodes with equal hashes at an index applied the same
// entries) and the membership in force at the applied index.
#pragma once

#include <cstdint>
#include <string>

#include "raft/types.h"

namespace fjord::sim {

uint64_t hash_bytes(std::string_view bytes);

struct StateMachine {
    raft::Index applied;
    uint64_t chain{0};
    uint64_t entries_applied{0};
    raft::Membership membership;

    void apply(const raft::Entry& e);
    std::string encode() const;
    static bool decode(std::string_view bytes, StateMachine& out);
};

// The chain hash after appending entry `e` to a prefix whose hash is `prev`.
uint64_t chain_hash(uint64_t prev, const raft::Entry& e);

}  // namespace fjord::sim
