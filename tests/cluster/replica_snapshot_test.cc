// A replica's snapshot of its state machine, on real files with a real
// Flusher: the image is written on the loop and synced on the Flusher's
// thread while the replica keeps committing; the log is compacted below it
// only once it is durable; a snapshot from the leader waits for it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "cluster/replica.h"
#include "fake_replica_host.h"
#include "gated_file_system.h"
#include "raft_log_store_test_util.h"
#include "storage/flusher.h"
#include "storage/record_batch.h"
#include "storage/state_files.h"
#include "temp_dir.h"

namespace fjord::cluster {
namespace {

using storage::testing::GatedFileSystem;
using storage::testing::Loop;
using storage::testing::ReleaseAll;
using storage::testing::TempDir;
using namespace std::chrono_literals;

// Counts the entries applied; its image is that count.
class CountingStateMachine final : public StateMachine {
  public:
    void apply(const raft::Entry&) override { ++applied; }
    bool has_image() const override { return true; }
    std::string image() const override { return std::to_string(applied); }
    bool restore(std::string_view image) override {
        applied = std::stoull(std::string(image));
        ++restores;
        return true;
    }
    uint64_t applied{0};
    int restores{0};
};

// The same, building its image in steps: begin_image() notes the count, and
// the image comes after `steps` calls of image_step().
class SteppedStateMachine final : public StateMachine {
  public:
    void apply(const raft::Entry&) override { ++applied; }
    bool has_image() const override { return true; }
    std::string image() const override { return std::to_string(applied); }
    bool begin_image() override {
        at_begin = applied;
        steps_left = 3;
        return true;
    }
    std::optional<std::string> image_step() override {
        ++steps;
        if (--steps_left > 0) return std::nullopt;
        return std::to_string(at_begin);
    }
    void abandon_image() override { ++abandoned; }
    bool restore(std::string_view image) override {
        applied = std::stoull(std::string(image));
        ++restores;
        return true;
    }
    uint64_t applied{0}, at_begin{0};
    int steps_left{0}, steps{0}, restores{0}, abandoned{0};
};

bool ends_with_tmp_snapshot(const std::string& path) {
    return path.ends_with("raft-snapshot.tmp");
}

// The last fsync of a compaction's disk work: the log's new start offset.
bool ends_with_tmp_start_offset(const std::string& path) {
    return path.ends_with("log-start-offset.tmp");
}

// Entries `after`+1..`last` of term 5 from node 2, the leader (played by the
// test), committed up to `last`.
raft::Message append_from_node_2(uint64_t after, uint64_t last) {
    raft::Message m;
    m.type = raft::MessageType::append;
    m.from = raft::NodeId{2};
    m.to = raft::NodeId{1};
    m.term = raft::Term{5};
    m.log_index = raft::Index{after};
    m.log_term = raft::Term{after == 1 ? 1U : 5U};
    for (uint64_t i = after + 1; i <= last; ++i) {
        raft::Entry e;
        e.index = raft::Index{i};
        e.term = raft::Term{5};
        e.data = storage::encode_batch(0, 0, 0, {storage::Record{"", "r" + std::to_string(i), 0}});
        m.entries.push_back(std::move(e));
    }
    m.commit = raft::Index{last};
    return m;
}

// Node 2's snapshot at index 50 in one chunk, its image "777".
raft::Message snapshot_from_node_2() {
    raft::Message m;
    m.type = raft::MessageType::snapshot;
    m.from = raft::NodeId{2};
    m.to = raft::NodeId{1};
    m.term = raft::Term{5};
    m.log_index = raft::Index{50};
    m.log_term = raft::Term{5};
    m.chunk = "777";
    m.chunk_last = true;
    m.snapshot_membership.voters = {raft::NodeId{1}, raft::NodeId{2}, raft::NodeId{3}};
    return m;
}

// A replica of node 1 in group 7 whose files live in a temp dir, whose syncs
// run on a Flusher, and whose snapshot fsyncs on the Flusher wait at the gate.
struct Fixture {
    TempDir tmp;
    std::thread::id test_thread = std::this_thread::get_id();
    bool gate_start_offset = false;  // also hold the compaction's disk work at its last fsync
    GatedFileSystem fs{[this](const std::string& path) {
        return (ends_with_tmp_snapshot(path) || (gate_start_offset && ends_with_tmp_start_offset(path))) &&
               std::this_thread::get_id() != test_thread;
    }};
    Loop loop;
    storage::Flusher flusher{[this](std::function<void()> task) { loop.post(std::move(task)); }};
    ReleaseAll release_all{fs};  // destroyed before the Flusher joins
    fjord::testing::FakeReplicaHost host;
    CountingStateMachine sm;

