#include "storage/segment.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace fjord::storage {

std::string segment_file_name(int64_t base_offset, const char* suffix) {
    char name[64];
    std::snprintf(name, sizeof(name), "%020lld%s", static_cast<long long>(base_offset), suffix);
    return name;
}

Segment::Segment(std::string dir, int64_t base, std::shared_ptr<File> log, std::shared_ptr<File> index,
                 uint32_t interval, int64_t now_ms)
    : _dir(std::move(dir)),
      _base(base),
      _log(std::move(log)),
      _index(std::move(index), base),
      _interval(interval),
      _next(base),
      _created_ms(now_ms) {}

StorageResult<std::unique_ptr<Segment>> Segment::create(FileSystem& fs, const std::string& dir,
                                                        int64_t base_offset, uint32_t index_interval,
                                                        int64_t now_ms) {
    auto log = fs.open(join_path(dir, segment_file_name(base_offset, ".log")), true);
    if (!log) return io(log.error());
    auto index = fs.open(join_path(dir, segment_file_name(base_offset, ".index")), true);
    if (!index) return io(index.error());
    if ((*log)->size() != 0) (*log)->truncate(0);
    if ((*index)->size() != 0) (*index)->truncate(0);
    // The new names must survive a crash before anything in them counts.
    if (auto r = fs.sync_dir(dir); !r) return io(r.error());
    return std::unique_ptr<Segment>(new Segment(dir, base_offset, *log, *index, index_interval, now_ms));
}

StorageResult<std::unique_ptr<Segment>> Segment::open(FileSystem& fs, const std::string& dir,
                                                      int64_t base_offset, uint32_t index_interval,
                                                      bool active, int64_t now_ms, const Logger& log) {
    std::string log_path = join_path(dir, segment_file_name(base_offset, ".log"));
    auto log_file = fs.open(log_path, false);
    if (!log_file) return io(log_file.error());
    auto index_file = fs.open(join_path(dir, segment_file_name(base_offset, ".index")), true);
    if (!index_file) return io(index_file.error());
    std::unique_ptr<Segment> s(new Segment(dir, base_offset, *log_file, *index_file, index_interval, now_ms));
    uint64_t size = s->_log->size();
    std::string problem;
    if (active) {
        if (auto r = s->_index.clear(); !r) return io(r.error());
        uint64_t good = s->scan(0, true, true, &problem);
        s->_verified = good;
        if (good < size) {
            // Zeros are space preallocated for appends (File::preallocate), not damage.
            if (!s->zeros_from(good)) {
                log(log_path + ": " + problem + "; truncating the log from byte " + std::to_string(good) +
                    " of " + std::to_string(size) + " (offsets from " + std::to_string(s->_next) +
                    " on were not durable)");
            }
            if (auto r = s->_log->truncate(good); !r) return io(r.error());
        }
        if (auto r = s->_index.flush(); !r) return io(r.error());  // the entries the scan rebuilt
        return s;
    }
    uint64_t from = 0;
    if (s->_index.load(size) && !s->_index.entries().empty()) {
        const OffsetIndex::Entry& last = s->_index.entries().back();
        from = last.position;
        s->_next = base_offset + last.relative_offset;
    } else {
        if (s->_index.file().size() > 0) log(log_path + ": damaged offset index, rebuilding it");
        if (auto r = s->_index.clear(); !r) return io(r.error());
    }
    uint64_t end = s->scan(from, false, from == 0, &problem);
    if (end < size && s->zeros_from(end)) {
        // Preallocated space the segment kept when the node stopped before sealing it.
        if (auto r = s->_log->truncate(end); !r) return io(r.error());
        size = end;
    }
    if (end < size && from > 0) {
        // The index may be what is stale (it is synced only when the segment
        // is sealed): rebuild it from the log and look again.
        log(log_path + ": " + problem + " after the last index entry; rebuilding the offset index");
        if (auto r = s->_index.clear(); !r) return io(r.error());
        s->_next = base_offset;
        s->_max_timestamp = -1;
        problem.clear();
        end = s->scan(0, false, true, &problem);
    }
    if (end < size) {
        s->_serve_limit = s->_next;
        log(log_path + ": " + problem + " in a sealed segment; offsets from " + std::to_string(s->_next) +
            " on will not be served");
    }
    if (auto r = s->_index.flush(); !r) return io(r.error());
    return s;
}

