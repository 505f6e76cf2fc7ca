#include "sim/network.h"

namespace fjord::sim {

bool Network::send(uint64_t now, raft::Message m) {
    if (blocked(m.from, m.to) || _rng.chance(_faults.drop_permille)) return false;
    if (_rng.chance(20)) {
        // Keep a bounded sample of traffic to replay later as stale input.
        if (_history.size() < 64) {
            _history.push_back(m);
        } else {
            _history[_rng.between(0, _history.size() - 1)] = m;
        }
    }
    if (_rng.chance(_faults.duplicate_permille)) {
        _queue.push({now + _rng.between(_faults.min_delay_ms, _faults.max_delay_ms), _seq++, m});
    }
    _queue.push({now + _rng.between(_faults.min_delay_ms, _faults.max_delay_ms), _seq++, std::move(m)});
    return true;
}

void Network::inject(uint64_t at, raft::Message m) {
    _queue.push({at, _seq++, std::move(m)});
}

std::vector<raft::Message> Network::due(uint64_t now) {
    std::vector<raft::Message> out;
    while (!_queue.empty() && _queue.top().at <= now) {
        // priority_queue::top is const; the element is popped right after.
        raft::Message m = std::move(const_cast<InFlight&>(_queue.top()).msg);
        _queue.pop();
        // A partition also cuts messages that were already on the wire.
        if (!blocked(m.from, m.to)) out.push_back(std::move(m));
    }
    return out;
}

const raft::Message* Network::old_message() {
    if (_history.empty()) return nullptr;
    return &_history[_rng.between(0, _history.size() - 1)];
}

}  // namespace fjord::sim