    Fixture() {
        host.disk = &fs;
        host.flush_threads = &flusher;
    }
    std::string dir() const { return tmp.path() + "/t-0"; }
    uint64_t segment_bytes = 1 << 30;
    int64_t retention_bytes = -1;

    std::unique_ptr<Replica> open(std::vector<uint64_t> voters, bool campaign) {
        ReplicaOptions options;
        options.group = 7;
        options.name = "t-0";
        options.dir = dir();
        options.founding_voters = std::move(voters);
        options.raft.id = raft::NodeId{1};
        options.campaign_if_new = campaign;
        options.snapshot_every = 10;
        options.log.segment_bytes = segment_bytes;
        options.log.retention_bytes = retention_bytes;
        auto opened = Replica::open(host, options, &sm);
        EXPECT_TRUE(opened.has_value()) << (opened ? "" : opened.error());
        return opened ? std::move(*opened) : nullptr;
    }

    // Runs the replica's posted work and the Flusher's completions until
    // `done` holds; false after 10 s.
    template <typename Pred>
    bool drive(Pred done) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            host.run();
            if (!done()) loop.run_one(5ms);
        }
        return true;
    }

    // Ticks a lone voter until it leads; false after 10 s of virtual time.
    bool lead(Replica& r) {
        for (int i = 0; i < 1000 && !r.is_leader(); ++i) {
            host.advance(r, 10);
            while (loop.run_one(0ms)) host.run();
        }
        return r.is_leader();
    }

    // Proposes one record and waits for its answer; whether it committed.
    bool commit_one(Replica& r, const std::string& value) {
        bool answered = false, ok = false;
        r.propose(storage::encode_batch(0, 0, 0, {storage::Record{"", value, 0}}), 1,
                  [&](Result<Appended, ProposeError> result) {
                      answered = true;
                      ok = result.has_value();
                  });
        return drive([&] { return answered; }) && ok;
    }

    // A lone voter that leads and has committed 8 records: with the founding
    // membership (index 1) and the no-op, index 10 is applied, so a snapshot
    // is due, and its fsync waits at the gate. Null, with a failure, if not.
    std::unique_ptr<Replica> leader_with_snapshot_syncing() {
        auto replica = open({1}, true);
        if (!replica || !lead(*replica)) {
            ADD_FAILURE() << "no leader";
            return nullptr;
        }
        for (int i = 0; i < 8; ++i) {
            if (!commit_one(*replica, "v" + std::to_string(i))) {
                ADD_FAILURE() << "record " << i << " did not commit";
                return nullptr;
            }
        }
        if (!fs.wait_for_arrivals(1)) {
            ADD_FAILURE() << "no snapshot was written";
            return nullptr;
        }
        return replica;
    }

    // A leader whose compaction's disk work is held at its last fsync (the
    // log's new start offset), its image already in place. Null, with a
    // failure, if not.
    std::unique_ptr<Replica> leader_compacting() {
        gate_start_offset = true;
        auto replica = leader_with_snapshot_syncing();
        if (!replica) return nullptr;
        fs.release(1);
        if (!drive([&] { return fs.wait_for_arrivals(2, 0ms); })) {
            ADD_FAILURE() << "the compaction did not reach the disk";
            return nullptr;
        }
        return replica;
    }

