// Group commit through a real Flusher thread, on PosixFileSystem in a temp dir.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "gated_file_system.h"
#include "storage/flusher.h"
#include "storage/posix_file_system.h"
#include "storage_test_util.h"
#include "temp_dir.h"

namespace fjord::storage::testing {
namespace {

using namespace std::chrono_literals;

struct Completion {
    std::optional<StorageResult<int64_t>> result;
    int calls{0};
    PartitionLog::SyncDone callback() {
        return [this](StorageResult<int64_t> r) {
            ++calls;
            result.emplace(std::move(r));
        };
    }
    bool done() const { return calls > 0; }
    int64_t offset() const { return result && *result ? result->value() : -1; }
};

TEST(GroupCommit, SyncsRequestedDuringAFlushShareTheNextOne) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    std::thread::id test_thread = std::this_thread::get_id();
    bool completions_on_test_thread = true;
    Flusher flusher([&](std::function<void()> task) {
        loop.post([&, task = std::move(task)] {
            completions_on_test_thread =
                completions_on_test_thread && std::this_thread::get_id() == test_thread;
            task();
        });
    });
    ReleaseAll release_all{fs};
    LogConfig c;
    LogLines lines;
    c.log = lines.logger();
    c.segment_bytes = 1 << 20;
    const std::string dir = tmp.path() + "/orders-0";
    std::map<int64_t, std::string> appended;
    {
        auto opened = PartitionLog::open(fs, dir, c, &flusher, 0);
        ASSERT_TRUE(opened) << opened.error().detail;
        PartitionLog& log = **opened;
        auto add = [&](int n) {
            for (int i = 0; i < n; ++i) {
                std::string b = make_batch(log.next_offset(), 2, 100);
                appended[log.next_offset()] = b;
                ASSERT_TRUE(log.append(b, 0));
            }
        };

        int arrivals = 0;
        for (int round = 0; round < 20; ++round) {
            SCOPED_TRACE("round " + std::to_string(round));
            ASSERT_NO_FATAL_FAILURE(add(3));
            const int64_t first_target = log.next_offset();
            const size_t posted_before = loop.posted();
            Completion first;
            log.sync(first.callback());
            // Its fsync waits at the gate: the round has taken what it covers.
            ASSERT_TRUE(fs.wait_for_arrivals(++arrivals));
            EXPECT_FALSE(first.done());
            ASSERT_NO_FATAL_FAILURE(add(2));
            Completion second;
            log.sync(second.callback());
            ASSERT_NO_FATAL_FAILURE(add(4));
            Completion third;
            log.sync(third.callback());
            Completion fourth;
            log.sync(fourth.callback());  // nothing new since the third
            const int64_t last_target = log.next_offset();
            EXPECT_FALSE(second.done() || third.done() || fourth.done());
            EXPECT_LT(log.durable_offset(), last_target);

            fs.release(1);
            // The next fsync starts on the Flusher's thread while the first
            // one's completion still waits for this (the loop's) thread.
            ASSERT_TRUE(fs.wait_for_arrivals(++arrivals))
                << "the second round waited for the event loop to run the first's completion";
            EXPECT_FALSE(first.done());
            fs.release(1);
            ASSERT_TRUE(loop.run_until([&] { return first.done(); }));
            ASSERT_TRUE(first.result && *first.result) << first.result->error().detail;
            // The first flush covered what was appended before it started.
            // Its round may have been taken while add(3) ran (the Flusher's
            // thread looks for a next round as soon as one ends), so the first
            // sync may have waited for the shared round and report its end.
            EXPECT_TRUE(first.offset() == first_target || first.offset() == last_target) << first.offset();
            ASSERT_TRUE(loop.run_until([&] { return second.done() && third.done() && fourth.done(); }));
            for (const Completion* w : {&second, &third, &fourth}) {
                ASSERT_TRUE(w->result && *w->result);
                EXPECT_EQ(w->offset(), last_target);
                EXPECT_EQ(w->calls, 1);
            }
            EXPECT_EQ(first.calls, 1);
            EXPECT_EQ(log.durable_offset(), last_target);
            // Exactly two fsync rounds: the first, and one shared by the other three.
            EXPECT_EQ(loop.posted() - posted_before, 2u);
            EXPECT_EQ(fs.completed(), arrivals);
            EXPECT_EQ(loop.queued(), 0u);
            EXPECT_FALSE(log.needs_sync(0));
        }
        // A sync with nothing new completes with the current durable offset.
        Completion idle;
        log.sync(idle.callback());
        ASSERT_TRUE(loop.run_until([&] { return idle.done(); }));
        EXPECT_EQ(idle.offset(), log.next_offset());
    }
    EXPECT_TRUE(completions_on_test_thread);
    EXPECT_TRUE(lines.lines().empty()) << lines.dump();

