// Runs fsyncs on I/O threads so that the event loop never blocks on the disk,
// and hands each result back to the loop through `post`. One Flusher serves
// every partition of a node.
//
// A log hands the Flusher a job: a `take` function that the Flusher's thread
// calls for the next round of files to sync. When a round's fsync returns,
// the thread takes the next round at once, without a trip through the event
// loop: whatever the loop wrote during the fsync is synced next, so the disk
// does not wait for a busy loop to ask again (group commit's throughput is
// bounded by the time between fsyncs as much as by the fsyncs).
//
// A thread takes one round of every job it holds and syncs their files
// together (`SyncFiles`), and jobs queued meanwhile join its next round, so
// that a file system able to (PosixFileSystem::share_syncs) makes a round of
// many partitions durable with one device flush, not one per log.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "storage/file_system.h"

namespace fjord::storage {

class Flusher {
  public:
    using Post = std::function<void(std::function<void()>)>;
    using Done = std::function<void(IoResult<Ok>)>;
    // One round of a job: the files to sync, and what `post` runs with the
    // error of the sync that covered them, or Ok.
    struct Round {
        std::vector<std::shared_ptr<File>> files;
        Done done;
    };
    // Called on a Flusher thread, never on two at once for one job; the next
    // round, or nothing when the job is over.
    using Take = std::function<std::optional<Round>()>;
    // Makes the files of a round durable together (FileSystem::sync_files).
    using SyncFiles = std::function<IoResult<Ok>(const std::vector<std::shared_ptr<File>>&)>;

    // `post` runs a completion on the owner's thread (an event loop's post).
    // With several threads, a job queued while every thread holding jobs is
    // in its fsync starts on an idle thread instead of waiting for their
    // round to end. Without `sync`, each file is synced in turn.
    explicit Flusher(Post post, size_t threads = 1, SyncFiles sync = {});
    ~Flusher();  // runs the queued jobs to their end, then joins
    Flusher(const Flusher&) = delete;
    Flusher& operator=(const Flusher&) = delete;

    // Runs `take`'s rounds one after another until it returns nothing or a
    // sync fails (a failed fsync ends every job in that round: it is never
    // retried).
    void submit(Take take);
    // Blocking file-system work run on a thread of its own, apart from the
    // rounds, so that the logs' group commit does not wait behind it (a large
    // snapshot's fsync, renames and deletions with their directory fsyncs).
    // It returns what `post` then runs on the owner's thread.
    using Apart = std::function<std::function<void()>()>;
    // Runs `work` on that thread, after the work submitted before it.
    void run_apart(Apart work);
    // Syncs one file on that thread.
    void sync_apart(std::shared_ptr<File> file, Done done);

  private:
    void run();
    void apart_loop();
    // Moves the queued jobs to the end of `jobs`; the caller holds _mutex.
    void take_queued(std::vector<Take>& jobs);

    Post _post;
    SyncFiles _sync;
    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<Take> _jobs;
    std::condition_variable _apart_wake;  // its own: notify_one on _wake must reach a round thread
    std::deque<Apart> _apart;
    bool _stopping{false};
    std::vector<std::thread> _threads;
    std::thread _apart_thread;
};

}  // namespace fjord::storage