    // A follower of node 2 that has applied 7 records (too few for a
    // snapshot of its own) and received node 2's snapshot at index 50, whose
    // install is held at the image's fsync. Null, with a failure, if not.
    std::unique_ptr<Replica> follower_installing() {
        auto replica = open({1, 2, 3}, false);
        if (!replica) return nullptr;
        replica->step(append_from_node_2(1, 8));
        if (!drive([&] { return sm.applied == 7; })) {
            ADD_FAILURE() << "the 7 records were not applied";
            return nullptr;
        }
        replica->step(snapshot_from_node_2());
        if (!drive([&] { return fs.wait_for_arrivals(1, 0ms); })) {
            ADD_FAILURE() << "the install did not reach the disk";
            return nullptr;
        }
        return replica;
    }

    // A replica reopened on what the disk holds, with no snapshot in place:
    // it starts at offset 0 and replays all 8 records.
    void expect_whole_log_replays() {
        sm = CountingStateMachine{};
        auto reopened = open({1}, true);
        ASSERT_TRUE(reopened);
        EXPECT_EQ(sm.restores, 0);
        EXPECT_EQ(reopened->log().start_offset(), 0);
        ASSERT_TRUE(lead(*reopened));
        ASSERT_TRUE(drive([&] { return sm.applied >= 8; }));
        EXPECT_EQ(sm.applied, 8U);
    }

    std::optional<storage::SnapshotRecord> snapshot_file() {
        auto loaded = storage::load_snapshot(fs, dir());
        EXPECT_TRUE(loaded.has_value());
        return loaded ? *loaded : std::nullopt;
    }
};

// Closes a replica on a thread of its own, so that the test can watch
// whether the close returns while disk work it may wait for is held.
class Closer {
  public:
    explicit Closer(std::unique_ptr<Replica>& replica)
        : _thread([this, &replica] {
              replica.reset();
              _closed = true;
          }) {}
    ~Closer() { join(); }
    // Whether the close has returned, watched for at most `limit`.
    bool closed_within(std::chrono::milliseconds limit) {
        auto until = std::chrono::steady_clock::now() + limit;
        while (!_closed && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        return _closed;
    }
    void join() {
        if (_thread.joinable()) _thread.join();
    }

  private:
    std::atomic<bool> _closed{false};
    std::thread _thread;
};

TEST(ReplicaSnapshot, IsSyncedOffTheLoopWhileTheReplicaCommitsAndCompactsOnlyOnceDurable) {
    Fixture f;
    auto replica = f.leader_with_snapshot_syncing();
    ASSERT_TRUE(replica);
    EXPECT_TRUE(ends_with_tmp_snapshot(f.fs.arrival_path(1)));
    // Its fsync waits at the gate; the replica goes on committing.
    for (int i = 8; i < 14; ++i) ASSERT_TRUE(f.commit_one(*replica, "v" + std::to_string(i)));
    EXPECT_EQ(f.sm.applied, 14U);
    EXPECT_EQ(replica->log().start_offset(), 0) << "compacted below a snapshot that is not durable";
    EXPECT_FALSE(f.snapshot_file()) << "the snapshot was renamed into place before its fsync";

    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return !replica->snapshot_under_way(); }));
    EXPECT_EQ(replica->log().start_offset(), 10);
    auto snap = f.snapshot_file();
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->index, 10U);
    EXPECT_EQ(snap->data, "8") << "the image is of the state at the snapshot's index: 8 records";
    EXPECT_FALSE(f.fs.exists(f.dir() + "/raft-snapshot.tmp"));
    EXPECT_TRUE(f.commit_one(*replica, "after"));

    // A restart restores from the snapshot and replays the log after it.
    replica.reset();
    f.sm = CountingStateMachine{};
    auto reopened = f.open({1}, true);
    ASSERT_TRUE(reopened);
    EXPECT_EQ(f.sm.restores, 1);
    ASSERT_TRUE(f.lead(*reopened));
    ASSERT_TRUE(f.drive([&] { return f.sm.applied >= 15; }));
    EXPECT_EQ(f.sm.applied, 15U);
}

