#include "storage/flusher.h"

#include <algorithm>

namespace fjord::storage {

Flusher::Flusher(Post post, size_t threads) : _post(std::move(post)) {
    for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) _threads.emplace_back([this] { run(); });
}

Flusher::~Flusher() {
    {
        std::lock_guard lock(_mutex);
        _stopping = true;
    }
    _wake.notify_all();
    for (std::thread& t : _threads) t.join();
}

void Flusher::submit(std::vector<std::shared_ptr<File>> files, Done done) {
    {
        std::lock_guard lock(_mutex);
        _jobs.push_back({std::move(files), std::move(done)});
    }
    _wake.notify_one();
}

void Flusher::run() {
    for (;;) {
        Job job;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_jobs.empty(); });
            if (_jobs.empty()) return;
            job = std::move(_jobs.front());
            _jobs.pop_front();
        }
        IoResult<Ok> result = Ok{};
        for (const auto& f : job.files) {
            result = f->sync();
            if (!result) break;
        }
        _post(
            [done = std::move(job.done), result = std::move(result)]() mutable { done(std::move(result)); });
    }
}

}  // namespace fjord::storage
