// RaftLogStore crash torture: seeded runs of random appends (random spans and
// types, terms never decreasing, now and then a suffix replaced by a higher
// term), syncs, hard-state changes, compactions, snapshot installs, restarts
// and power losses with torn writes on SimFileSystem. After every reopen:
//   - every entry synced and not replaced since is there, (index, term, span,
//     type, data) identical;
//   - every entry served was once appended, byte for byte (no garbled epoch);
//   - the log is contiguous from the snapshot, terms never decrease along it,
//     last_index() is an entry boundary and the lookups agree with entries();
//   - a restart without power loss loses nothing at all;
//   - term and vote are the last ones set, the snapshot the last one taken.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <sstream>

#include "raft_log_store_test_util.h"

namespace fjord::cluster::testing {
namespace {

constexpr uint64_t kSeeds = 500;
constexpr int kRounds = 5;  // reopenings per seed

struct Stats {
    uint64_t appends = 0;
    uint64_t replacements = 0;
    uint64_t crashes = 0;
    uint64_t restarts = 0;
    uint64_t unsynced_lost = 0;  // reopenings that lost unsynced entries
    uint64_t unsynced_kept = 0;  // reopenings that kept some
    uint64_t compactions = 0;
    uint64_t installs = 0;
    uint64_t garbled = 0;  // epochs flipped in unsynced batches before a power loss
};

class Torture {
  public:
    Torture(uint64_t seed, Stats& stats)
        : _rng(seed), _fs(seed * 7919 + 1), _config(quiet_config(pick_segment_bytes())), _stats(stats) {}

    void run() {
        _store = open_store(_fs, _config);
        ASSERT_TRUE(_store);
        for (int round = 0; round < kRounds; ++round) {
            SCOPED_TRACE("round " + std::to_string(round));
            int ops = static_cast<int>(_rng.range(5, 40));
            for (int op = 0; op < ops; ++op) {
                step();
                if (::testing::Test::HasFailure()) return;
                if (_rng.chance(25)) {
                    // Between crashes the store serves exactly what it was given.
                    ASSERT_TRUE(holds_exactly(*_store, _log)) << "after op " << op;
                    ASSERT_EQ(_store->snapshot_meta(), _snap);
                }
            }
            reopen();
            if (::testing::Test::HasFailure()) return;
        }
    }

  private:
    uint64_t pick_segment_bytes() {
        switch (_rng.range(0, 2)) {
            case 0:
                return 256;
            case 1:
                return 1024;
            default:
                return 1 << 20;
        }
    }

    Index last_index() const { return _log.empty() ? _snap.index : _log.back().index; }

    Entry random_entry(uint64_t first_offset, uint64_t term) {
        uint64_t kind = _rng.range(0, 99);
        if (kind < 8) return noop_entry(first_offset + 1, term);
        if (kind < 14) {
            raft::Membership m;
            uint64_t n = _rng.range(1, 4);
            for (uint64_t i = 1; i <= n; ++i) m.voters.push_back(NodeId{i});
            if (_rng.chance(30)) m.learners.push_back(NodeId{n + 1});
            return membership_entry(first_offset + 1, term, m);
        }
        auto span = static_cast<uint32_t>(_rng.range(1, 6));
        return normal_entry(first_offset + span, span, term, _rng.next() % 100000, _rng.range(0, 40));
    }

    void append_from(uint64_t first_offset, size_t keep) {
        std::vector<Entry> batch;
        uint64_t offset = first_offset;
        size_t n = _rng.range(1, 4);
        for (size_t i = 0; i < n; ++i) {
            if (_rng.chance(10)) ++_term;
            Entry e = random_entry(offset, _term);
            offset = e.index.value;
            batch.push_back(std::move(e));
        }
        ASSERT_TRUE(appended(*_store, batch));
        _log.resize(keep);
        for (auto it = _durable.upper_bound(first_offset); it != _durable.end();) it = _durable.erase(it);
        for (const Entry& e : batch) {
            _log.push_back(e);
            _history[e.index.value].push_back(e);
        }
        ++_stats.appends;
    }