// A replica closed while its snapshot syncs (its partition moved away, or
// the node stops): the completion finds no replica and does nothing; the
// snapshot was never renamed into place, so a reopened replica replays its
// whole log.
TEST(ReplicaSnapshot, AReplicaClosedWhileItsSnapshotSyncsKeepsItsWholeLog) {
    Fixture f;
    auto replica = f.leader_with_snapshot_syncing();
    ASSERT_TRUE(replica);
    replica.reset();
    f.fs.release(1);
    size_t posted = f.loop.posted();
    ASSERT_TRUE(f.loop.run_until([&] { return f.loop.posted() > posted && f.loop.queued() == 0; }))
        << "the sync's completion never came";
    f.host.run();
    EXPECT_FALSE(f.snapshot_file());

    f.expect_whole_log_replays();
}

// The compaction below a durable snapshot drops the entries in memory at
// once; its disk work (the image renamed into place, the segments below it
// deleted, the log's new start recorded) runs on the Flusher, and the replica
// goes on committing while it is held. Until it is done, the snapshot stays
// staged: no other may start.
TEST(ReplicaSnapshot, ACompactionsDiskWorkRunsOffTheLoop) {
    Fixture f;
    f.gate_start_offset = true;
    f.segment_bytes = 200;  // a segment every few records, so that the compaction deletes some
    auto replica = f.leader_with_snapshot_syncing();
    ASSERT_TRUE(replica);
    size_t segments = replica->log().segment_count();
    ASSERT_GT(segments, 2U);
    int loop_dir_changes = f.fs.dir_changes_on(f.test_thread);
    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return f.fs.wait_for_arrivals(2, 0ms); }))
        << "the compaction did not reach the disk";
    EXPECT_TRUE(ends_with_tmp_start_offset(f.fs.arrival_path(2))) << f.fs.arrival_path(2);

    // Held at the start offset's fsync: the entries are gone in memory, the
    // image is in place on disk, and the replica commits as before.
    f.host.run();
    while (f.loop.run_one(0ms)) f.host.run();
    EXPECT_EQ(replica->log().start_offset(), 10);
    EXPECT_LT(replica->log().segment_count(), segments);
    auto snap = f.snapshot_file();
    ASSERT_TRUE(snap) << "the image was not renamed into place first";
    EXPECT_EQ(snap->index, 10U);
    EXPECT_TRUE(replica->snapshot_under_way());
    for (int i = 8; i < 20; ++i) ASSERT_TRUE(f.commit_one(*replica, "v" + std::to_string(i)));
    EXPECT_EQ(f.sm.applied, 20U);
    EXPECT_FALSE(f.fs.exists(f.dir() + "/raft-snapshot.tmp"))
        << "another snapshot began during the compaction";

    // Released, it finishes, and the next snapshot (due at 20 applied) begins.
    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return f.fs.wait_for_arrivals(3, 0ms); }))
        << "no snapshot followed the compaction";
    EXPECT_TRUE(ends_with_tmp_snapshot(f.fs.arrival_path(3))) << f.fs.arrival_path(3);
    std::string start;
    auto file = f.fs.open(f.dir() + "/log-start-offset", false);
    ASSERT_TRUE(file);
    ASSERT_TRUE((*file)->read_at(0, 32, start));
    EXPECT_EQ(start, "10");
    auto names = f.fs.list(f.dir());
    ASSERT_TRUE(names);
    size_t logs =
        std::count_if(names->begin(), names->end(), [](const std::string& n) { return n.ends_with(".log"); });
    EXPECT_EQ(logs, replica->log().segment_count()) << "the segments below the snapshot are still on disk";
    EXPECT_EQ(f.fs.dir_changes_on(f.test_thread), loop_dir_changes)
        << "the loop renamed or deleted files of the compaction itself";
}

