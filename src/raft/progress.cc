#include "raft/progress.h"

namespace fjord::raft {

void Inflights::add(Index last, size_t bytes) {
    _sent.push_back({last, bytes});
    _bytes += bytes;
}

void Inflights::free_up_to(Index acked) {
    while (!_sent.empty() && _sent.front().last <= acked) free_first();
}

void Inflights::free_first() {
    if (_sent.empty()) return;
    _bytes -= _sent.front().bytes;
    _sent.pop_front();
}

void Inflights::reset() {
    _sent.clear();
    _bytes = 0;
}

void Progress::become_probe() {
    // After a snapshot the follower holds at least the snapshot point.
    if (state == ProgressState::snapshot && snapshot && snapshot->meta.index > match) {
        sent = snapshot->meta.index;
    } else {
        sent = match;
    }
    state = ProgressState::probe;
    probe_sent = false;
    inflights.reset();
    snapshot.reset();
}

void Progress::become_replicate() {
    state = ProgressState::replicate;
    sent = match;
    probe_sent = false;
    inflights.reset();
    snapshot.reset();
}

void Progress::become_snapshot(std::shared_ptr<const Snapshot> snap) {
    state = ProgressState::snapshot;
    probe_sent = false;
    inflights.reset();
    snapshot = std::move(snap);
    snapshot_offset = 0;
}

bool Progress::update_match(Index acked) {
    if (acked <= match) return false;
    match = acked;
    if (sent < match) sent = match;
    probe_sent = false;
    return true;
}

bool Progress::paused() const {
    switch (state) {
        case ProgressState::probe:
            return probe_sent;
        case ProgressState::replicate:
            return inflights.full();
        case ProgressState::snapshot:
            return true;
    }
    return true;
}

std::string_view to_string(ProgressState s) {
    switch (s) {
        case ProgressState::probe:
            return "probe";
        case ProgressState::replicate:
            return "replicate";
        case ProgressState::snapshot:
            return "snapshot";
    }
    return "unknown";
}

}  // namespace fjord::raft
