// A simulated network between simulated nodes: every message takes a random
// delay (so messages reorder), and may be dropped, duplicated, or blocked by a
// partition (per directed link, so partitions can be asymmetric). Time is the
// simulator's clock in milliseconds.
#pragma once

#include <cstdint>
#include <queue>
#include <set>
#include <utility>
#include <vector>

#include "raft/types.h"
#include "sim/random.h"

namespace fjord::sim {

struct NetworkFaults {
    uint64_t min_delay_ms{1};
    uint64_t max_delay_ms{10};
    uint64_t drop_permille{0};
    uint64_t duplicate_permille{0};
};

class Network {
  public:
    explicit Network(Random& rng) : _rng(rng) {}

    void set_faults(const NetworkFaults& f) { _faults = f; }

    // Queues `m`; returns false when it was dropped at once.
    bool send(uint64_t now, raft::Message m);
    // Puts a message on the wire as is, bypassing faults (for injected input).
    void inject(uint64_t at, raft::Message m);
    // Removes and returns the messages due at or before `now`, in delivery order.
    std::vector<raft::Message> due(uint64_t now);

    void block(raft::NodeId from, raft::NodeId to) { _blocked.insert({from.value, to.value}); }
    bool blocked(raft::NodeId from, raft::NodeId to) const {
        return _blocked.count({from.value, to.value}) > 0;
    }
    void heal() { _blocked.clear(); }
    bool partitioned() const { return !_blocked.empty(); }

    // A message sent some time ago, for replaying stale traffic; nullptr if none yet.
    const raft::Message* old_message();

  private:
    struct InFlight {
        uint64_t at;
        uint64_t seq;
        raft::Message msg;
        bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : seq > o.seq; }
    };

    Random& _rng;
    NetworkFaults _faults;
    uint64_t _seq{0};
    std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> _queue;
    std::set<std::pair<uint64_t, uint64_t>> _blocked;
    std::vector<raft::Message> _history;  // a sample of past messages
};

}  // namespace fjord::sim
