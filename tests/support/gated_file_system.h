// Test doubles for work that crosses threads: a Loop standing in for the
// owner's event loop, and a FileSystem whose chosen fsyncs wait at a gate.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "storage/posix_file_system.h"

namespace fjord::storage::testing {

using namespace std::chrono_literals;

// The owner's event loop: completions posted by the Flusher thread queue up
// here and run on the test thread when it drains them.
class Loop {
  public:
    void post(std::function<void()> task) {
        {
            std::lock_guard lock(_mutex);
            _tasks.push_back(std::move(task));
            ++_posted;
        }
        _cv.notify_all();
    }

    // Runs queued tasks until `done()` holds; false when the deadline passes first.
    template <typename Pred>
    bool run_until(Pred done, std::chrono::milliseconds timeout = 10s) {
        auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (!run_one_before(deadline)) return false;
        }
        return true;
    }

    // Runs one queued task, waiting for one up to `timeout`; whether it ran one.
    bool run_one(std::chrono::milliseconds timeout) {
        return run_one_before(std::chrono::steady_clock::now() + timeout);
    }

    size_t posted() {
        std::lock_guard lock(_mutex);
        return _posted;
    }
    size_t queued() {
        std::lock_guard lock(_mutex);
        return _tasks.size();
    }

  private:
    bool run_one_before(std::chrono::steady_clock::time_point deadline) {
        std::function<void()> task;
        {
            std::unique_lock lock(_mutex);
            if (!_cv.wait_until(lock, deadline, [this] { return !_tasks.empty(); })) return false;
            task = std::move(_tasks.front());
            _tasks.pop_front();
        }
        task();
        return true;
    }

    std::mutex _mutex;
    std::condition_variable _cv;
    std::deque<std::function<void()>> _tasks;
    size_t _posted{0};
};

// A FileSystem over PosixFileSystem whose fsyncs of the files `gated` picks
// (by path, on the syncing thread) wait until the test releases them, so a
// flush stays in flight for as long as the test needs. Counts the fsyncs
// that reached the gate and those that completed, and the files open.
class GatedFileSystem final : public FileSystem {
  public:
    explicit GatedFileSystem(std::function<bool(const std::string& path)> gated) : _gated(std::move(gated)) {}
    // Gates the fsyncs run on any thread but `owner` (a Flusher's).
    static std::function<bool(const std::string&)> off_thread(std::thread::id owner) {
        return [owner](const std::string&) { return std::this_thread::get_id() != owner; };
    }

    class GatedFile final : public File {
      public:
        GatedFile(GatedFileSystem& fs, std::shared_ptr<File> inner, std::string path)
            : _fs(fs), _inner(std::move(inner)), _path(std::move(path)) {
            _fs.count_open(+1);
        }
        ~GatedFile() override { _fs.count_open(-1); }
        IoResult<Ok> append(std::string_view bytes) override { return _inner->append(bytes); }
        IoResult<Ok> read_at(uint64_t offset, size_t len, std::string& out) const override {
            return _inner->read_at(offset, len, out);
        }
        IoResult<Ok> sync() override {
            bool gated = _fs._gated(_path);
            if (gated) _fs.wait_for_permit(_path);
            IoResult<Ok> r = _fs.failing(_path)
                                 ? make_unexpected(IoError{EIO, "fsync " + _path + " (injected)"})
                                 : _inner->sync();
            if (gated) _fs.count_completed();
            return r;
        }
        IoResult<Ok> truncate(uint64_t size) override { return _inner->truncate(size); }
        uint64_t size() const override { return _inner->size(); }
        void preallocate(uint64_t chunk) override { _inner->preallocate(chunk); }
        int native_handle() const override { return _inner->native_handle(); }

      private:
        GatedFileSystem& _fs;
        std::shared_ptr<File> _inner;
        std::string _path;
    };

