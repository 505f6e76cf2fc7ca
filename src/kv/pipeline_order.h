// The order rules of one connection's pipeline on one shard: which of its
// queued commands may run now, so that the pipeline behaves as if its
// commands ran one by one (KvService keeps one such queue per session and
// shard).
//
//   - A read runs once every earlier write has its answer, and a write once
//     every earlier read has; consecutive reads, or consecutive writes, run
//     together.
//   - Nothing runs while an earlier command waits, to start or to be retried:
//     a retried write must not land after a later write.
//   - A command that found no leader runs again only once every earlier one
//     has its answer: an earlier write still in flight on a deposed leader
//     may yet be lost and retried, and must land first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fjord::kv {

struct PipelineSlot {
    uint64_t id = 0;
    bool write = false;
    bool started = false;
    bool retrying = false;  // found no leader: waits for the retry timer, and so do the commands after it
    bool retried = false;   // has found no leader once: runs again only at the head of the queue
};

// Marks as started, and returns the positions of, the slots of `queue` (a
// random-access sequence of PipelineSlot or of a type derived from it, oldest
// first) that may run now, in a sequence of size_t of type `Out`.
template <class Out = std::vector<size_t>, class Queue>
Out take_runnable(Queue& queue) {
    Out runnable;
    bool writes_before = false, reads_before = false, waiting_before = false, any_before = false;
    for (size_t i = 0; i < queue.size(); ++i) {
        PipelineSlot& q = queue[i];
        if (!q.started && !q.retrying && !waiting_before && !(q.write ? reads_before : writes_before) &&
            !(q.retried && any_before)) {
            q.started = true;
            runnable.push_back(i);
        }
        waiting_before = waiting_before || !q.started;
        (q.write ? writes_before : reads_before) = true;
        any_before = true;
    }
    return runnable;
}

}  // namespace fjord::kv
