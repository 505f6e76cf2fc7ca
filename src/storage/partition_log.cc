#include "storage/partition_log.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <utility>

namespace fjord::storage {

namespace {

const char* const kStartOffsetFile = "log-start-offset";

// "00000000000000000042.log" -> 42; -1 for any other name.
int64_t parse_segment_name(const std::string& name) {
    if (name.size() != 24 || name.compare(20, 4, ".log") != 0) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < 20; ++i) {
        if (name[i] < '0' || name[i] > '9') return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

// The base offsets of the segments in `dir`, oldest first.
StorageResult<std::vector<int64_t>> list_segment_bases(FileSystem& fs, const std::string& dir) {
    auto names = fs.list(dir);
    if (!names) return io(names.error());
    std::vector<int64_t> bases;
    for (const std::string& name : *names) {
        if (int64_t base = parse_segment_name(name); base >= 0) bases.push_back(base);
    }
    std::sort(bases.begin(), bases.end());
    return bases;
}

}  // namespace

// What the event loop has written and no sync has taken yet, shared with the
// Flusher's thread: the loop adds to it on every write; the Flusher's thread
// takes all of it at the start of each round. Whenever `writes` is ahead of
// the last round taken, `dirty` is not empty, so a job that finds it empty
// may end.
struct PartitionLog::SyncFeed {
    std::mutex mutex;
    PartitionLog* owner;  // null once the log is gone
    std::vector<std::shared_ptr<File>> dirty;
    uint64_t writes{0};       // the log's _writes at its last write
    int64_t end{0};           // its next_offset() then
    uint64_t truncations{0};  // its _truncations then
    bool queued{false};       // a Flusher job is taking this log's rounds
};

PartitionLog::PartitionLog(FileSystem& fs, std::string dir, LogConfig config, Flusher* flusher)
    : _fs(fs),
      _dir(std::move(dir)),
      _config(std::move(config)),
      _flusher(flusher),
      _feed(std::make_shared<SyncFeed>()) {
    _feed->owner = this;
    if (!_config.log)
        _config.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
}

PartitionLog::~PartitionLog() {
    // A round in flight still completes, but its result finds no log.
    std::lock_guard lock(_feed->mutex);
    _feed->owner = nullptr;
}

void PartitionLog::mark_dirty(const std::shared_ptr<File>& file) {
    ++_writes;
    std::lock_guard lock(_feed->mutex);
    if (std::find(_feed->dirty.begin(), _feed->dirty.end(), file) == _feed->dirty.end())
        _feed->dirty.push_back(file);
    _feed->writes = _writes;
    _feed->end = next_offset();
    _feed->truncations = _truncations;
}

void PartitionLog::forget_dirty(const std::shared_ptr<File>& file) {
    std::lock_guard lock(_feed->mutex);
    std::erase(_feed->dirty, file);
}

StorageResult<std::unique_ptr<PartitionLog>> PartitionLog::open(FileSystem& fs, std::string dir,
                                                                LogConfig config, Flusher* flusher,
                                                                int64_t now_ms) {
    std::unique_ptr<PartitionLog> log(new PartitionLog(fs, std::move(dir), std::move(config), flusher));
    const std::string& d = log->_dir;
    if (auto r = fs.create_dirs(d); !r) return io(r.error());
    auto listed = list_segment_bases(fs, d);
    if (!listed) return make_unexpected(listed.error());
    const std::vector<int64_t>& bases = *listed;
    for (size_t i = 0; i < bases.size(); ++i) {
        bool active = i + 1 == bases.size();
        auto seg = Segment::open(fs, d, bases[i], log->_config.index_interval_bytes, active, now_ms,
                                 log->_config.log);
        if (!seg) return make_unexpected(seg.error());
        log->_segments.push_back(std::move(*seg));
    }
    for (size_t i = 0; i + 1 < log->_segments.size(); ++i) {
        Segment& s = *log->_segments[i];
        if (s.next_offset() != log->_segments[i + 1]->base_offset()) {
            log->_config.log(d + ": segment " + std::to_string(s.base_offset()) + " ends at offset " +
                             std::to_string(s.next_offset()) + " but the next starts at " +
                             std::to_string(log->_segments[i + 1]->base_offset()));
        }
    }
    if (log->_segments.empty()) {
        auto seg = Segment::create(fs, d, 0, log->_config.index_interval_bytes, now_ms);
        if (!seg) return make_unexpected(seg.error());
        log->_segments.push_back(std::move(*seg));
    }
    log->_segments.back()->preallocate(log->preallocation());
    log->_start = log->_segments.front()->base_offset();
    if (fs.exists(join_path(d, kStartOffsetFile))) {
        auto bytes = read_file(fs, join_path(d, kStartOffsetFile));
        if (!bytes) return io(bytes.error());
        long long v = 0;
        if (std::sscanf(bytes->c_str(), "%lld", &v) == 1) log->_start = std::max<int64_t>(log->_start, v);
    }
    if (log->_start > log->next_offset()) {
        // The start offset was made durable before the data below it (a crash
        // right after compacting past the synced end): nothing between is
        // trustworthy, so begin again, empty, at the start offset.
        log->_config.log(d + ": log start offset " + std::to_string(log->_start) +
                         " is past the recovered end " + std::to_string(log->next_offset()) +
                         "; starting an empty log there");
        if (auto r = log->reset(log->_start); !r) return make_unexpected(r.error());
    }
    // What was recovered may still sit only in the page cache (the process
    // died, the machine did not): make it durable before counting on it.
    for (auto& s : log->_segments) {
        if (auto r = s->log_file()->sync(); !r)
            return storage_error(StorageErrc::fsync_failed, r.error().message());
    }
    log->_durable = log->next_offset();
    log->_last_sync_ms = now_ms;
    return log;
}

int64_t PartitionLog::next_offset() const {
    return _segments.back()->next_offset();
}

uint64_t PartitionLog::size_bytes() const {
    uint64_t total = 0;
    for (const auto& s : _segments) total += s->size();
    return total;
}

StorageResult<int64_t> PartitionLog::append(std::string_view batch, int64_t now_ms) {
    if (_stopped)
        return storage_error(StorageErrc::stopped,
                             _dir + ": no writes after a failed fsync; restart to recover");
    auto h = validate_batch(batch);
    if (!h) return storage_error(StorageErrc::corrupt, _dir + ": " + std::string(to_string(h.error())));
    if (h->size != batch.size())
        return storage_error(StorageErrc::bad_request, _dir + ": bytes after the batch");
    if (h->base_offset != next_offset()) {
        return storage_error(StorageErrc::bad_request,
                             _dir + ": batch base offset " + std::to_string(h->base_offset) +
                                 " is not the log end offset " + std::to_string(next_offset()));
    }
    Segment* active = _segments.back().get();
    bool full = active->size() + batch.size() > _config.segment_bytes;
    bool old = now_ms - active->created_ms() >= _config.segment_ms;
    if (active->size() > 0 && (full || old)) {
        if (auto r = roll(now_ms); !r) return make_unexpected(r.error());
        active = _segments.back().get();
    }
    if (auto r = active->append(batch, *h); !r) return make_unexpected(r.error());
    mark_dirty(active->log_file());
    return h->last_offset();
}

StorageResult<Ok> PartitionLog::roll(int64_t now_ms) {
    // A sealed segment is durable, and cut to its data, before any later one
    // exists, so recovery only ever has to repair the last segment.
    if (auto r = _segments.back()->seal(); !r) return make_unexpected(r.error());
    auto synced = _segments.back()->log_file()->sync();
    if (synced) synced = _segments.back()->index_file().sync();
    if (auto& r = synced; !r) {
        _stopped = true;
        _config.log(_dir + ": " + r.error().message() +
                    " while sealing a segment; the log takes no more writes");
        return storage_error(StorageErrc::fsync_failed, r.error().message());
    }
    auto seg = Segment::create(_fs, _dir, next_offset(), _config.index_interval_bytes, now_ms);
    if (!seg) return make_unexpected(seg.error());
    _segments.push_back(std::move(*seg));
    _segments.back()->preallocate(preallocation());
    return Ok{};
}

Segment* PartitionLog::segment_for(int64_t offset) {
    auto it =
        std::upper_bound(_segments.begin(), _segments.end(), offset,
                         [](int64_t o, const std::unique_ptr<Segment>& s) { return o < s->base_offset(); });
    return it == _segments.begin() ? nullptr : std::prev(it)->get();
}

StorageResult<ReadSlice> PartitionLog::read(int64_t offset, size_t max_bytes) {
    if (offset < _start || offset > next_offset()) {
        return storage_error(StorageErrc::out_of_range, _dir + ": offset " + std::to_string(offset) +
                                                            " outside [" + std::to_string(_start) + ", " +
                                                            std::to_string(next_offset()) + "]");
    }
    if (offset == next_offset()) {
        ReadSlice empty;
        empty.first_offset = empty.next_offset = offset;
        return empty;
    }
    for (const auto& s : _segments) {
        if (s->base_offset() > offset) break;
        if (s->serve_limit() <= offset) {
            return storage_error(StorageErrc::corrupt, _dir + ": offset " + std::to_string(offset) +
                                                           " lies past a corrupt batch at offset " +
                                                           std::to_string(s->serve_limit()));
        }
    }
    Segment* s = segment_for(offset);
    if (s == nullptr || offset >= s->next_offset()) {
        return storage_error(StorageErrc::corrupt,
                             _dir + ": no segment holds offset " + std::to_string(offset));
    }
    return s->read(offset, max_bytes, _config.log);
}

StorageResult<Ok> PartitionLog::truncate_suffix(int64_t offset) {
    if (offset >= next_offset()) return Ok{};
    if (offset < _start) {
        return storage_error(StorageErrc::out_of_range,
                             _dir + ": cannot truncate below the log start offset " + std::to_string(_start));
    }
    Segment* target = segment_for(offset);
    if (target == nullptr || !target->starts_batch(offset)) {
        return storage_error(
            StorageErrc::bad_request,
            _dir + ": truncation at offset " + std::to_string(offset) + " is not at a batch boundary");
    }
    while (_segments.size() > 1 && _segments.back()->base_offset() >= offset) {
        if (auto r = _segments.back()->remove(_fs); !r) return r;
        forget_dirty(_segments.back()->log_file());
        _segments.pop_back();
    }
    if (auto r = _fs.sync_dir(_dir); !r) return io(r.error());
    if (auto r = _segments.back()->truncate(offset); !r) return r;
    _segments.back()->preallocate(preallocation());  // it may have been sealed
    _durable = std::min(_durable, offset);
    ++_truncations;
    mark_dirty(_segments.back()->log_file());
    return Ok{};
}

StorageResult<Ok> PartitionLog::remove_front_segment() {
    if (auto r = _segments.front()->remove(_fs); !r) return r;
    forget_dirty(_segments.front()->log_file());
    _segments.erase(_segments.begin());
    return Ok{};
}

StorageResult<Ok> PartitionLog::truncate_prefix(int64_t offset) {
    if (offset <= _start) return Ok{};
    if (offset >= next_offset()) return reset(offset);
    auto cut = cut_prefix(offset);
    if (!cut) return make_unexpected(cut.error());
    return remove_cut(_fs, *cut);
}

StorageResult<PartitionLog::PrefixCut> PartitionLog::cut_prefix(int64_t offset) {
    if (offset > next_offset()) {
        return storage_error(StorageErrc::bad_request, _dir + ": cannot start the log at offset " +
                                                           std::to_string(offset) + ", past its end at " +
                                                           std::to_string(next_offset()));
    }
    PrefixCut cut{_dir, std::max(offset, _start), {}};
    while (_segments.size() > 1 && _segments[1]->base_offset() <= offset) {
        const Segment& front = *_segments.front();
        cut.files.push_back(join_path(_dir, segment_file_name(front.base_offset(), ".log")));
        cut.files.push_back(join_path(_dir, segment_file_name(front.base_offset(), ".index")));
        forget_dirty(front.log_file());
        _segments.erase(_segments.begin());
    }
    _start = cut.start;
    return cut;
}

StorageResult<Ok> PartitionLog::remove_cut(FileSystem& fs, const PrefixCut& cut) {
    for (const std::string& file : cut.files) {
        // A segment's index may be missing (a crash before it was written).
        if (auto r = fs.remove(file); !r && r.error().code != ENOENT) return io(r.error());
    }
    if (auto r = write_file_atomically(fs, join_path(cut.dir, kStartOffsetFile), std::to_string(cut.start));
        !r) {
        return io(r.error());
    }
    return Ok{};
}

StorageResult<Ok> PartitionLog::reset(int64_t offset) {
    int64_t created = _segments.back()->created_ms();
    while (!_segments.empty()) {
        if (auto r = remove_front_segment(); !r) return r;
    }
    auto seg = begin_empty_at(_fs, _dir, offset, _config.index_interval_bytes, created);
    if (!seg) return make_unexpected(seg.error());
    _segments.push_back(std::move(*seg));
    _segments.back()->preallocate(preallocation());
    _durable = offset;
    ++_truncations;
    mark_dirty(_segments.back()->log_file());
    _start = offset;
    return Ok{};
}

StorageResult<std::unique_ptr<PartitionLog>> PartitionLog::open_empty_at(FileSystem& fs, std::string dir,
                                                                         LogConfig config, Flusher* flusher,
                                                                         int64_t offset, int64_t now_ms) {
    auto bases = list_segment_bases(fs, dir);
    if (!bases) return make_unexpected(bases.error());
    // Oldest first, as retention deletes: a crash part way leaves the newer
    // segments, a log with no hole in it.
    for (int64_t base : *bases) {
        if (auto r = fs.remove(join_path(dir, segment_file_name(base, ".log"))); !r) return io(r.error());
        // A segment's index may be missing (a crash before it was written).
        if (auto r = fs.remove(join_path(dir, segment_file_name(base, ".index")));
            !r && r.error().code != ENOENT)
            return io(r.error());
    }
    auto seg = begin_empty_at(fs, dir, offset, config.index_interval_bytes, now_ms);
    if (!seg) return make_unexpected(seg.error());
    seg->reset();  // open() finds it on disk
    return open(fs, std::move(dir), std::move(config), flusher, now_ms);
}

StorageResult<std::unique_ptr<Segment>> PartitionLog::begin_empty_at(FileSystem& fs, const std::string& dir,
                                                                     int64_t offset, uint32_t index_interval,
                                                                     int64_t now_ms) {
    auto seg = Segment::create(fs, dir, offset, index_interval, now_ms);
    if (!seg) return make_unexpected(seg.error());
    if (auto r = write_file_atomically(fs, join_path(dir, kStartOffsetFile), std::to_string(offset)); !r)
        return io(r.error());
    return seg;
}

int64_t PartitionLog::retention_point(int64_t now_ms) const {
    uint64_t total = size_bytes();
    size_t keep = 0;  // the first segment retention keeps; the active one always stays
    for (; keep + 1 < _segments.size(); ++keep) {
        const Segment& s = *_segments[keep];
        bool too_big = _config.retention_bytes >= 0 &&
                       total - s.size() >= static_cast<uint64_t>(_config.retention_bytes);
        bool too_old = _config.retention_ms >= 0 && s.max_timestamp() >= 0 &&
                       s.max_timestamp() < now_ms - _config.retention_ms;
        if (!too_big && !too_old) break;
        total -= s.size();
    }
    return keep == 0 ? _start : _segments[keep]->base_offset();
}

StorageResult<Ok> PartitionLog::sync_now() {
    if (_stopped)
        return storage_error(StorageErrc::stopped,
                             _dir + ": no syncs after a failed fsync; restart to recover");
    std::vector<std::shared_ptr<File>> files;
    {
        std::lock_guard lock(_feed->mutex);
        if (_feed->queued)
            return storage_error(StorageErrc::bad_request, _dir + ": sync_now() while a sync runs");
        files.swap(_feed->dirty);
    }
    for (const auto& f : files) {
        if (auto r = f->sync(); !r) {
            _stopped = true;
            return storage_error(StorageErrc::fsync_failed, r.error().message());
        }
    }
    // Waiters, if any, were covered by a round already taken; its
    // completion answers them.
    _durable = next_offset();
    _synced_writes = _writes;
    return Ok{};
}

bool PartitionLog::needs_sync(int64_t now_ms) const {
    if (_stopped || _durable == next_offset()) return false;
    switch (_config.flush) {
        case FlushPolicy::every_append:
            return true;
        case FlushPolicy::interval:
            return now_ms - _last_sync_ms >= _config.flush_interval_ms;
        case FlushPolicy::never:
            return false;
    }
    return false;
}

bool PartitionLog::sync_if_due(int64_t now_ms, SyncDone done) {
    if (!needs_sync(now_ms)) return false;
    _last_sync_ms = now_ms;
    sync(std::move(done));
    return true;
}

void PartitionLog::sync(SyncDone done) {
    if (_stopped) {
        done(storage_error(StorageErrc::stopped,
                           _dir + ": no syncs after a failed fsync; restart to recover"));
        return;
    }
    if (_synced_writes == _writes) {
        done(_durable);
        return;
    }
    _waiters.push_back(Waiter{_writes, std::move(done)});
    if (_flusher == nullptr) {
        std::optional<Flusher::Round> round = take_round(_feed);
        if (!round) return finish_sync(_writes, next_offset(), _truncations, Ok{});
        IoResult<Ok> result = Ok{};
        for (const auto& f : round->files) {
            result = f->sync();
            if (!result) break;
        }
        return round->done(std::move(result));
    }
    {
        std::lock_guard lock(_feed->mutex);
        if (_feed->queued || _feed->dirty.empty()) return;  // a round taken or to be taken covers it
        _feed->queued = true;
    }
    _flusher->submit([feed = _feed] { return take_round(feed); });
}

void PartitionLog::sync_file(std::shared_ptr<File> file, Flusher::Done done) {
    if (_flusher == nullptr) return done(file->sync());
    _flusher->sync_apart(std::move(file), std::move(done));
}

std::optional<Flusher::Round> PartitionLog::take_round(const std::shared_ptr<SyncFeed>& feed) {
    std::lock_guard lock(feed->mutex);
    if (feed->owner == nullptr || feed->dirty.empty()) {
        feed->queued = false;
        return std::nullopt;
    }
    Flusher::Round round;
    round.files.swap(feed->dirty);
    // Runs on the owner's thread, where the owner is also destroyed.
    round.done = [feed, writes = feed->writes, target = feed->end,
                  truncations = feed->truncations](IoResult<Ok> result) {
        if (feed->owner != nullptr) feed->owner->finish_sync(writes, target, truncations, std::move(result));
    };
    return round;
}

void PartitionLog::finish_sync(uint64_t writes, int64_t target, uint64_t truncations, IoResult<Ok> result) {
    if (!result) {
        // Never retry: the kernel may have dropped the dirty pages, and a
        // second fsync could "succeed" without writing them (fsyncgate).
        _stopped = true;
        _config.log(_dir + ": " + result.error().message() +
                    "; the log takes no more writes and recovers from disk at restart");
        std::deque<Waiter> waiters;
        waiters.swap(_waiters);
        for (auto& w : waiters) w.done(storage_error(StorageErrc::fsync_failed, result.error().message()));
        return;
    }
    if (truncations == _truncations) _durable = std::max(_durable, std::min(target, next_offset()));
    _synced_writes = std::max(_synced_writes, writes);
    // A completion may ask for another sync, which queues behind these.
    while (!_waiters.empty() && _waiters.front().writes <= writes) {
        SyncDone done = std::move(_waiters.front().done);
        _waiters.pop_front();
        done(_durable);
    }
}

}  // namespace fjord::storage
