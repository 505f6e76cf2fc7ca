// Runs fsyncs on an I/O thread so that the event loop never blocks on the
// disk, and hands each result back to the loop through `post`. One Flusher
// serves every partition of a node.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/file_system.h"

namespace fjord::storage {

class Flusher {
  public:
    using Post = std::function<void(std::function<void()>)>;
    using Done = std::function<void(IoResult<Ok>)>;

    // `post` runs a completion on the owner's thread (an event loop's post).
    // With several threads, syncs of different logs run in parallel (each
    // PartitionLog has at most one sync in flight, so a log's syncs stay in
    // order): one slow flush then does not hold up every other partition.
    explicit Flusher(Post post, size_t threads = 1);
    ~Flusher();  // finishes the queued syncs, then joins
    Flusher(const Flusher&) = delete;
    Flusher& operator=(const Flusher&) = delete;

    // Syncs every file in order; `done` gets the first error or Ok.
    void submit(std::vector<std::shared_ptr<File>> files, Done done);

  private:
    struct Job {
        std::vector<std::shared_ptr<File>> files;
        Done done;
    };
    void run();

    Post _post;
    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<Job> _jobs;
    bool _stopping{false};
    std::vector<std::thread> _threads;
};

}  // namespace fjord::storage