bool Segment::zeros_from(uint64_t position) const {
    constexpr uint64_t kPiece = 64 << 10;
    std::string buf;
    for (uint64_t size = _log->size(); position < size; position += buf.size()) {
        if (!_log->read_at(position, std::min(kPiece, size - position), buf) || buf.empty()) return false;
        if (buf.find_first_not_of('\0') != std::string::npos) return false;
    }
    return true;
}

StorageResult<Ok> Segment::seal() {
    _log->preallocate(0);
    if (auto r = _log->truncate(_log->size()); !r) return io(r.error());
    if (auto r = _index.flush(); !r) return io(r.error());
    return Ok{};
}

uint64_t Segment::scan(uint64_t position, bool check_crc, bool rebuild_index, std::string* problem) {
    uint64_t size = _log->size();
    std::string buf;
    while (position < size) {
        if (size - position < kBatchHeaderSize) {
            *problem = "torn batch header at byte " + std::to_string(position);
            break;
        }
        if (!_log->read_at(position, kBatchHeaderSize, buf)) {
            *problem = "read error at byte " + std::to_string(position);
            break;
        }
        auto h = parse_batch_header(buf);
        if (!h) {
            *problem = std::string(to_string(h.error())) + " at byte " + std::to_string(position);
            break;
        }
        if (h->base_offset != _next) {
            *problem = "batch at byte " + std::to_string(position) + " has base offset " +
                       std::to_string(h->base_offset) + ", expected " + std::to_string(_next);
            break;
        }
        if (position + h->size > size) {
            *problem = "torn batch at byte " + std::to_string(position);
            break;
        }
        if (check_crc) {
            if (!_log->read_at(position, h->size, buf) || !validate_batch(buf)) {
                *problem = "CRC mismatch in the batch at byte " + std::to_string(position) + " (offset " +
                           std::to_string(h->base_offset) + ")";
                break;
            }
        }
        if (rebuild_index) {
            if (_bytes_since_index >= _interval) {
                _index.add(h->base_offset, position);
                _bytes_since_index = 0;
            }
            _bytes_since_index += h->size;
        }
        _next = h->last_offset() + 1;
        _max_timestamp = std::max(_max_timestamp, h->max_timestamp);
        position += h->size;
    }
    return position;
}

StorageResult<Ok> Segment::append(std::string_view batch, const BatchHeader& h) {
    uint64_t position = _log->size();
    if (auto r = _log->append(batch); !r) return io(r.error());
    if (_bytes_since_index >= _interval) {
        // A missing index entry only costs a longer scan; the batch is stored.
        if (_index.add(h.base_offset, position)) _bytes_since_index = 0;
    }
    _bytes_since_index += batch.size();
    _next = h.last_offset() + 1;
    _max_timestamp = std::max(_max_timestamp, h.max_timestamp);
    if (_verified == position) _verified = position + batch.size();  // we wrote it: it is what we checked
    return Ok{};
}

StorageResult<uint64_t> Segment::find(int64_t offset) {
    if (offset < _base || offset >= _next) {
        return storage_error(StorageErrc::out_of_range,
                             "offset " + std::to_string(offset) + " not in segment " + std::to_string(_base));
    }
    OffsetIndex::Entry hint = _index.lookup(offset);
    uint64_t position = hint.position;
    int64_t expected = _base + hint.relative_offset;
    std::string buf;
    bool from_start = position == 0;
    while (position < _log->size()) {
        if (!_log->read_at(position, kBatchHeaderSize, buf)) break;
        auto h = parse_batch_header(buf);
        if (!h || h->base_offset != expected) {
            // Damage on the scan from the start: there is nothing better to try.
            if (from_start) break;
            // A stale or damaged index entry: fall back to scanning from the start, once.
            position = 0;
            expected = _base;
            from_start = true;
            continue;
        }
        if (h->last_offset() >= offset) return position;
        position += h->size;
        expected = h->last_offset() + 1;
    }
    return storage_error(StorageErrc::corrupt, "offset " + std::to_string(offset) + " not found in segment " +
                                                   std::to_string(_base) + " of " + _dir);
}

