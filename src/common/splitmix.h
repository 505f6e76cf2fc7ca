// SplitMix64, the one pseudo-random generator of fjord's deterministic parts
// (Raft election timeouts, the simulator, simulated disks, tests): small,
// fast, and the same sequence on every platform for a given seed, which the
// standard library's distributions do not promise.
#pragma once

#include <cstdint>

namespace fjord {

inline uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace fjord
