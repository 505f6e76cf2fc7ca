// Throughput of the Raft core alone: a 3-node group in memory, messages
// handed over directly, storage in memory. Measures what the consensus
// algorithm costs per entry and per AppendEntries round, apart from disks and
// networks.
#include <benchmark/benchmark.h>

#include <deque>
#include <memory>
#include <vector>

#include "raft/memory_storage.h"
#include "raft/node.h"

namespace {

using namespace fjord::raft;

class InMemoryGroup {
  public:
    explicit InMemoryGroup(size_t nodes) {
        Membership m;
        for (size_t i = 1; i <= nodes; ++i) m.voters.push_back(NodeId{i});
        Bootstrap b = bootstrap(m);
        for (size_t i = 1; i <= nodes; ++i) {
            auto storage = std::make_unique<MemoryStorage>();
            storage->append({b.entry});
            storage->set_hard_state(b.hard_state);
            Config c;
            c.id = NodeId{i};
            c.random_seed = i;
            c.max_append_bytes = 4 << 20;
            _nodes.push_back(std::make_unique<Node>(c, *storage));
            _storage.push_back(std::move(storage));
        }
        while (_leader == nullptr) {
            for (auto& n : _nodes) {
                n->tick();
                if (n->role() == Role::leader) _leader = n.get();
            }
            pump();
        }
        pump();
    }

    Node& leader() { return *_leader; }

    // Runs every node's Ready and delivers messages until nothing moves.
    void pump() {
        bool moved = true;
        while (moved) {
            moved = false;
            for (size_t i = 0; i < _nodes.size(); ++i) {
                Node& n = *_nodes[i];
                if (!n.has_ready()) continue;
                moved = true;
                Ready rd = n.ready();
                MemoryStorage& s = *_storage[i];
                if (rd.snapshot) s.install_snapshot(*rd.snapshot);
                if (!rd.entries.empty()) s.append(rd.entries);
                if (rd.hard_state) s.set_hard_state(*rd.hard_state);
                for (Message& m : rd.messages) _inbox.push_back(std::move(m));
                for (Message& m : rd.persisted_messages) _inbox.push_back(std::move(m));
                if (&n == _leader) _applied += rd.committed.size();
                n.advance(rd);
            }
            while (!_inbox.empty()) {
                Message m = std::move(_inbox.front());
                _inbox.pop_front();
                _nodes[m.to.value - 1]->step(std::move(m));
                moved = true;
            }
        }
    }

    // Drops applied entries so memory stays flat over millions of entries.
    void compact() {
        for (size_t i = 0; i < _nodes.size(); ++i) {
            Index at = _nodes[i]->applied_index();
            std::optional<Term> t = _storage[i]->term_at(at);
            if (t && at > _storage[i]->snapshot_meta().index) {
                _storage[i]->compact(Snapshot{SnapshotMeta{at, *t, _nodes[i]->membership()}, {}});
            }
        }
    }

    uint64_t applied() const { return _applied; }

  private:
    std::vector<std::unique_ptr<MemoryStorage>> _storage;
    std::vector<std::unique_ptr<Node>> _nodes;
    std::deque<Message> _inbox;
    Node* _leader{nullptr};
    uint64_t _applied{0};
};

// Proposes `batch` entries of `size` bytes, then runs one replication round
// that commits them all on three nodes.
void BM_CommitBatched(benchmark::State& state) {
    auto size = static_cast<size_t>(state.range(0));
    auto batch = static_cast<size_t>(state.range(1));
    InMemoryGroup group(3);
    std::string payload(size, 'x');
    uint64_t start = group.applied();
    for (auto _ : state) {
        for (size_t i = 0; i < batch; ++i) {
            if (!group.leader().propose(payload)) state.SkipWithError("proposal refused");
        }
        group.pump();
        state.PauseTiming();
        group.compact();
        state.ResumeTiming();
    }
    uint64_t committed = group.applied() - start;
    state.counters["entries/s"] =
        benchmark::Counter(static_cast<double>(committed), benchmark::Counter::kIsRate);
    state.SetBytesProcessed(static_cast<int64_t>(committed * size));
    state.counters["rounds/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CommitBatched)
    ->ArgNames({"bytes", "batch"})
    ->Args({100, 1})
    ->Args({100, 64})
    ->Args({100, 1024})
    ->Args({16384, 1})
    ->Args({16384, 64})
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