    // What was synced is on disk.
    auto reopened = PartitionLog::open(fs, dir, c, nullptr, 0);
    ASSERT_TRUE(reopened);
    std::vector<StoredBatch> got;
    ASSERT_TRUE(read_all(**reopened, got));
    ASSERT_EQ(got.size(), appended.size());
    for (const StoredBatch& b : got) EXPECT_TRUE(b.bytes == appended[b.base]) << b.base;
}

TEST(GroupCommit, NoCompletionClaimsDurabilityBeforeTheFsyncReturns) {
    // A sync completion that appends and asks for more syncs (an event loop
    // reacting to "persisted" by persisting the next entries) must not get a
    // durable offset that no finished fsync covers.
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    LogConfig c;
    LogLines lines;
    c.log = lines.logger();
    const std::string dir = tmp.path() + "/orders-0";
    // Declared before the flusher, destroyed after it: queued completions hold the log.
    std::unique_ptr<PartitionLog> log;
    {
        Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); });
        ReleaseAll release_all{fs};
        auto opened = PartitionLog::open(fs, dir, c, &flusher, 0);
        ASSERT_TRUE(opened) << opened.error().detail;
        log = std::move(*opened);

        ASSERT_TRUE(log->append(make_batch(0, 2), 0));
        Completion a;
        Completion b;  // requested during a's flush: shares the next one
        Completion c2;
        Completion d;
        int64_t x_end = -1;
        int fsyncs_done_when_d_completed = -1;
        log->sync(a.callback());
        log->sync([&](StorageResult<int64_t> r) {
            b.callback()(std::move(r));
            // React: append X, sync it, and ask again.
            ASSERT_TRUE(log->append(make_batch(log->next_offset(), 3), 0));
            x_end = log->next_offset();
            log->sync(c2.callback());
            log->sync([&](StorageResult<int64_t> r2) {
                fsyncs_done_when_d_completed = fs.completed();
                d.callback()(std::move(r2));
            });
        });
        fs.release(1);  // a's fsync
        ASSERT_TRUE(loop.run_until([&] { return a.done() && b.done(); }));
        EXPECT_EQ(a.offset(), 2);
        EXPECT_EQ(b.offset(), 2);
        ASSERT_EQ(x_end, 5);
        // The fsync covering X has not been allowed to run yet.
        EXPECT_EQ(fs.completed(), 1);
        EXPECT_FALSE(c2.done());
        EXPECT_LT(log->durable_offset(), x_end) << "durable_offset() claims X before its fsync ran";
        if (d.done()) {
            EXPECT_LT(d.offset(), x_end)
                << "a completion reported offset " << d.offset() << " durable while only "
                << fsyncs_done_when_d_completed << " fsync(s) had finished, none of them covering X";
        }
        fs.release(100);
        ASSERT_TRUE(loop.run_until([&] { return c2.done() && d.done(); }));
        EXPECT_EQ(c2.offset(), x_end);
        EXPECT_EQ(log->durable_offset(), x_end);
    }
    log.reset();
}

// Several Flusher threads sync different logs in parallel; each log still
// has one sync in flight, so its completions come back in order and cover
// everything appended before they were requested.
TEST(GroupCommit, SeveralFlushThreadsServeManyLogs) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    PosixFileSystem fs;
    Loop loop;
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); }, 4);
    LogConfig c;
    LogLines lines;
    c.log = lines.logger();
    std::vector<std::unique_ptr<PartitionLog>> logs;
    for (int p = 0; p < 8; ++p) {
        auto opened = PartitionLog::open(fs, tmp.path() + "/t-" + std::to_string(p), c, &flusher, 0);
        ASSERT_TRUE(opened) << opened.error().detail;
        logs.push_back(std::move(*opened));
    }
    std::vector<std::vector<int64_t>> durable(logs.size());
    size_t pending = 0;
    for (int round = 0; round < 10; ++round) {
        for (size_t p = 0; p < logs.size(); ++p) {
            PartitionLog& log = *logs[p];
            ASSERT_TRUE(log.append(make_batch(log.next_offset(), 1, 64), 0));
            int64_t wanted = log.next_offset();
            ++pending;
            log.sync([&, p, wanted](StorageResult<int64_t> r) {
                ASSERT_TRUE(r.has_value());
                EXPECT_GE(*r, wanted);
                if (!durable[p].empty()) {
                    EXPECT_GE(*r, durable[p].back());
                }
                durable[p].push_back(*r);
                --pending;
            });
        }
    }
    ASSERT_TRUE(loop.run_until([&] { return pending == 0; }));
    for (size_t p = 0; p < logs.size(); ++p) EXPECT_EQ(logs[p]->durable_offset(), logs[p]->next_offset());
}

