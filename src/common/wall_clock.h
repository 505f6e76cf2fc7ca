// Milliseconds since the Unix epoch by the wall clock: the timestamps Kafka
// record batches carry. Durations and deadlines use the steady clock instead.
#pragma once

#include <chrono>
#include <cstdint>

namespace fjord {

inline int64_t wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace fjord
