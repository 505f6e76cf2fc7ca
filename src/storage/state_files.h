// The small files beside a partition log that Raft needs durable: its hard
// state (term, vote, commit) and its latest snapshot. Each is replaced
// atomically (temp file, fsync, rename, fsync of the directory) and carries a
// CRC-32C, so a crash leaves the old or the new version, and damage is
// reported instead of being read as valid state. Field meanings belong to the
// layer above; storage/ stores numbers and bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/file_system.h"
#include "storage/storage_error.h"

namespace fjord::storage {

struct HardStateRecord {
    uint64_t term{0};
    uint64_t vote{0};
    uint64_t commit{0};
    bool operator==(const HardStateRecord&) const = default;
};

struct SnapshotRecord {
    uint64_t index{0};
    uint64_t term{0};
    std::string metadata;  // e.g. the encoded membership
    std::string data;      // the state machine's image
};

StorageResult<Ok> save_hard_state(FileSystem& fs, const std::string& dir, const HardStateRecord& hs);
// nullopt when the file does not exist (a new replica); an error when damaged.
StorageResult<std::optional<HardStateRecord>> load_hard_state(FileSystem& fs, const std::string& dir);

// Where each leader epoch (Raft term) starts in the log, as Kafka's
// leader-epoch-checkpoint: (epoch, start offset) pairs, increasing.
struct EpochStart {
    uint64_t epoch{0};
    int64_t start_offset{0};
    bool operator==(const EpochStart&) const = default;
};
StorageResult<Ok> save_epochs(FileSystem& fs, const std::string& dir, const std::vector<EpochStart>& epochs);
StorageResult<std::vector<EpochStart>> load_epochs(FileSystem& fs, const std::string& dir);

// Writes, syncs and renames into place (write_file_atomically's steps).
StorageResult<Ok> save_snapshot(FileSystem& fs, const std::string& dir, uint64_t index, uint64_t term,
                                std::string_view metadata, std::string_view data);
StorageResult<Ok> save_snapshot(FileSystem& fs, const std::string& dir, const SnapshotRecord& snap);
// The same in two steps, so that the fsync of a large image can run off the
// event loop: stage_snapshot writes the temporary file and returns it, not
// yet synced; once the caller has synced it, commit_snapshot renames it into
// place and syncs the directory. A new stage replaces an uncommitted one.
StorageResult<std::shared_ptr<File>> stage_snapshot(FileSystem& fs, const std::string& dir, uint64_t index,
                                                    uint64_t term, std::string_view metadata,
                                                    std::string_view data);
StorageResult<Ok> commit_snapshot(FileSystem& fs, const std::string& dir);
StorageResult<std::optional<SnapshotRecord>> load_snapshot(FileSystem& fs, const std::string& dir);

}  // namespace fjord::storage
