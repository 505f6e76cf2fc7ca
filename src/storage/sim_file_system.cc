#include "storage/sim_file_system.h"

#include <algorithm>
#include <cerrno>

#include "common/splitmix.h"

namespace fjord::storage {

struct SimFileSystem::Inode {
    std::string data;      // what reads see
    std::string durable;   // what survives a crash
    bool poisoned{false};  // a sync failed: the unsynced bytes are gone for good
};

namespace {

Unexpected<IoError> fail(int code, const std::string& what) {
    return make_unexpected(IoError{code, what});
}

bool under(const std::string& path, const std::string& dir) {
    return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/' &&
           path.find('/', dir.size() + 1) == std::string::npos;
}

}  // namespace

class SimFile final : public File {
  public:
    SimFile(SimFileSystem& fs, std::shared_ptr<SimFileSystem::Inode> inode, std::string path)
        : _fs(fs),
          _inode(std::move(inode)),
          _path(std::move(path)),
          _generation(fs._generation),
          _size(_inode->data.size()) {}

    // The inode holds the file as the OS has it, preallocated zeros
    // included; the handle knows where its data ends, as PosixFile does.
    IoResult<Ok> append(std::string_view bytes) override {
        if (stale()) return fail(EIO, "write " + _path + " (handle from before a crash)");
        std::string& data = _inode->data;
        uint64_t end = _size + bytes.size();
        if (end > data.size()) {
            uint64_t reserve = std::max<uint64_t>(bytes.size(), _chunk);
            if (_chunk > 0 && _fs.used() - data.size() + _size + reserve <= _fs._capacity) {
                data.resize(_size + reserve, '\0');
            } else if (_fs.used() + (end - data.size()) > _fs._capacity) {
                return fail(ENOSPC, "write " + _path);
            } else {
                data.resize(end, '\0');
            }
        }
        data.replace(_size, bytes.size(), bytes);
        _size = end;
        return Ok{};
    }

    IoResult<Ok> read_at(uint64_t offset, size_t len, std::string& out) const override {
        if (stale()) return fail(EIO, "read " + _path + " (handle from before a crash)");
        out.clear();
        if (offset < _inode->data.size()) out = _inode->data.substr(offset, len);
        return Ok{};
    }

    IoResult<Ok> sync() override {
        if (stale()) return fail(EIO, "fdatasync " + _path + " (handle from before a crash)");
        if (_fs._failing_syncs > 0) {
            --_fs._failing_syncs;
            _inode->poisoned = true;
            return fail(EIO, "fdatasync " + _path);
        }
        if (!_inode->poisoned) _inode->durable = _inode->data;
        return Ok{};
    }

    IoResult<Ok> truncate(uint64_t size) override {
        if (stale()) return fail(EIO, "truncate " + _path + " (handle from before a crash)");
        _inode->data.resize(size, '\0');
        _size = size;
        return Ok{};
    }

    uint64_t size() const override { return _size; }
    void preallocate(uint64_t chunk) override { _chunk = chunk; }
    int native_handle() const override { return -1; }

  private:
    bool stale() const { return _generation != _fs._generation; }

    SimFileSystem& _fs;
    std::shared_ptr<SimFileSystem::Inode> _inode;
    std::string _path;
    uint64_t _generation;
    uint64_t _size;  // where the data ends; the inode may run on with preallocated zeros
    uint64_t _chunk{0};
};

SimFileSystem::SimFileSystem(uint64_t seed) : _rng(seed) {}

uint64_t SimFileSystem::next_random() {
    return splitmix64(_rng);
}

uint64_t SimFileSystem::used() const {
    uint64_t total = 0;
    for (const auto& [path, inode] : _entries) total += inode->data.size();
    return total;
}

IoResult<std::shared_ptr<File>> SimFileSystem::open(const std::string& path, bool create) {
    auto it = _entries.find(path);
    if (it == _entries.end()) {
        if (!create) return fail(ENOENT, "open " + path);
        if (!_dirs.count(parent_dir(path))) return fail(ENOENT, "open " + path + " (no such directory)");
        it = _entries.emplace(path, std::make_shared<Inode>()).first;
    }
    return std::shared_ptr<File>(std::make_shared<SimFile>(*this, it->second, path));
}

bool SimFileSystem::exists(const std::string& path) const {
    return _entries.count(path) > 0 || _dirs.count(path) > 0;
}

IoResult<std::vector<std::string>> SimFileSystem::list(const std::string& dir) const {
    if (!_dirs.count(dir)) return fail(ENOENT, "list " + dir);
    std::vector<std::string> names;
    for (const auto& [path, inode] : _entries) {
        if (under(path, dir)) names.push_back(path.substr(dir.size() + 1));
    }
    for (const auto& [path, durable] : _dirs) {
        if (under(path, dir)) names.push_back(path.substr(dir.size() + 1));
    }
    std::sort(names.begin(), names.end());
    return names;
}

IoResult<Ok> SimFileSystem::create_dirs(const std::string& dir) {
    // Directories themselves are treated as durable once created.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos == dir.size() || dir[pos] == '/') _dirs[dir.substr(0, pos)] = true;
    }
    return Ok{};
}

IoResult<Ok> SimFileSystem::remove(const std::string& path) {
    if (_entries.erase(path) == 0) return fail(ENOENT, "remove " + path);
    return Ok{};
}

IoResult<Ok> SimFileSystem::rename(const std::string& from, const std::string& to) {
    auto it = _entries.find(from);
    if (it == _entries.end()) return fail(ENOENT, "rename " + from);
    _entries[to] = it->second;
    _entries.erase(it);
    return Ok{};
}

IoResult<Ok> SimFileSystem::sync_dir(const std::string& dir) {
    if (!_dirs.count(dir)) return fail(ENOENT, "fsync directory " + dir);
    for (auto it = _durable_entries.begin(); it != _durable_entries.end();) {
        it = under(it->first, dir) ? _durable_entries.erase(it) : std::next(it);
    }
    for (const auto& [path, inode] : _entries) {
        if (under(path, dir)) _durable_entries[path] = inode;
    }
    return Ok{};
}

void SimFileSystem::corrupt(const std::string& path, uint64_t offset) {
    auto it = _entries.find(path);
    if (it == _entries.end()) return;
    Inode& inode = *it->second;
    if (offset < inode.data.size()) inode.data[offset] = static_cast<char>(inode.data[offset] ^ 0x5A);
    if (offset < inode.durable.size())
        inode.durable[offset] = static_cast<char>(inode.durable[offset] ^ 0x5A);
}

void SimFileSystem::crash(bool tear) {
    ++_generation;
    _entries = _durable_entries;
    for (auto& [path, inode] : _entries) {
        std::string& data = inode->data;
        const std::string& durable = inode->durable;
        // The unsynced writes lie from the first byte that differs to the end
        // (appends, or writes into preallocated zeros).
        size_t from = 0;
        while (from < durable.size() && from < data.size() && data[from] == durable[from]) ++from;
        bool grows = !inode->poisoned && data.size() >= durable.size() && from < data.size();
        if (grows && next_random() % 2 == 0) {
            // A prefix of them reached the disk, maybe torn.
            size_t keep = from + next_random() % (data.size() - from + 1);
            std::string survived = data.substr(0, keep);
            if (keep < durable.size()) survived += durable.substr(keep);
            if (tear && keep > from && next_random() % 2 == 0) {
                size_t at = from + next_random() % (keep - from);
                survived[at] = static_cast<char>(next_random());
            }
            data = std::move(survived);
        } else {
            data = durable;
        }
        inode->durable = data;
        inode->poisoned = false;
    }
}

}  // namespace fjord::storage