// A log destroyed while its round's fsync runs: the round completes, and its
// completion finds no log to touch (ASan and TSan builds run this too).
TEST(GroupCommit, ALogDestroyedDuringItsFsyncIsNotTouchedByTheCompletion) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); });
    ReleaseAll release_all{fs};
    LogConfig c;
    LogLines lines;
    c.log = lines.logger();
    auto opened = PartitionLog::open(fs, tmp.path() + "/orders-0", c, &flusher, 0);
    ASSERT_TRUE(opened) << opened.error().detail;
    std::unique_ptr<PartitionLog> log = std::move(*opened);
    ASSERT_TRUE(log->append(make_batch(0, 2), 0));
    Completion waiter;
    log->sync(waiter.callback());
    ASSERT_TRUE(fs.wait_for_arrivals(1));
    ASSERT_TRUE(log->append(make_batch(2, 2), 0));  // more for a next round
    log.reset();
    fs.release(1 << 20);
    ASSERT_TRUE(loop.run_until([&] { return loop.posted() >= 1 && loop.queued() == 0; }));
    EXPECT_FALSE(waiter.done()) << "a waiter of a destroyed log was answered";
    EXPECT_EQ(fs.completed(), 1) << "a round was taken for a destroyed log";
}

// One Flusher thread, two logs: a log that stays dirty cannot keep the
// thread from the other one, whose first round joins the busy log's next.
TEST(GroupCommit, ABusyLogTakesTurnsWithAnotherOnOneFlushThread) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); }, 1);
    ReleaseAll release_all{fs};
    LogConfig c;
    LogLines lines;
    c.log = lines.logger();
    auto a = PartitionLog::open(fs, tmp.path() + "/a-0", c, &flusher, 0);
    auto b = PartitionLog::open(fs, tmp.path() + "/b-0", c, &flusher, 0);
    ASSERT_TRUE(a && b);
    PartitionLog& busy = **a;
    PartitionLog& other = **b;
    int answered = 0;
    auto count = [&](StorageResult<int64_t> r) {
        EXPECT_TRUE(r.has_value());
        ++answered;
    };
    ASSERT_TRUE(busy.append(make_batch(0, 1), 0));
    busy.sync(count);
    ASSERT_TRUE(fs.wait_for_arrivals(1));
    // While the busy log's first round is at the gate, both logs get writes.
    ASSERT_TRUE(busy.append(make_batch(1, 1), 0));
    busy.sync(count);
    ASSERT_TRUE(other.append(make_batch(0, 1), 0));
    other.sync(count);
    fs.release(2);
    ASSERT_TRUE(fs.wait_for_arrivals(3));
    std::string second = fs.arrival_path(2) + " " + fs.arrival_path(3);
    EXPECT_NE(second.find("/a-0/"), std::string::npos) << "the second round synced " << second;
    EXPECT_NE(second.find("/b-0/"), std::string::npos)
        << "the second round synced " << second << ", not the log that waited";
    fs.release(1 << 20);
    ASSERT_TRUE(loop.run_until([&] { return answered == 3; }));
    EXPECT_EQ(busy.durable_offset(), busy.next_offset());
    EXPECT_EQ(other.durable_offset(), other.next_offset());
}

// Three logs (a-0, b-0, c-0): a's sync is held at the gate while b and c
// append `records` each and ask for a sync; then the gate opens and the loop
// runs until all three are answered.
struct ThreeLogs {
    std::vector<std::unique_ptr<PartitionLog>> logs;
    std::vector<Completion> done{3};
    LogLines lines;
};

void sync_two_while_one_waits(GatedFileSystem& fs, Loop& loop, Flusher& flusher, const std::string& dir,
                              int records, ThreeLogs& t) {
    ReleaseAll release_all{fs};
    LogConfig c;
    c.log = t.lines.logger();
    for (const char* name : {"/a-0", "/b-0", "/c-0"}) {
        auto opened = PartitionLog::open(fs, dir + name, c, &flusher, 0);
        ASSERT_TRUE(opened) << opened.error().detail;
        t.logs.push_back(std::move(*opened));
    }
    ASSERT_TRUE(t.logs[0]->append(make_batch(0, 1), 0));
    t.logs[0]->sync(t.done[0].callback());
    ASSERT_TRUE(fs.wait_for_arrivals(1));
    for (size_t i = 1; i < t.logs.size(); ++i) {
        ASSERT_TRUE(t.logs[i]->append(make_batch(0, records), 0));
        t.logs[i]->sync(t.done[i].callback());
    }
    fs.release(1 << 20);
    ASSERT_TRUE(loop.run_until([&] { return t.done[0].done() && t.done[1].done() && t.done[2].done(); }));
}

