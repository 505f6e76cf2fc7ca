// The tests' random numbers: SplitMix64, so a seed replays the same run on
// every platform (std:: distributions do not promise that).
#pragma once

#include <cstdint>

#include "common/splitmix.h"

namespace fjord::testing {

class SeededRng {
  public:
    explicit SeededRng(uint64_t seed) : _state(seed) {}
    uint64_t next() { return splitmix64(_state); }
    // Uniform in [lo, hi].
    uint64_t range(uint64_t lo, uint64_t hi) { return lo + next() % (hi - lo + 1); }
    bool chance(unsigned percent) { return next() % 100 < percent; }

  private:
    uint64_t _state;
};

}  // namespace fjord::testing