bool Segment::starts_batch(int64_t offset) {
    if (offset == _next || offset == _base) return true;
    auto p = find(offset);
    if (!p) return false;
    std::string head;
    if (!_log->read_at(*p, kBatchHeaderSize, head)) return false;
    auto h = parse_batch_header(head);
    return h && h->base_offset == offset;
}

StorageResult<ReadSlice> Segment::read(int64_t offset, size_t max_bytes, const Logger& log) {
    if (offset >= _serve_limit) {
        return storage_error(StorageErrc::corrupt, "offset " + std::to_string(offset) +
                                                       " lies past a corrupt batch in " + _dir +
                                                       " (segment " + std::to_string(_base) + ")");
    }
    auto start = find(offset);
    if (!start) return make_unexpected(start.error());
    uint64_t position = *start;
    std::string buf;
    if (auto r = _log->read_at(position, kBatchHeaderSize, buf); !r) return io(r.error());
    auto first = parse_batch_header(buf);
    if (!first)
        return storage_error(StorageErrc::corrupt,
                             _dir + ": unreadable batch header at byte " + std::to_string(position));
    // One read for the whole range; headers are then parsed in memory.
    uint64_t len = std::min<uint64_t>(_log->size() - position, std::max<uint64_t>(max_bytes, first->size));
    if (auto r = _log->read_at(position, len, buf); !r) return io(r.error());
    ReadSlice slice;
    slice.file = _log;
    slice.position = position;
    size_t at = 0;
    int64_t expected = first->base_offset;
    std::string_view view = buf;
    while (at + kBatchHeaderSize <= view.size()) {
        auto h = parse_batch_header(view.substr(at));
        if (!h || h->base_offset >= _serve_limit || at + h->size > view.size()) break;
        uint64_t batch_start = position + at;
        bool unverified = batch_start + h->size > _verified;
        if (h->base_offset != expected || (unverified && !validate_batch(view.substr(at, h->size)))) {
            _serve_limit = expected;
            log(join_path(_dir, segment_file_name(_base, ".log")) + ": " +
                (h->base_offset != expected ? "offset gap" : "CRC mismatch") + " in the batch at byte " +
                std::to_string(batch_start) + " (offset " + std::to_string(expected) +
                "); not serving offsets from there on");
            break;
        }
        if (_verified == batch_start) _verified = batch_start + h->size;
        if (at == 0) slice.first_offset = h->base_offset;
        slice.next_offset = h->last_offset() + 1;
        expected = slice.next_offset;
        at += h->size;
    }
    if (at == 0) {
        return storage_error(StorageErrc::corrupt, "offset " + std::to_string(offset) +
                                                       " lies in a corrupt batch in " + _dir + " (segment " +
                                                       std::to_string(_base) + ")");
    }
    buf.resize(at);
    slice.length = at;
    slice.bytes = std::move(buf);
    return slice;
}

StorageResult<Ok> Segment::truncate(int64_t offset) {
    if (offset >= _next) return Ok{};
    uint64_t position = 0;
    if (offset > _base) {
        auto p = find(offset);
        if (!p) return make_unexpected(p.error());
        std::string head;
        _log->read_at(*p, kBatchHeaderSize, head);
        auto h = parse_batch_header(head);
        if (!h || h->base_offset != offset) {
            return storage_error(StorageErrc::bad_request, "truncation at offset " + std::to_string(offset) +
                                                               " is not at a batch boundary");
        }
        position = *p;
    }
    if (auto r = _log->truncate(position); !r) return io(r.error());
    if (auto r = _index.truncate_to_position(position); !r) return io(r.error());
    _next = offset;
    _verified = std::min(_verified, position);
    _bytes_since_index = 0;
    if (_serve_limit >= offset) _serve_limit = INT64_MAX;
    return Ok{};
}

StorageResult<Ok> Segment::remove(FileSystem& fs) {
    if (auto r = fs.remove(join_path(_dir, segment_file_name(_base, ".log"))); !r) return io(r.error());
    if (auto r = fs.remove(join_path(_dir, segment_file_name(_base, ".index")));
        !r && r.error().code != ENOENT) {
        return io(r.error());
    }
    return Ok{};
}

}  // namespace fjord::storage