// Logs that ask for a sync while a round runs are synced together in the next
// one: a single SyncFiles call with all their files, so a file system can make
// them durable with one device flush (PosixFileSystem's syncfs).
TEST(GroupCommit, LogsWaitingTogetherShareOneSyncFilesCall) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    std::mutex calls_mutex;
    std::vector<size_t> files_per_call;
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); }, 1,
                    [&](const std::vector<std::shared_ptr<File>>& files) {
                        {
                            std::lock_guard lock(calls_mutex);
                            files_per_call.push_back(files.size());
                        }
                        return sync_each(files);
                    });
    ThreeLogs t;
    ASSERT_NO_FATAL_FAILURE(sync_two_while_one_waits(fs, loop, flusher, tmp.path(), 2, t));
    auto& logs = t.logs;
    auto& done = t.done;
    for (size_t i = 0; i < logs.size(); ++i) EXPECT_EQ(done[i].offset(), logs[i]->next_offset());
    std::lock_guard lock(calls_mutex);
    ASSERT_EQ(files_per_call.size(), 2u) << "the two waiting logs were not synced in one call";
    EXPECT_EQ(files_per_call[1], 2u);
    std::string second = fs.arrival_path(2) + " " + fs.arrival_path(3);
    EXPECT_NE(second.find("/b-0/"), std::string::npos) << second;
    EXPECT_NE(second.find("/c-0/"), std::string::npos) << second;
}

// A shared sync that fails fails every log in it: each answers its waiters
// with the error and takes no more writes, as after its own failed fsync.
TEST(GroupCommit, AFailedSharedSyncStopsEveryLogInIt) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs(GatedFileSystem::off_thread(std::this_thread::get_id()));
    Loop loop;
    std::atomic<int> calls{0};
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); }, 1,
                    [&](const std::vector<std::shared_ptr<File>>& files) -> IoResult<Ok> {
                        auto r = sync_each(files);
                        if (++calls == 2) return make_unexpected(IoError{EIO, "syncfs (injected)"});
                        return r;
                    });
    ThreeLogs t;
    ASSERT_NO_FATAL_FAILURE(sync_two_while_one_waits(fs, loop, flusher, tmp.path(), 1, t));
    auto& logs = t.logs;
    auto& done = t.done;
    EXPECT_EQ(done[0].offset(), 1);
    for (size_t i = 1; i < logs.size(); ++i) {
        ASSERT_TRUE(done[i].result.has_value());
        ASSERT_FALSE(done[i].result->has_value()) << "log " << i << " was answered durable";
        EXPECT_EQ(done[i].result->error().code, StorageErrc::fsync_failed);
        EXPECT_EQ(logs[i]->durable_offset(), 0);
        EXPECT_FALSE(logs[i]->append(make_batch(1, 1), 0)) << "log " << i << " took a write after it";
        auto now = logs[i]->sync_now();
        ASSERT_FALSE(now);
        EXPECT_EQ(now.error().code, StorageErrc::stopped) << now.error().detail;
    }
    EXPECT_TRUE(logs[0]->append(make_batch(1, 1), 0)) << "a log outside the failed sync stopped";
    // The flush thread let go of the failed round's files: closing the logs closes them.
    logs.clear();
    EXPECT_TRUE(fs.wait_for_no_open_files()) << fs.open_files() << " file(s) still held";
    EXPECT_TRUE(t.lines.any_contains({"syncfs (injected)"}));
}

// A file synced apart (a snapshot) has a thread of its own: it does not wait
// behind a round whose fsync is held.
TEST(GroupCommit, AFileSyncedApartDoesNotWaitForARound) {
    TempDir tmp;
    ASSERT_FALSE(tmp.path().empty());
    GatedFileSystem fs([](const std::string& path) { return path.ends_with("/held"); });
    Loop loop;
    Flusher flusher([&](std::function<void()> task) { loop.post(std::move(task)); }, 1);
    ReleaseAll release_all{fs};
    auto held = fs.open(tmp.path() + "/held", true);
    auto apart = fs.open(tmp.path() + "/apart", true);
    ASSERT_TRUE(held && apart);
    ASSERT_TRUE((*held)->append("round"));
    ASSERT_TRUE((*apart)->append("snapshot"));
    bool round_done = false;
    std::optional<IoResult<Ok>> apart_result;
    flusher.submit([round = std::optional<Flusher::Round>(
                        Flusher::Round{{*held}, [&](IoResult<Ok>) { round_done = true; }})]() mutable {
        return std::exchange(round, std::nullopt);
    });
    ASSERT_TRUE(fs.wait_for_arrivals(1));
    flusher.sync_apart(*apart, [&](IoResult<Ok> r) { apart_result = std::move(r); });
    ASSERT_TRUE(loop.run_until([&] { return apart_result.has_value(); }))
        << "the apart sync waited for the round";
    EXPECT_TRUE(apart_result->has_value());
    EXPECT_FALSE(round_done);
    fs.release(1);
    EXPECT_TRUE(loop.run_until([&] { return round_done; }));
}

}  // namespace
}  // namespace fjord::storage::testing
