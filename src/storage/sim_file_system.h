// An in-memory FileSystem that behaves like a disk under a crash: bytes not
// yet synced may be lost (wholly or in part, and what survives of a torn
// write may be garbage), directory changes not yet synced are undone, a full
// disk refuses writes, and an fsync can be made to fail. Deterministic: every
// choice comes from the seed.
#pragma once

#include <map>
#include <memory>

#include "storage/file_system.h"

namespace fjord::storage {

class SimFileSystem final : public FileSystem {
  public:
    explicit SimFileSystem(uint64_t seed = 1);

    IoResult<std::shared_ptr<File>> open(const std::string& path, bool create) override;
    bool exists(const std::string& path) const override;
    IoResult<std::vector<std::string>> list(const std::string& dir) const override;
    IoResult<Ok> create_dirs(const std::string& dir) override;
    IoResult<Ok> remove(const std::string& path) override;
    IoResult<Ok> rename(const std::string& from, const std::string& to) override;
    IoResult<Ok> sync_dir(const std::string& dir) override;

    // Power loss: files keep what was synced, plus possibly a prefix of what
    // was not (its last bytes possibly garbled when `tear`); directory
    // entries roll back to their last sync. Open handles become stale.
    void crash(bool tear = true);
    // Total bytes the disk holds before appends fail with ENOSPC.
    void set_capacity(uint64_t bytes) { _capacity = bytes; }
    uint64_t used() const;
    // The next `n` syncs fail with EIO, and the bytes they should have made
    // durable are lost at the next crash even if a later sync reports success
    // (Linux drops the dirty pages after a failed writeback).
    void fail_next_syncs(int n) { _failing_syncs = n; }
    // Flips one byte of a file's durable and visible content (bit rot).
    void corrupt(const std::string& path, uint64_t offset);

    struct Inode;

  private:
    uint64_t next_random();

    std::map<std::string, std::shared_ptr<Inode>> _entries;          // path -> file, as the OS sees it
    std::map<std::string, std::shared_ptr<Inode>> _durable_entries;  // as it survives a crash
    std::map<std::string, bool> _dirs;
    uint64_t _capacity{UINT64_MAX};
    int _failing_syncs{0};
    uint64_t _rng;
    uint64_t _generation{0};  // bumped by crash(): older handles refuse to work
    friend class SimFile;
};

}  // namespace fjord::storage