    void step() {
        uint64_t op = _rng.range(0, 99);
        if (op < 50) {
            append_from(last_index().value, _log.size());
        } else if (op < 60 && !_log.empty()) {
            // A new leader replaces everything from some entry boundary on.
            size_t keep = _rng.range(0, _log.size() - 1);
            uint64_t first_offset = keep == 0 ? _snap.index.value : _log[keep - 1].index.value;
            _term += _rng.range(1, 2);
            append_from(first_offset, keep);
            ++_stats.replacements;
        } else if (op < 85) {
            ASSERT_TRUE(synced(*_store));
            _durable.clear();
            for (const Entry& e : _log) _durable[e.index.value] = e;
        } else if (op < 91) {
            // Term and vote changes are durable at once; commit rides along.
            HardState hs = _store->hard_state();
            if (_rng.chance(50)) {
                hs.term = Term{std::max(hs.term.value, _term) + _rng.range(0, 1)};
                hs.vote = raft::no_node;
            } else {
                hs.vote = NodeId{_rng.range(1, 5)};
            }
            hs.commit = Index{_rng.range(0, last_index().value)};
            ASSERT_TRUE(_store->set_hard_state(hs));
            _hard_term = hs.term;
            _hard_vote = hs.vote;
        } else if (op < 96) {
            // Compact at an entry known durable (as applied entries are).
            if (_durable.empty()) return;
            auto it = _durable.begin();
            std::advance(it, static_cast<std::ptrdiff_t>(_rng.range(0, _durable.size() - 1)));
            Entry at = it->second;
            raft::Snapshot snap{raft::SnapshotMeta{at.index, at.term, membership_of({1, 2, 3})},
                                "image-" + std::to_string(_rng.next())};
            ASSERT_TRUE(compacted(*_store, snap));
            _snap = snap.meta;
            _snap_data = snap.data;
            _log.erase(_log.begin(), std::find_if(_log.begin(), _log.end(),
                                                  [&](const Entry& e) { return e.index > at.index; }));
            _durable.erase(_durable.begin(), _durable.upper_bound(at.index.value));
            ++_stats.compactions;
        } else if (op < 98) {
            // A snapshot from the leader, beyond our log.
            _term += _rng.range(0, 1);
            raft::Snapshot snap{raft::SnapshotMeta{Index{last_index().value + _rng.range(0, 20)}, Term{_term},
                                                   membership_of({1, 2})},
                                "leader-image-" + std::to_string(_rng.next())};
            ASSERT_TRUE(installed(*_store, snap));
            _snap = snap.meta;
            _snap_data = snap.data;
            _log.clear();
            _durable.clear();
            ++_stats.installs;
        }
    }

    // What a torn write may do to an unsynced batch (SimFileSystem::crash
    // garbles at most one byte, and rarely one of these): flip a byte of its
    // partitionLeaderEpoch, which the batch CRC does not cover.
    void garble_unsynced_epoch() {
        std::vector<const Entry*> unsynced;
        for (const Entry& e : _log) {
            if (!_durable.count(e.index.value)) unsynced.push_back(&e);
        }
        if (unsynced.empty()) return;
        const Entry& victim = *unsynced[_rng.range(0, unsynced.size() - 1)];
        auto loc = locate_batch(_fs, static_cast<int64_t>(victim.index.value - victim.span));
        ASSERT_TRUE(loc) << "no batch at offset " << victim.index.value - victim.span;
        _fs.corrupt(loc->path, loc->position + 12 + _rng.range(0, 3));
        ++_stats.garbled;
    }

