// A ReplicaHost for tests of one cluster::Replica: one thread, virtual time
// (posted work runs in order, timers when their time comes), syncs inline on
// a simulated disk (or on `disk` through `flush_threads` when a test sets
// them), and counts of the Raft messages the replica sent and of its log
// syncs.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "cluster/replica.h"
#include "storage/sim_file_system.h"

namespace fjord::testing {

class FakeReplicaHost final : public cluster::ReplicaHost {
  public:
    storage::FileSystem& file_system() override { return disk ? *disk : fs; }
    storage::Flusher* flusher() override { return flush_threads; }
    void post(std::function<void()> fn) override { _queue.push_back(std::move(fn)); }
    void post_after(int ms, std::function<void()> fn) override { _timers.emplace(_now + ms, std::move(fn)); }
    void send_raft(uint64_t, const raft::Message& m) override {
        ++messages_sent;
        sent.push_back(m);
    }
    int64_t now_ms() const override { return _now; }
    void observe_append(size_t, double) override {}
    void observe_fsync(double) override { ++fsyncs; }
    void observe_election_won() override {}
    void on_applied(uint64_t) override {}

    // Runs what is posted, without advancing time.
    void run() {
        while (!_queue.empty()) {
            auto fn = std::move(_queue.front());
            _queue.pop_front();
            fn();
        }
    }
    // Advances time by `ms` in 10 ms ticks of `replica`, running what is due.
    void advance(cluster::Replica& replica, int64_t ms) {
        for (int64_t end = _now + ms; _now < end;) {
            _now += 10;
            replica.tick();
            while (!_timers.empty() && _timers.begin()->first <= _now) {
                auto fn = std::move(_timers.begin()->second);
                _timers.erase(_timers.begin());
                fn();
            }
            run();
        }
    }
    // Moves the clock without ticking anyone: the process was paused.
    void pause(int64_t ms) { _now += ms; }

    storage::SimFileSystem fs;
    storage::FileSystem* disk{nullptr};
    storage::Flusher* flush_threads{nullptr};
    int messages_sent{0};
    int fsyncs{0};                    // log syncs the replica reported
    std::vector<raft::Message> sent;  // every Raft message the replica sent, in order

  private:
    int64_t _now{1000};
    std::deque<std::function<void()>> _queue;
    std::multimap<int64_t, std::function<void()>> _timers;
};

}  // namespace fjord::testing
