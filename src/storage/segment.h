// One segment of a partition log: a file of record batches named by its
// 20-digit base offset (`00000000000000000000.log`), and its sparse offset
// index beside it (`.index`). Batches are appended whole; a segment never
// holds half a batch except after a crash, which open() repairs. The active
// segment's file may run past its data with preallocated zeros; sealing a
// segment, and opening one, cut them off.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "storage/file_system.h"
#include "storage/offset_index.h"
#include "storage/record_batch.h"
#include "storage/storage_error.h"

namespace fjord::storage {

using Logger = std::function<void(const std::string&)>;

// Whole batches in a byte range of a segment file, checked: their bytes, and
// where they lie in `file` for a transport that sends files (sendfile).
struct ReadSlice {
    std::shared_ptr<File> file;
    uint64_t position{0};
    uint64_t length{0};
    std::string bytes;
    int64_t first_offset{0};
    int64_t next_offset{0};  // offset after the last batch in the slice
};

std::string segment_file_name(int64_t base_offset, const char* suffix);

class Segment {
  public:
    static StorageResult<std::unique_ptr<Segment>> create(FileSystem& fs, const std::string& dir,
                                                          int64_t base_offset, uint32_t index_interval,
                                                          int64_t now_ms);
    // Opens an existing segment. An active segment (the last one) is checked
    // batch by batch, CRC included, and cut at the first torn or corrupt
    // batch. A sealed segment is trusted for its length and its batches are
    // verified as they are first read. A missing or damaged index is rebuilt.
    static StorageResult<std::unique_ptr<Segment>> open(FileSystem& fs, const std::string& dir,
                                                        int64_t base_offset, uint32_t index_interval,
                                                        bool active, int64_t now_ms, const Logger& log);

    StorageResult<Ok> append(std::string_view batch, const BatchHeader& h);
    // Reads whole batches from the one containing `offset`, up to `max_bytes`
    // (at least one batch). Never returns a batch that fails its CRC: the
    // segment stops serving at the first one (see serve_limit()).
    StorageResult<ReadSlice> read(int64_t offset, size_t max_bytes, const Logger& log);
    // Whether a batch starts at `offset` (or it is the segment's end).
    bool starts_batch(int64_t offset);
    // Removes every batch whose base offset is >= `offset`.
    StorageResult<Ok> truncate(int64_t offset);
    StorageResult<Ok> remove(FileSystem& fs);
    // Lets appends reserve file space `chunk` bytes ahead (File::preallocate).
    void preallocate(uint64_t chunk) { _log->preallocate(chunk); }
    // Cuts the file to its data (drops preallocated space) and writes out the
    // index; for a segment no longer appended to.
    StorageResult<Ok> seal();

    int64_t base_offset() const { return _base; }
    int64_t next_offset() const { return _next; }
    uint64_t size() const { return _log->size(); }
    int64_t max_timestamp() const { return _max_timestamp; }
    int64_t created_ms() const { return _created_ms; }
    // Offsets from here on are not served: a corrupt batch was found there.
    int64_t serve_limit() const { return _serve_limit; }
    const std::shared_ptr<File>& log_file() const { return _log; }
    File& index_file() { return _index.file(); }

  private:
    Segment(std::string dir, int64_t base, std::shared_ptr<File> log, std::shared_ptr<File> index,
            uint32_t interval, int64_t now_ms);
    // Walks batch headers from `position`; validates CRCs when `check_crc`.
    // Stops at the end or the first bad batch and returns where it stopped.
    uint64_t scan(uint64_t position, bool check_crc, bool rebuild_index, std::string* problem);
    // Whether the file holds only zeros from `position` to its end.
    bool zeros_from(uint64_t position) const;
    // Position of the batch with base offset <= offset < next, by index then scan.
    StorageResult<uint64_t> find(int64_t offset);

    std::string _dir;
    int64_t _base;
    std::shared_ptr<File> _log;
    OffsetIndex _index;
    uint32_t _interval;
    int64_t _next;
    int64_t _max_timestamp{-1};
    int64_t _created_ms;
    uint64_t _bytes_since_index{0};
    uint64_t _verified{0};  // bytes [0, _verified) passed their CRC check
    int64_t _serve_limit{INT64_MAX};
};

}  // namespace fjord::storage