// A replica closed while its compaction's disk work runs (its topic deleted,
// whose directory goes next) waits for that work: nothing of it may land in
// the directory after the replica is gone.
TEST(ReplicaSnapshot, AReplicaClosedDuringItsCompactionWaitsForTheDisk) {
    Fixture f;
    auto replica = f.leader_compacting();
    ASSERT_TRUE(replica);

    Closer closer(replica);
    // Observed for a bounded time: the close must not return while the work is held.
    EXPECT_FALSE(closer.closed_within(200ms)) << "the replica closed while its compaction was still writing";
    f.fs.release(1);
    closer.join();
    EXPECT_TRUE(f.fs.exists(f.dir() + "/log-start-offset"));
    EXPECT_FALSE(f.fs.exists(f.dir() + "/log-start-offset.tmp"));
}

// A replica closed while its compaction's disk work still waits its turn on
// the Flusher's thread (behind other logs' work) does not wait for it: the
// work is dropped, the disk keeps the whole log, and a reopened replica
// replays it.
TEST(ReplicaSnapshot, AReplicaClosedBeforeItsCompactionBeganDropsIt) {
    Fixture f;
    auto replica = f.leader_with_snapshot_syncing();
    ASSERT_TRUE(replica);
    // Other work queued on the thread apart, behind the snapshot's fsync.
    std::promise<void> unblock;
    struct Unblock {
        std::promise<void>& p;
        bool done = false;
        void operator()() {
            if (!std::exchange(done, true)) p.set_value();
        }
        ~Unblock() { (*this)(); }
    } unblock_on_exit{unblock};
    f.flusher.run_apart([held = unblock.get_future().share()]() -> std::function<void()> {
        held.wait();
        return [] {};
    });
    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return replica->log().start_offset() == 10; }))
        << "the compaction did not begin";

    Closer closer(replica);
    EXPECT_TRUE(closer.closed_within(10s)) << "the close waited for work queued behind other logs'";
    unblock_on_exit();
    closer.join();
    size_t posted = f.loop.posted();
    f.flusher.run_apart([] { return [] {}; });  // runs after the dropped work
    ASSERT_TRUE(f.loop.run_until([&] { return f.loop.posted() > posted; }));
    EXPECT_FALSE(f.snapshot_file()) << "the dropped work renamed the snapshot into place";
    EXPECT_FALSE(f.fs.exists(f.dir() + "/log-start-offset"));

    f.expect_whole_log_replays();
}

// A replica that fails while its compaction's disk work runs (here an
// fsync of its log fails) writes nothing more once that work is over: the
// completion finds it failed and begins no other snapshot, though one would
// be due.
TEST(ReplicaSnapshot, AReplicaFailedDuringItsCompactionBeginsNoOtherSnapshot) {
    Fixture f;
    auto replica = f.leader_compacting();
    ASSERT_TRUE(replica);

    // 12 more entries would make the next snapshot due (at 20 applied)...
    for (int i = 8; i < 20; ++i) ASSERT_TRUE(f.commit_one(*replica, "v" + std::to_string(i)));
    // ...and the next append's fsync fails.
    f.fs.fail_syncs([](const std::string& path) { return path.ends_with(".log"); });
    EXPECT_FALSE(f.commit_one(*replica, "lost"));
    ASSERT_TRUE(f.drive([&] { return !replica->failure().empty(); })) << "the replica did not fail";
    EXPECT_NE(replica->failure().find("injected"), std::string::npos) << replica->failure();

    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return !replica->snapshot_under_way(); })) << "the compaction never finished";
    f.host.advance(*replica, 100);
    while (f.loop.run_one(20ms)) f.host.run();
    EXPECT_FALSE(f.fs.wait_for_arrivals(3, 0ms)) << "a snapshot began after the replica failed";
    EXPECT_FALSE(f.fs.exists(f.dir() + "/raft-snapshot.tmp"));
}

