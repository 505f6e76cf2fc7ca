#include "storage/flusher.h"

#include <algorithm>

namespace fjord::storage {

Flusher::Flusher(Post post, size_t threads, SyncFiles sync)
    : _post(std::move(post)), _sync(sync ? std::move(sync) : SyncFiles(sync_each)) {
    for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) _threads.emplace_back([this] { run(); });
    _apart_thread = std::thread([this] { apart_loop(); });
}

Flusher::~Flusher() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    _apart_wake.notify_all();
    for (std::thread& t : _threads) t.join();
    _apart_thread.join();
}

void Flusher::submit(Take take) {
    {
        std::lock_guard lock(_mutex);
        _jobs.push_back(std::move(take));
    }
    _wake.notify_one();
}

void Flusher::run_apart(Apart work) {
    {
        std::lock_guard lock(_mutex);
        _apart.push_back(std::move(work));
    }
    _apart_wake.notify_one();
}

void Flusher::sync_apart(std::shared_ptr<File> file, Done done) {
    // The file's own sync, not SyncFiles: it is never part of a round.
    run_apart([file = std::move(file), done = std::move(done)]() mutable -> std::function<void()> {
        IoResult<Ok> result = file->sync();
        file.reset();
        return [done = std::move(done), result]() mutable { done(std::move(result)); };
    });
}

void Flusher::apart_loop() {
    for (;;) {
        Apart work;
        {
            std::unique_lock lock(_mutex);
            _apart_wake.wait(lock, [this] { return _stopping || !_apart.empty(); });
            if (_apart.empty()) return;
            work = std::move(_apart.front());
            _apart.pop_front();
        }
        std::function<void()> then = work();
        work = nullptr;  // what it held (open files) is let go here, not on the owner's thread
        _post(std::move(then));
    }
}

void Flusher::take_queued(std::vector<Take>& jobs) {
    for (Take& take : _jobs) jobs.push_back(std::move(take));
    _jobs.clear();
}

void Flusher::run() {
    std::vector<Take> jobs;
    std::vector<Round> rounds;
    std::vector<std::shared_ptr<File>> files;
    for (;;) {
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_jobs.empty(); });
            if (_jobs.empty()) return;
            take_queued(jobs);
        }
        while (!jobs.empty()) {
            rounds.clear();
            files.clear();
            size_t kept = 0;
            for (size_t i = 0; i < jobs.size(); ++i) {
                std::optional<Round> round = jobs[i]();
                if (!round) continue;  // that log has nothing left to sync
                files.insert(files.end(), round->files.begin(), round->files.end());
                rounds.push_back(std::move(*round));
                if (kept != i) jobs[kept] = std::move(jobs[i]);
                ++kept;
            }
            jobs.resize(kept);
            if (rounds.empty()) break;
            IoResult<Ok> result = files.empty() ? IoResult<Ok>(Ok{}) : _sync(files);
            for (Round& round : rounds) {
                _post([done = std::move(round.done), result]() mutable { done(std::move(result)); });
            }
            // An idle thread must not keep files open (a deleted segment's space stays in use while it is).
            rounds.clear();
            files.clear();
            if (!result) {
                jobs.clear();
                break;
            }
            std::lock_guard lock(_mutex);
            take_queued(jobs);
        }
    }
}

}  // namespace fjord::storage