    void reopen() {
        // Often a crash catches appends in flight: an unsynced tail to tear.
        if (_rng.chance(60)) {
            for (uint64_t i = _rng.range(1, 3); i > 0; --i) {
                append_from(last_index().value, _log.size());
                if (::testing::Test::HasFailure()) return;
            }
        }
        _store.reset();
        bool power_loss = _rng.chance(80);
        if (power_loss && _rng.chance(40)) garble_unsynced_epoch();
        if (::testing::Test::HasFailure()) return;
        if (power_loss) {
            _fs.crash(_rng.chance(85));
            ++_stats.crashes;
        } else {
            ++_stats.restarts;
        }
        _store = open_store(_fs, _config);
        ASSERT_TRUE(_store);
        const RaftLogStore& s = *_store;

        // The snapshot and the hard state are written atomically and synced.
        EXPECT_EQ(s.snapshot_meta(), _snap);
        EXPECT_EQ(s.snapshot()->data, _snap_data);
        EXPECT_EQ(s.hard_state().term, _hard_term);
        EXPECT_EQ(s.hard_state().vote, _hard_vote);

        std::vector<Entry> got = read_all(s);
        // Contiguous from the snapshot; terms never decrease; served entries
        // were appended once, byte for byte.
        uint64_t offset = _snap.index.value;
        Term term = _snap.term;
        for (const Entry& e : got) {
            ASSERT_GE(e.span, 1u);
            ASSERT_EQ(e.index.value - e.span, offset) << "gap or overlap before index " << e.index.value;
            ASSERT_GE(e.term, term) << "term decreases at index " << e.index.value;
            const auto& seen = _history[e.index.value];
            ASSERT_TRUE(std::find(seen.begin(), seen.end(), e) != seen.end())
                << "index " << e.index.value
                << " holds an entry never appended: " << ::testing::PrintToString(e);
            offset = e.index.value;
            term = e.term;
        }
        EXPECT_EQ(s.last_index().value, offset) << "last_index() is not the end of the last entry";
        EXPECT_EQ(_store->log().next_offset(), static_cast<int64_t>(offset));
        // Everything synced and not replaced since.
        std::map<uint64_t, const Entry*> by_index;
        for (const Entry& e : got) by_index[e.index.value] = &e;
        for (const auto& [index, e] : _durable) {
            auto it = by_index.find(index);
            ASSERT_TRUE(it != by_index.end()) << "synced entry " << index << " is lost";
            ASSERT_EQ(*it->second, e) << "synced entry " << index << " changed";
        }
        if (!power_loss) {
            EXPECT_EQ(got, _log) << "a restart without power loss changed the log";
        }
        EXPECT_TRUE(holds_exactly(s, got));
        std::vector<Entry> members;
        for (const Entry& e : got) {
            if (e.type == EntryType::membership) members.push_back(e);
        }
        EXPECT_EQ(s.membership_entries(), members);

        if (got.size() < _log.size()) ++_stats.unsynced_lost;
        if (got.size() > _durable.size()) ++_stats.unsynced_kept;
        // What was recovered is durable now (PartitionLog::open syncs it).
        _log = got;
        _durable.clear();
        for (const Entry& e : _log) _durable[e.index.value] = e;
    }

    Rng _rng;
    storage::SimFileSystem _fs;
    storage::LogConfig _config;
    Stats& _stats;
    std::unique_ptr<RaftLogStore> _store;
    uint64_t _term = 1;
    raft::SnapshotMeta _snap;
    std::string _snap_data;
    Term _hard_term;
    NodeId _hard_vote;
    std::vector<Entry> _log;                          // what the store holds now, above the snapshot
    std::map<uint64_t, Entry> _durable;               // synced and not replaced since, by index
    std::map<uint64_t, std::vector<Entry>> _history;  // every entry ever appended, by index
};

TEST(RaftLogStoreCrashTest, RandomAppendsSyncsAndCrashes) {
    auto start = std::chrono::steady_clock::now();
    Stats stats;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        Torture(seed, stats).run();
        if (HasFailure()) {
            ADD_FAILURE() << "first failing seed: " << seed;
            break;
        }
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream summary;
    summary << stats.appends << " appends, " << stats.replacements << " replacements, " << stats.compactions
            << " compactions, " << stats.installs << " installs, " << stats.garbled << " garbled epochs, "
            << stats.crashes << " power losses, " << stats.restarts << " restarts; unsynced entries lost at "
            << stats.unsynced_lost << " and kept at " << stats.unsynced_kept << " reopenings; " << secs
            << " s";
    RecordProperty("summary", summary.str());
    std::printf("%s\n", summary.str().c_str());
    // The run must have exercised what it claims to.
    EXPECT_GT(stats.replacements, 100u);
    EXPECT_GT(stats.unsynced_lost, 50u);
    EXPECT_GT(stats.unsynced_kept, 50u);
    EXPECT_GT(stats.compactions, 20u);
    EXPECT_GT(stats.installs, 5u);
    EXPECT_GT(stats.garbled, 100u);
}

}  // namespace
}  // namespace fjord::cluster::testing
