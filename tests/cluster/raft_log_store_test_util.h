// Helpers shared by the RaftLogStore tests: entry construction (normal entries
// are record batches of `span` records, stamped as the leader stamps them),
// inline syncs, whole-log reads and consistency checks.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "cluster/raft_log_store.h"
#include "seeded_rng.h"
#include "storage/record_batch.h"
#include "storage/sim_file_system.h"
#include "storage/state_files.h"

namespace fjord {

template <typename Tag, typename Rep>
void PrintTo(const Tagged<Tag, Rep>& t, std::ostream* os) {
    *os << t.value;
}

namespace raft {

inline void PrintTo(const Entry& e, std::ostream* os) {
    *os << "{index " << e.index.value << ", term " << e.term.value << ", span " << e.span << ", type "
        << static_cast<int>(e.type) << ", " << e.data.size() << " bytes}";
}
inline void PrintTo(const EntryId& e, std::ostream* os) {
    *os << "(" << e.index.value << ", " << e.term.value << ")";
}
inline void PrintTo(const HardState& h, std::ostream* os) {
    *os << "{term " << h.term.value << ", vote " << h.vote.value << ", commit " << h.commit.value << "}";
}

}  // namespace raft

namespace storage {
inline void PrintTo(const EpochStart& e, std::ostream* os) {
    *os << "(epoch " << e.epoch << " @" << e.start_offset << ")";
}
}  // namespace storage

namespace cluster::testing {

using raft::Entry;
using raft::EntryId;
using raft::EntryType;
using raft::HardState;
using raft::Index;
using raft::NodeId;
using raft::Term;

inline const std::string kDir = "/data/partition-0";

using Rng = fjord::testing::SeededRng;

inline storage::LogConfig quiet_config(uint64_t segment_bytes = 1ull << 30) {
    storage::LogConfig config;
    config.segment_bytes = segment_bytes;
    config.index_interval_bytes = 128;
    config.log = [](const std::string&) {};  // torn tails after crashes are expected here
    return config;
}

// An application batch of `records` records whose contents depend on `salt`.
inline std::string make_records_batch(uint32_t records, uint64_t salt, size_t value_size = 12) {
    std::vector<storage::Record> rs;
    for (uint32_t i = 0; i < records; ++i) {
        storage::Record r;
        r.key = "k" + std::to_string(salt) + "-" + std::to_string(i);
        r.value.assign(value_size + (salt + i) % 7, static_cast<char>('a' + (salt * 7 + i) % 26));
        r.timestamp_delta = i;
        rs.push_back(std::move(r));
    }
    return storage::encode_batch(0, 0, 1000 + static_cast<int64_t>(salt), rs);
}

// A normal entry ending at `index`: a batch of `span` records, stamped as
// raft::Config::stamp_entry stamps it.
inline Entry normal_entry(uint64_t index, uint32_t span, uint64_t term, uint64_t salt = 0,
                          size_t value_size = 12) {
    std::string batch = make_records_batch(span, salt * 1000 + index, value_size);
    stamp_batch_entry(batch, Index{index}, span, Term{term});
    Entry e;
    e.index = Index{index};
    e.term = Term{term};
    e.span = span;
    e.type = EntryType::normal;
    e.data = std::move(batch);
    return e;
}

inline Entry noop_entry(uint64_t index, uint64_t term) {
    Entry e;
    e.index = Index{index};
    e.term = Term{term};
    e.span = 1;
    e.type = EntryType::noop;
    return e;
}

inline raft::Membership membership_of(std::initializer_list<uint64_t> voters,
                                      std::initializer_list<uint64_t> learners = {}) {
    raft::Membership m;
    for (uint64_t v : voters) m.voters.push_back(NodeId{v});
    for (uint64_t l : learners) m.learners.push_back(NodeId{l});
    return m;
}

inline Entry membership_entry(uint64_t index, uint64_t term, const raft::Membership& m) {
    Entry e;
    e.index = Index{index};
    e.term = Term{term};
    e.span = 1;
    e.type = EntryType::membership;
    e.data = m.encode();
    return e;
}

inline std::unique_ptr<RaftLogStore> open_store(storage::FileSystem& fs,
                                                const storage::LogConfig& config = quiet_config(),
                                                int64_t now_ms = 0) {
    auto store = RaftLogStore::open(fs, kDir, config, nullptr, now_ms);
    if (!store) {
        ADD_FAILURE() << "RaftLogStore::open failed: " << static_cast<int>(store.error().code) << " "
                      << store.error().detail;
        return nullptr;
    }
    return std::move(*store);
}

// sync() without a Flusher completes before it returns.
inline storage::StorageResult<int64_t> sync_store(RaftLogStore& store) {
    std::optional<storage::StorageResult<int64_t>> out;
    store.sync([&out](storage::StorageResult<int64_t> r) { out.emplace(std::move(r)); });
    if (!out) return storage::storage_error(storage::StorageErrc::io_error, "sync did not complete inline");
    return std::move(*out);
}

inline ::testing::AssertionResult appended(RaftLogStore& store, const std::vector<Entry>& entries) {
    auto r = store.append(entries, 0);
    if (!r) {
        return ::testing::AssertionFailure()
               << "append failed: " << static_cast<int>(r.error().code) << " " << r.error().detail;
    }
    return ::testing::AssertionSuccess();
}

inline ::testing::AssertionResult synced(RaftLogStore& store) {
    auto r = sync_store(store);
    if (!r) return ::testing::AssertionFailure() << "sync failed: " << r.error().detail;
    if (*r != static_cast<int64_t>(store.last_index().value)) {
        return ::testing::AssertionFailure()
               << "sync reported durable up to " << *r << " but last_index() is " << store.last_index().value;
    }
    return ::testing::AssertionSuccess();
}

// compact_to, which finishes at once on a store without a Flusher.
inline ::testing::AssertionResult compacted_to(RaftLogStore& store,
                                               std::shared_ptr<const raft::Snapshot> snap) {
    std::optional<storage::StorageResult<Ok>> result;
    store.compact_to(std::move(snap), [&](storage::StorageResult<Ok> r) { result = std::move(r); });
    if (!result) return ::testing::AssertionFailure() << "compact_to did not finish at once";
    if (!*result) return ::testing::AssertionFailure() << "compact_to failed: " << result->error().detail;
    return ::testing::AssertionSuccess();
}

// A snapshot taken and compacted to in one go, as a replica does in steps:
// staged, synced, then compacted to.
inline ::testing::AssertionResult compacted(RaftLogStore& store, const raft::Snapshot& snap) {
    auto file = store.stage_snapshot(snap);
    if (!file) return ::testing::AssertionFailure() << "stage_snapshot failed: " << file.error().detail;
    if (auto r = (*file)->sync(); !r)
        return ::testing::AssertionFailure() << "sync failed: " << r.error().message();
    return compacted_to(store, std::make_shared<const raft::Snapshot>(snap));
}

// install_snapshot's answer, which comes at once without a Flusher.
inline storage::StorageResult<Ok> installed(RaftLogStore& store, const raft::Snapshot& snap) {
    std::optional<storage::StorageResult<Ok>> result;
    store.install_snapshot(std::make_shared<const raft::Snapshot>(snap), 0,
                           [&](storage::StorageResult<Ok> r) { result = std::move(r); });
    if (!result)
        return storage::storage_error(storage::StorageErrc::bad_request,
                                      "install_snapshot did not finish at once");
    return std::move(*result);
}

// Every entry above the snapshot, read in one go.
inline std::vector<Entry> read_all(const RaftLogStore& store) {
    std::vector<Entry> out;
    store.entries(store.snapshot_meta().index, store.last_index(), size_t{1} << 30, out);
    return out;
}

// The store holds exactly `expected` above its snapshot: entries() returns
// them byte for byte, and the index/term lookups agree, including inside spans.
inline ::testing::AssertionResult holds_exactly(const RaftLogStore& store,
                                                const std::vector<Entry>& expected) {
    Index snap = store.snapshot_meta().index;
    Index want_last = expected.empty() ? snap : expected.back().index;
    if (store.last_index() != want_last) {
        return ::testing::AssertionFailure()
               << "last_index() is " << store.last_index().value << ", expected " << want_last.value;
    }
    std::vector<Entry> got = read_all(store);
    if (got.size() != expected.size()) {
        return ::testing::AssertionFailure()
               << "entries() returned " << got.size() << " entries, expected " << expected.size();
    }
    Index prev = snap;
    for (size_t i = 0; i < expected.size(); ++i) {
        const Entry& e = expected[i];
        if (!(got[i] == e)) {
            return ::testing::AssertionFailure()
                   << "entry #" << i << " differs: got " << ::testing::PrintToString(got[i]) << " expected "
                   << ::testing::PrintToString(e) << (got[i].data == e.data ? "" : " (data differs)");
        }
        if (store.term_at(e.index) != e.term) {
            return ::testing::AssertionFailure()
                   << "term_at(" << e.index.value << ") is not " << e.term.value;
        }
        for (uint64_t inside = prev.value + 1; inside < e.index.value; ++inside) {
            if (store.term_at(Index{inside}).has_value()) {
                return ::testing::AssertionFailure() << "term_at(" << inside << ") inside a span has a value";
            }
            auto at = store.entry_at_or_before(Index{inside});
            Term prev_term = i == 0 ? store.snapshot_meta().term : expected[i - 1].term;
            if (!at || !(*at == EntryId{prev, prev_term})) {
                return ::testing::AssertionFailure() << "entry_at_or_before(" << inside << ") is not ("
                                                     << prev.value << ", " << prev_term.value << ")";
            }
        }
        auto at = store.entry_at_or_before(e.index);
        if (!at || !(*at == EntryId{e.index, e.term})) {
            return ::testing::AssertionFailure() << "entry_at_or_before(" << e.index.value << ") is wrong";
        }
        prev = e.index;
    }
    if (store.term_at(Index{want_last.value + 1}).has_value()) {
        return ::testing::AssertionFailure() << "term_at past the end has a value";
    }
    // Below the snapshot everything is compacted away.
    for (uint64_t below = snap.value - std::min<uint64_t>(snap.value, 64); below < snap.value; ++below) {
        if (store.term_at(Index{below}).has_value() || store.entry_at_or_before(Index{below}).has_value()) {
            return ::testing::AssertionFailure()
                   << "index " << below << " below the snapshot " << snap.value << " still has a term";
        }
    }
    std::vector<Entry> members;
    for (const Entry& e : expected) {
        if (e.type == EntryType::membership) members.push_back(e);
    }
    if (store.membership_entries() != members) {
        return ::testing::AssertionFailure()
               << "membership_entries() differs from the membership entries held";
    }
    return ::testing::AssertionSuccess();
}

// The segment file holding `offset` and the byte position of the batch whose
// base offset is `offset` in it (read from the files, as recovery would).
struct BatchLocation {
    std::string path;
    uint64_t position{0};
};
inline std::optional<BatchLocation> locate_batch(storage::FileSystem& fs, int64_t offset) {
    auto names = fs.list(kDir);
    if (!names) return std::nullopt;
    std::string best;
    int64_t best_base = -1;
    for (const std::string& name : *names) {
        if (name.size() != 24 || name.compare(20, 4, ".log") != 0) continue;
        int64_t base = std::stoll(name.substr(0, 20));
        if (base <= offset && base > best_base) {
            best_base = base;
            best = name;
        }
    }
    if (best_base < 0) return std::nullopt;
    std::string path = storage::join_path(kDir, best);
    auto bytes = storage::read_file(fs, path);
    if (!bytes) return std::nullopt;
    std::string_view rest = *bytes;
    uint64_t position = 0;
    while (rest.size() >= storage::kBatchHeaderSize) {
        auto h = storage::parse_batch_header(rest);
        if (!h || h->size > rest.size()) return std::nullopt;
        if (h->base_offset == offset) return BatchLocation{path, position};
        position += h->size;
        rest.remove_prefix(h->size);
    }
    return std::nullopt;
}

}  // namespace cluster::testing
}  // namespace fjord