// The store itself refuses a second compaction to the staged snapshot while
// the first one's disk work runs: the replica never asks for one, and the
// store does not rely on that.
TEST(ReplicaSnapshot, TheStoreRefusesASecondCompactionWhileOneRuns) {
    Fixture f;
    f.gate_start_offset = true;
    auto opened = RaftLogStore::open(f.fs, f.dir(), cluster::testing::quiet_config(), &f.flusher, 0);
    ASSERT_TRUE(opened) << opened.error().detail;
    RaftLogStore& store = **opened;
    std::vector<raft::Entry> log;
    for (uint64_t i = 1; i <= 6; ++i) log.push_back(cluster::testing::normal_entry(i, 1, 1));
    ASSERT_TRUE(cluster::testing::appended(store, log));
    bool synced = false;
    store.sync([&](storage::StorageResult<int64_t> r) { synced = r.has_value(); });
    ASSERT_TRUE(f.loop.run_until([&] { return synced; }));
    auto snap = std::make_shared<const raft::Snapshot>(raft::Snapshot{
        raft::SnapshotMeta{raft::Index{4}, raft::Term{1}, cluster::testing::membership_of({1})}, "image"});
    auto file = store.stage_snapshot(*snap);
    ASSERT_TRUE(file);
    ASSERT_TRUE((*file)->sync());  // on the test thread: not gated

    std::optional<storage::StorageResult<Ok>> first, second;
    store.compact_to(snap, [&](storage::StorageResult<Ok> r) { first = std::move(r); });
    ASSERT_TRUE(f.fs.wait_for_arrivals(1)) << "the compaction did not reach the disk";
    store.compact_to(snap, [&](storage::StorageResult<Ok> r) { second = std::move(r); });
    ASSERT_TRUE(second) << "a refusal is answered at once";
    ASSERT_FALSE(*second);
    EXPECT_NE(second->error().detail.find("being written to disk already"), std::string::npos)
        << second->error().detail;
    f.fs.release(1);
    ASSERT_TRUE(f.loop.run_until([&] { return first.has_value(); }));
    EXPECT_TRUE(*first) << first->error().detail;
    EXPECT_EQ(store.log().start_offset(), 4);
}

// Node 2, played by the test, leads in term 5: it replicates 12 entries to
// node 1 (after the founding membership at index 1), whose snapshot of them
// waits at the gate, then sends a snapshot at index 50. Both use the
// snapshot file: the leader's is installed only once the local one is
// compacted to, and is what the replica ends with.
TEST(ReplicaSnapshot, ASnapshotFromTheLeaderWaitsForTheOneBeingSynced) {
    Fixture f;
    auto replica = f.open({1, 2, 3}, false);
    ASSERT_TRUE(replica);
    replica->step(append_from_node_2(1, 13));
    ASSERT_TRUE(f.drive([&] { return f.sm.applied == 12; }));
    ASSERT_TRUE(f.fs.wait_for_arrivals(1)) << "no snapshot was written";

    replica->step(snapshot_from_node_2());
    f.host.run();
    while (f.loop.run_one(20ms)) f.host.run();
    EXPECT_EQ(f.sm.restores, 0) << "the leader's snapshot was installed while the local one was syncing";
    EXPECT_EQ(replica->log().start_offset(), 0);

    f.fs.release(1);
    // The leader's snapshot is written off the loop, and its fsync is held too.
    ASSERT_TRUE(f.drive([&] { return f.fs.wait_for_arrivals(2, 0ms); })) << "the install did not begin";
    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return f.sm.restores == 1; }));
    EXPECT_EQ(f.sm.applied, 777U);
    EXPECT_EQ(replica->log().start_offset(), 50);
    auto snap = f.snapshot_file();
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->index, 50U);
    EXPECT_EQ(snap->data, "777");
}

