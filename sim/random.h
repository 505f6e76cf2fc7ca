// The simulator's one source of randomness. A run is a pure function of its
// seed, so the generator and its arithmetic are spelled out here rather than
// left to the standard library's implementation-defined distributions.
#pragma once

#include <cstdint>

#include "common/splitmix.h"

namespace fjord::sim {

class Random {
  public:
    explicit Random(uint64_t seed) : _state(seed) {}

    uint64_t next() { return splitmix64(_state); }
    // Uniform in [lo, hi].
    uint64_t between(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
    // True with probability `permille` / 1000.
    bool chance(uint64_t permille) { return next() % 1000 < permille; }

  private:
    uint64_t _state;
};

}  // namespace fjord::sim
