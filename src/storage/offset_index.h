// A segment's sparse offset index: every `interval` bytes of log, one entry
// mapping an offset (relative to the segment's base) to the byte position of
// the batch that starts with it. Lookup is a binary search, then a short scan.
// File format: 8-byte entries, big-endian (relative offset u32, position u32),
// as Kafka's .index files. New entries reach the file in groups (and at
// flush(), which sealing a segment calls): an index is rebuilt from its log
// when a crash cut it short, and one syscall per batch cost more than the
// rest of an append but the copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace fjord::storage {

class OffsetIndex {
  public:
    struct Entry {
        uint32_t relative_offset;
        uint32_t position;
    };

    OffsetIndex(std::shared_ptr<File> file, int64_t base_offset)
        : _file(std::move(file)), _base(base_offset) {}

    // Loads the file; false when it is damaged (not a whole number of
    // entries, not increasing, or pointing beyond `log_size`).
    bool load(uint64_t log_size);
    // Adds an entry in memory; entries are written out every `kWriteEvery`.
    IoResult<Ok> add(int64_t offset, uint64_t position);
    // Writes the entries not yet in the file.
    IoResult<Ok> flush();
    // The last entry at or before `offset` ({0, 0}, the segment's start, if none).
    Entry lookup(int64_t offset) const;
    // Drops entries at or beyond `position` (the log was truncated there).
    IoResult<Ok> truncate_to_position(uint64_t position);
    IoResult<Ok> clear();
    const std::vector<Entry>& entries() const { return _entries; }
    File& file() { return *_file; }

  private:
    static constexpr size_t kWriteEvery = 128;  // entries: 1 KiB of index

    std::shared_ptr<File> _file;
    int64_t _base;
    std::vector<Entry> _entries;
    size_t _written{0};  // the first _written entries are in the file
};

}  // namespace fjord::storage