// The highest index the replica has told the leader it holds (accepted
// appends and snapshot chunks).
uint64_t acknowledged(const fjord::testing::FakeReplicaHost& host) {
    uint64_t last = 0;
    for (const raft::Message& m : host.sent) {
        bool acks = (m.type == raft::MessageType::append_resp && !m.reject) ||
                    m.type == raft::MessageType::snapshot_resp;
        if (acks) last = std::max(last, m.log_index.value);
    }
    return last;
}

// A snapshot from the leader is written, made durable and put in place, and
// the old log's segments deleted, all on the Flusher's thread for work apart.
// Meanwhile the loop goes on taking messages in (entries after the
// snapshot, kept in memory), and the replica neither restores the state
// machine nor acknowledges anything, nor lets retention (due all along)
// stage a snapshot of its own; once the disk has it all, it restores,
// persists and applies what came after.
TEST(ReplicaSnapshot, ASnapshotFromTheLeaderIsInstalledOffTheLoop) {
    Fixture f;
    f.segment_bytes = 200;  // several segments for the install to delete
    f.retention_bytes = 1;  // and retention would cut all but the last
    auto replica = f.follower_installing();
    ASSERT_TRUE(replica);
    ASSERT_GT(replica->log().segment_count(), 1U);  // the old log, still held
    int loop_dir_changes = f.fs.dir_changes_on(f.test_thread);
    EXPECT_TRUE(ends_with_tmp_snapshot(f.fs.arrival_path(1))) << f.fs.arrival_path(1);
    replica->step(append_from_node_2(50, 53));
    replica->enforce_retention();  // as the node does every second for a topic's partitions
    f.host.run();
    while (f.loop.run_one(20ms)) f.host.run();
    EXPECT_TRUE(replica->failure().empty()) << replica->failure();
    EXPECT_FALSE(f.fs.wait_for_arrivals(2, 0ms)) << "another snapshot began during the install";
    EXPECT_EQ(f.sm.restores, 0) << "restored from a snapshot not yet durable";
    EXPECT_EQ(f.sm.applied, 7U);
    EXPECT_LT(acknowledged(f.host), 50U)
        << "acknowledged the snapshot, or entries after it, before it was durable";
    EXPECT_EQ(replica->log().start_offset(), 0);
    EXPECT_FALSE(f.snapshot_file()) << "the snapshot was put in place before its fsync";

    f.fs.release(1);
    ASSERT_TRUE(f.drive([&] { return f.sm.applied == 780; })) << "applied " << f.sm.applied;
    EXPECT_EQ(f.sm.restores, 1);
    EXPECT_EQ(acknowledged(f.host), 53U);
    EXPECT_EQ(replica->log().start_offset(), 50);
    auto snap = f.snapshot_file();
    ASSERT_TRUE(snap);
    EXPECT_EQ(snap->index, 50U);
    auto names = f.fs.list(f.dir());
    ASSERT_TRUE(names);
    size_t logs =
        std::count_if(names->begin(), names->end(), [](const std::string& n) { return n.ends_with(".log"); });
    EXPECT_EQ(logs, replica->log().segment_count()) << "segments of the old log are still on disk";
    // The loop's one change is raft-epochs, recording where term 5 starts in
    // the new log as the entries after the snapshot are written.
    std::vector<std::string> on_loop = f.fs.dir_changes_of(f.test_thread);
    on_loop.erase(on_loop.begin(), on_loop.begin() + loop_dir_changes);
    for (const std::string& path : on_loop) {
        EXPECT_TRUE(path.ends_with("/raft-epochs")) << "the loop renamed or deleted " << path;
    }

    // A restart finds the snapshot and the entries after it.
    replica.reset();
    f.sm = CountingStateMachine{};
    auto reopened = f.open({1, 2, 3}, false);
    ASSERT_TRUE(reopened);
    EXPECT_EQ(f.sm.restores, 1);
    EXPECT_EQ(f.sm.applied, 777U);
    EXPECT_EQ(reopened->log().start_offset(), 50);
    EXPECT_EQ(reopened->log().next_offset(), 53) << "the 3 entries after the snapshot were not kept";
}

