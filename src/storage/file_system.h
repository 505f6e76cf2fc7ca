// The file-system seam under storage/. Production uses POSIX files; tests and
// the simulator use SimFileSystem, which can lose unsynced bytes, tear writes,
// run out of space and fail an fsync, as real disks do.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace fjord::storage {

struct IoError {
    int code{0};       // errno
    std::string what;  // the operation and path, ready for a log line

    bool no_space() const;
    std::string message() const;
};

template <typename T>
using IoResult = Result<T, IoError>;

class File {
  public:
    virtual ~File() = default;
    // Appends at the end (buffered, not durable until sync()). On failure the
    // file is left at its previous size: never a partial write.
    virtual IoResult<Ok> append(std::string_view bytes) = 0;
    // Reads up to `len` bytes at `offset` into `out` (replacing its contents).
    virtual IoResult<Ok> read_at(uint64_t offset, size_t len, std::string& out) const = 0;
    // Makes every byte appended so far durable (fdatasync).
    virtual IoResult<Ok> sync() = 0;
    // Sets the file's length (its data ends there).
    virtual IoResult<Ok> truncate(uint64_t size) = 0;
    // The length of the data: what was there at open, then appended or truncated to.
    virtual uint64_t size() const = 0;
    // Lets appends reserve space `chunk` bytes ahead (fallocate), so that an
    // fdatasync after an append need not also write the file's new length
    // each time. Until truncate() the file then runs past its data with
    // zeros, which a later open() sees as part of the file: its reader must
    // find where the data ends (Segment::open does). 0 turns it off.
    virtual void preallocate(uint64_t chunk) = 0;
    // The descriptor, for zero-copy sends; -1 when there is none.
    virtual int native_handle() const = 0;
};

class FileSystem {
  public:
    virtual ~FileSystem() = default;
    // Opens for reading and appending; creates the file if `create`.
    virtual IoResult<std::shared_ptr<File>> open(const std::string& path, bool create) = 0;
    virtual bool exists(const std::string& path) const = 0;
    // File names (not paths) in a directory, sorted.
    virtual IoResult<std::vector<std::string>> list(const std::string& dir) const = 0;
    virtual IoResult<Ok> create_dirs(const std::string& dir) = 0;
    virtual IoResult<Ok> remove(const std::string& path) = 0;
    virtual IoResult<Ok> rename(const std::string& from, const std::string& to) = 0;
    // Makes the directory's entries (creations, renames, removals) durable.
    virtual IoResult<Ok> sync_dir(const std::string& dir) = 0;
    // Makes every byte appended to `files` durable, as each one's sync()
    // would, and fails if any of them fails. This one syncs each in turn; a
    // file system may do it with fewer device flushes.
    virtual IoResult<Ok> sync_files(const std::vector<std::shared_ptr<File>>& files);
};

// Replaces `path` with `bytes` so that a crash leaves either the old or the
// new content, never a mix: temp file, fsync, rename, fsync of the directory.
IoResult<Ok> write_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes);
// Syncs each of `files` in turn; the first failure ends it.
IoResult<Ok> sync_each(const std::vector<std::shared_ptr<File>>& files);
// Reads a whole file.
IoResult<std::string> read_file(FileSystem& fs, const std::string& path);

std::string parent_dir(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace fjord::storage