    IoResult<std::shared_ptr<File>> open(const std::string& path, bool create) override {
        auto f = _posix.open(path, create);
        if (!f) return f;
        return std::shared_ptr<File>(std::make_shared<GatedFile>(*this, std::move(*f), path));
    }
    bool exists(const std::string& path) const override { return _posix.exists(path); }
    IoResult<std::vector<std::string>> list(const std::string& dir) const override {
        return _posix.list(dir);
    }
    IoResult<Ok> create_dirs(const std::string& dir) override { return _posix.create_dirs(dir); }
    IoResult<Ok> remove(const std::string& path) override {
        note_dir_change(path);
        return _posix.remove(path);
    }
    IoResult<Ok> rename(const std::string& from, const std::string& to) override {
        note_dir_change(to);
        return _posix.rename(from, to);
    }
    // From now on, fsyncs of the files `pick` picks fail with EIO.
    void fail_syncs(std::function<bool(const std::string& path)> pick) {
        std::lock_guard lock(_mutex);
        _failing = std::move(pick);
    }
    // How many renames and removals `thread` has made.
    int dir_changes_on(std::thread::id thread) {
        std::lock_guard lock(_mutex);
        auto it = _dir_changes.find(thread);
        return it == _dir_changes.end() ? 0 : static_cast<int>(it->second.size());
    }
    // The files `thread` removed or renamed into place, in order.
    std::vector<std::string> dir_changes_of(std::thread::id thread) {
        std::lock_guard lock(_mutex);
        auto it = _dir_changes.find(thread);
        return it == _dir_changes.end() ? std::vector<std::string>{} : it->second;
    }
    IoResult<Ok> sync_dir(const std::string& dir) override { return _posix.sync_dir(dir); }

    void release(int n) {
        {
            std::lock_guard lock(_mutex);
            _permits += n;
        }
        _cv.notify_all();
    }
    int completed() {
        std::lock_guard lock(_mutex);
        return _completed;
    }
    // The file of the n-th fsync (from 1) that reached the gate.
    std::string arrival_path(int n) {
        std::lock_guard lock(_mutex);
        return n >= 1 && n <= static_cast<int>(_arrival_paths.size()) ? _arrival_paths[n - 1] : "";
    }
    // Waits until no file it opened is held by anyone; false at the deadline.
    bool wait_for_no_open_files(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(_mutex);
        return _cv.wait_for(lock, timeout, [&] { return _open == 0; });
    }
    int open_files() {
        std::lock_guard lock(_mutex);
        return _open;
    }
    // Waits until `n` fsyncs in all have reached the gate; false at the deadline.
    bool wait_for_arrivals(int n, std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(_mutex);
        return _cv.wait_for(lock, timeout, [&] { return _arrived >= n; });
    }

  private:
    void wait_for_permit(const std::string& path) {
        std::unique_lock lock(_mutex);
        ++_arrived;
        _arrival_paths.push_back(path);
        _cv.notify_all();
        _cv.wait(lock, [this] { return _permits > 0; });
        --_permits;
    }
    void count_open(int change) {
        {
            std::lock_guard lock(_mutex);
            _open += change;
        }
        _cv.notify_all();
    }
    bool failing(const std::string& path) {
        std::lock_guard lock(_mutex);
        return _failing && _failing(path);
    }
    void note_dir_change(const std::string& path) {
        std::lock_guard lock(_mutex);
        _dir_changes[std::this_thread::get_id()].push_back(path);
    }
    void count_completed() {
        std::lock_guard lock(_mutex);
        ++_completed;
    }

    PosixFileSystem _posix;
    std::function<bool(const std::string&)> _gated;
    std::function<bool(const std::string&)> _failing;  // guarded by _mutex
    std::mutex _mutex;
    std::condition_variable _cv;
    int _permits{0};
    int _completed{0};
    int _open{0};
    int _arrived{0};
    std::vector<std::string> _arrival_paths;
    std::map<std::thread::id, std::vector<std::string>> _dir_changes;
};

// Whatever a test does, the Flusher's gated fsyncs are let through before it joins.
struct ReleaseAll {
    GatedFileSystem& fs;
    ~ReleaseAll() { fs.release(1 << 20); }
};

}  // namespace fjord::storage::testing
