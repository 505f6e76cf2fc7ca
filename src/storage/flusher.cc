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

void Flusher::submit(Take take) {
    {
        std::lock_guard lock(_mutex);
        _jobs.push_back(std::move(take));
    }
    _wake.notify_one();
}

void Flusher::run() {
    for (;;) {
        Take take;
        {
            std::unique_lock lock(_mutex);
            _wake.wait(lock, [this] { return _stopping || !_jobs.empty(); });
            if (_jobs.empty()) return;
            take = std::move(_jobs.front());
            _jobs.pop_front();
        }
        while (std::optional<Round> round = take()) {
            IoResult<Ok> result = Ok{};
            for (const auto& f : round->files) {
                result = f->sync();
                if (!result) break;
            }
            bool failed = !result;
            _post([done = std::move(round->done), result = std::move(result)]() mutable {
                done(std::move(result));
            });
            if (failed) break;
            std::lock_guard lock(_mutex);
            if (!_jobs.empty()) {
                _jobs.push_back(std::move(take));
                break;
            }
        }
    }
}

}  // namespace fjord::storage
