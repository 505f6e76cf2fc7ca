#include "storage/state_files.h"

#include "common/big_endian.h"
#include "common/crc32c.h"

namespace fjord::storage {

namespace {

const char* const kHardStateFile = "raft-hard-state";
const char* const kSnapshotFile = "raft-snapshot";
const char* const kEpochsFile = "raft-epochs";
constexpr uint32_t kEpochsMagic = 0x464A4550;     // "FJEP"
constexpr uint32_t kHardStateMagic = 0x464A4853;  // "FJHS"
constexpr uint32_t kSnapshotMagic = 0x464A534E;   // "FJSN"
constexpr uint32_t kVersion = 1;

// [magic u32][version u32][body...][crc32c u32 of everything before it]
std::string seal(uint32_t magic, const std::string& body) {
    std::string out;
    be::append(out, magic, 4);
    be::append(out, kVersion, 4);
    out += body;
    be::append(out, crc32c(out), 4);
    return out;
}

// The body, or an error naming the file and what is wrong with it.
StorageResult<std::string> unseal(const std::string& path, uint32_t magic, const std::string& bytes) {
    if (bytes.size() < 12) return storage_error(StorageErrc::corrupt, path + ": truncated");
    size_t body_end = bytes.size() - 4;
    if (crc32c(std::string_view(bytes).substr(0, body_end)) != be::load32(bytes.data() + body_end)) {
        return storage_error(StorageErrc::corrupt, path + ": checksum mismatch");
    }
    if (be::load32(bytes.data()) != magic)
        return storage_error(StorageErrc::corrupt, path + ": not a fjord state file");
    if (be::load32(bytes.data() + 4) != kVersion) {
        return storage_error(StorageErrc::corrupt,
                             path + ": unknown version " + std::to_string(be::load32(bytes.data() + 4)));
    }
    return bytes.substr(8, body_end - 8);
}

StorageResult<std::optional<std::string>> load_body(FileSystem& fs, const std::string& path, uint32_t magic) {
    if (!fs.exists(path)) return std::optional<std::string>();
    auto bytes = read_file(fs, path);
    if (!bytes) return io(bytes.error());
    auto body = unseal(path, magic, *bytes);
    if (!body) return make_unexpected(body.error());
    return std::optional<std::string>(std::move(*body));
}

}  // namespace

StorageResult<Ok> save_hard_state(FileSystem& fs, const std::string& dir, const HardStateRecord& hs) {
    std::string body;
    be::append(body, hs.term, 8);
    be::append(body, hs.vote, 8);
    be::append(body, hs.commit, 8);
    if (auto r = write_file_atomically(fs, join_path(dir, kHardStateFile), seal(kHardStateMagic, body)); !r) {
        return io(r.error());
    }
    return Ok{};
}

StorageResult<std::optional<HardStateRecord>> load_hard_state(FileSystem& fs, const std::string& dir) {
    std::string path = join_path(dir, kHardStateFile);
    auto body = load_body(fs, path, kHardStateMagic);
    if (!body) return make_unexpected(body.error());
    if (!*body) return std::optional<HardStateRecord>();
    if ((*body)->size() != 24) return storage_error(StorageErrc::corrupt, path + ": wrong size");
    const char* p = (*body)->data();
    return std::optional<HardStateRecord>(
        HardStateRecord{be::load64(p), be::load64(p + 8), be::load64(p + 16)});
}

StorageResult<Ok> save_epochs(FileSystem& fs, const std::string& dir, const std::vector<EpochStart>& epochs) {
    std::string body;
    for (const EpochStart& e : epochs) {
        be::append(body, e.epoch, 8);
        be::append(body, static_cast<uint64_t>(e.start_offset), 8);
    }
    if (auto r = write_file_atomically(fs, join_path(dir, kEpochsFile), seal(kEpochsMagic, body)); !r) {
        return io(r.error());
    }
    return Ok{};
}

StorageResult<std::vector<EpochStart>> load_epochs(FileSystem& fs, const std::string& dir) {
    std::string path = join_path(dir, kEpochsFile);
    auto body = load_body(fs, path, kEpochsMagic);
    if (!body) return make_unexpected(body.error());
    std::vector<EpochStart> out;
    if (!*body) return out;
    const std::string& b = **body;
    if (b.size() % 16 != 0) return storage_error(StorageErrc::corrupt, path + ": wrong size");
    for (size_t at = 0; at < b.size(); at += 16) {
        out.push_back({be::load64(b.data() + at), static_cast<int64_t>(be::load64(b.data() + at + 8))});
    }
    return out;
}

StorageResult<std::shared_ptr<File>> stage_snapshot(FileSystem& fs, const std::string& dir, uint64_t index,
                                                    uint64_t term, std::string_view metadata,
                                                    std::string_view data) {
    std::string tmp = join_path(dir, kSnapshotFile) + ".tmp";
    if (fs.exists(tmp)) {
        if (auto r = fs.remove(tmp); !r) return io(r.error());
    }
    auto file = fs.open(tmp, true);
    if (!file) return io(file.error());
    // The sealed layout, written in pieces so that the image is not copied.
    std::string head;
    be::append(head, kSnapshotMagic, 4);
    be::append(head, kVersion, 4);
    be::append(head, index, 8);
    be::append(head, term, 8);
    be::append(head, metadata.size(), 8);
    head += metadata;
    std::string tail;
    be::append(tail, crc32c(data, crc32c(head)), 4);
    for (std::string_view piece : {std::string_view(head), data, std::string_view(tail)}) {
        if (auto r = (*file)->append(piece); !r) return io(r.error());
    }
    return std::move(*file);
}

StorageResult<Ok> commit_snapshot(FileSystem& fs, const std::string& dir) {
    std::string path = join_path(dir, kSnapshotFile);
    if (auto r = fs.rename(path + ".tmp", path); !r) return io(r.error());
    if (auto r = fs.sync_dir(dir); !r) return io(r.error());
    return Ok{};
}

StorageResult<Ok> save_snapshot(FileSystem& fs, const std::string& dir, uint64_t index, uint64_t term,
                                std::string_view metadata, std::string_view data) {
    auto staged = stage_snapshot(fs, dir, index, term, metadata, data);
    if (!staged) return make_unexpected(staged.error());
    if (auto r = (*staged)->sync(); !r) return io(r.error());
    return commit_snapshot(fs, dir);
}

StorageResult<Ok> save_snapshot(FileSystem& fs, const std::string& dir, const SnapshotRecord& snap) {
    return save_snapshot(fs, dir, snap.index, snap.term, snap.metadata, snap.data);
}

StorageResult<std::optional<SnapshotRecord>> load_snapshot(FileSystem& fs, const std::string& dir) {
    std::string path = join_path(dir, kSnapshotFile);
    auto body = load_body(fs, path, kSnapshotMagic);
    if (!body) return make_unexpected(body.error());
    if (!*body) return std::optional<SnapshotRecord>();
    const std::string& b = **body;
    if (b.size() < 24) return storage_error(StorageErrc::corrupt, path + ": truncated header");
    SnapshotRecord snap;
    snap.index = be::load64(b.data());
    snap.term = be::load64(b.data() + 8);
    uint64_t meta_len = be::load64(b.data() + 16);
    if (meta_len > b.size() - 24)
        return storage_error(StorageErrc::corrupt, path + ": metadata length beyond the file");
    snap.metadata = b.substr(24, meta_len);
    snap.data = b.substr(24 + meta_len);
    return std::optional<SnapshotRecord>(std::move(snap));
}

}  // namespace fjord::storage