// A replica closed while the install's disk work is held waits for it: the
// directory may be deleted next. (Work not yet begun is dropped, as a
// compaction's is: the two share the store's DiskWork.)
TEST(ReplicaSnapshot, AReplicaClosedDuringAnInstallWaitsForTheDisk) {
    Fixture f;
    auto replica = f.follower_installing();
    ASSERT_TRUE(replica);
    Closer closer(replica);
    // Observed for a bounded time: the close must not return while the work is held.
    EXPECT_FALSE(closer.closed_within(200ms)) << "the replica closed while its install was still writing";
    f.fs.release(1);
    closer.join();
    auto snap = f.snapshot_file();
    ASSERT_TRUE(snap) << "the install's work did not finish";
    EXPECT_EQ(snap->index, 50U);
}

// A follower whose state machine builds its image in steps (one per turn of
// the loop, after its sockets): entries keep being applied meanwhile, and
// the snapshot holds the state when the build began, at that index. A
// snapshot from the leader arriving during a later build drops that build
// and is installed at once.
TEST(ReplicaSnapshot, AnImageBuiltInStepsIsOfTheStateWhenItBeganAndTheLeadersDropsIt) {
    fjord::testing::FakeReplicaHost host;
    SteppedStateMachine sm;
    ReplicaOptions options;
    options.group = 7;
    options.name = "t-0";
    options.dir = "/data/t-0";
    options.founding_voters = {1, 2, 3};
    options.raft.id = raft::NodeId{1};
    options.snapshot_every = 10;
    auto opened = Replica::open(host, options, &sm);
    ASSERT_TRUE(opened.has_value()) << opened.error();
    Replica& replica = **opened;

    replica.step(append_from_node_2(1, 13));
    host.run();
    ASSERT_EQ(sm.applied, 12U);
    EXPECT_EQ(sm.at_begin, 12U) << "no image began at index 13";
    replica.step(append_from_node_2(13, 16));
    host.run();
    EXPECT_EQ(sm.applied, 15U) << "entries waited for the image";
    EXPECT_EQ(sm.steps, 0) << "a step ran before the loop polled again";
    host.advance(replica, 50);
    EXPECT_EQ(sm.steps, 3);
    auto local = storage::load_snapshot(host.fs, options.dir);
    ASSERT_TRUE(local && local->has_value());
    EXPECT_EQ((*local)->index, 13U);
    EXPECT_EQ((*local)->data, "12") << "the image is of the state when the build began";
    EXPECT_EQ(replica.log().start_offset(), 13);

    replica.step(append_from_node_2(16, 28));
    host.run();
    EXPECT_EQ(sm.at_begin, 27U) << "no second image began";
    replica.step(snapshot_from_node_2());
    host.run();
    EXPECT_EQ(sm.abandoned, 1);
    EXPECT_EQ(sm.restores, 1) << "the leader's snapshot waited for a build it replaces";
    EXPECT_EQ(sm.applied, 777U);
    int steps = sm.steps;
    host.advance(replica, 50);
    EXPECT_EQ(sm.steps, steps) << "the dropped build went on";
    auto installed = storage::load_snapshot(host.fs, options.dir);
    ASSERT_TRUE(installed && installed->has_value());
    EXPECT_EQ((*installed)->index, 50U);
    EXPECT_EQ(replica.log().start_offset(), 50);
}

}  // namespace
}  // namespace fjord::cluster
