#include "storage/posix_file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace fjord::storage {

namespace {

Unexpected<IoError> fail(const std::string& what) {
    return make_unexpected(IoError{errno, what});
}

class PosixFile final : public File {
  public:
    PosixFile(int fd, std::string path, uint64_t size, dev_t device)
        : _fd(fd), _path(std::move(path)), _size(size), _allocated(size), _device(device) {}
    ~PosixFile() override { ::close(_fd); }

    IoResult<Ok> append(std::string_view bytes) override {
        uint64_t start = _size.load();
        if (_chunk > 0 && start + bytes.size() > _allocated) reserve(start, bytes.size());
        size_t done = 0;
        while (done < bytes.size()) {
            ssize_t n =
                ::pwrite(_fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(start + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                IoError e{errno, "write " + _path};
                // Never leave half a write behind: the tail must stay parseable.
                if (done > 0 && ::ftruncate(_fd, static_cast<off_t>(start)) != 0)
                    e.what += " (and truncating back failed)";
                if (done > 0) _allocated = start;
                return make_unexpected(std::move(e));
            }
            done += static_cast<size_t>(n);
        }
        _size = start + bytes.size();
        return Ok{};
    }

    IoResult<Ok> read_at(uint64_t offset, size_t len, std::string& out) const override {
        out.resize(len);
        size_t done = 0;
        while (done < len) {
            ssize_t n = ::pread(_fd, out.data() + done, len - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail("read " + _path);
            if (n == 0) break;
            done += static_cast<size_t>(n);
        }
        out.resize(done);
        return Ok{};
    }

    IoResult<Ok> sync() override {
        if (::fdatasync(_fd) != 0) return fail("fdatasync " + _path);
        return Ok{};
    }

    IoResult<Ok> truncate(uint64_t size) override {
        if (::ftruncate(_fd, static_cast<off_t>(size)) != 0) return fail("truncate " + _path);
        _size = size;
        _allocated = size;
        return Ok{};
    }

    uint64_t size() const override { return _size.load(); }
    void preallocate(uint64_t chunk) override { _chunk = chunk; }
    int native_handle() const override { return _fd; }
    const std::string& path() const { return _path; }
    dev_t device() const { return _device; }

  private:
    // Extends the file (its length included) by a chunk of zeros before an
    // append that would pass its end. Best effort: where that fails (no space
    // for a whole chunk, a file system without fallocate) the append just
    // writes, and reports its own error if it has one.
    void reserve(uint64_t start, size_t bytes) {
        uint64_t length = std::max<uint64_t>(bytes, _chunk);
        if (::fallocate(_fd, 0, static_cast<off_t>(start), static_cast<off_t>(length)) == 0) {
            _allocated = start + length;
        } else if (errno == EOPNOTSUPP) {
            _chunk = 0;
        }
    }

    int _fd;
    std::string _path;
    std::atomic<uint64_t> _size;  // read by the sync thread's callers
    uint64_t _allocated;          // the file's length on disk, past _size when preallocated
    uint64_t _chunk{0};
    dev_t _device;  // the file system it is on, for sync_files
};

// Whether the running kernel is at least major.minor.
bool kernel_at_least(int major, int minor) {
    struct utsname u {};
    int have_major = 0, have_minor = 0;
    if (::uname(&u) != 0 || std::sscanf(u.release, "%d.%d", &have_major, &have_minor) != 2) return false;
    return have_major > major || (have_major == major && have_minor >= minor);
}

}  // namespace

PosixFileSystem::~PosixFileSystem() {
    if (_shared_sync_fd >= 0) ::close(_shared_sync_fd);
}

IoResult<std::shared_ptr<File>> PosixFileSystem::open(const std::string& path, bool create) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    if (fd < 0) return fail("open " + path);
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        return fail("stat " + path);
    }
    return std::shared_ptr<File>(
        std::make_shared<PosixFile>(fd, path, static_cast<uint64_t>(st.st_size), st.st_dev));
}

bool PosixFileSystem::exists(const std::string& path) const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

IoResult<std::vector<std::string>> PosixFileSystem::list(const std::string& dir) const {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return fail("list " + dir);
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    return names;
}

IoResult<Ok> PosixFileSystem::create_dirs(const std::string& dir) {
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        std::string prefix = dir.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return fail("mkdir " + prefix);
    }
    return Ok{};
}

IoResult<Ok> PosixFileSystem::remove(const std::string& path) {
    if (::unlink(path.c_str()) != 0) return fail("remove " + path);
    return Ok{};
}

IoResult<Ok> PosixFileSystem::rename(const std::string& from, const std::string& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) return fail("rename " + from + " to " + to);
    return Ok{};
}

IoResult<Ok> PosixFileSystem::sync_dir(const std::string& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail("open directory " + dir);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return make_unexpected(IoError{err, "fsync directory " + dir});
    return Ok{};
}

Result<Ok, std::string> PosixFileSystem::share_syncs(const std::string& dir) {
    // Before 5.17 syncfs dropped the file system's own sync errors (a failed
    // cache flush among them); fdatasync reports them.
    if (!kernel_at_least(5, 17)) return make_unexpected(std::string("shared syncs need Linux 5.17 or later"));
    struct statfs fs {};
    if (::statfs(dir.c_str(), &fs) != 0)
        return make_unexpected("statfs " + dir + ": " + std::strerror(errno));
    if (fs.f_type != EXT4_SUPER_MAGIC && fs.f_type != XFS_SUPER_MAGIC) {
        char type[32];
        std::snprintf(type, sizeof type, "0x%lx", static_cast<unsigned long>(fs.f_type));
        return make_unexpected(dir + " is on a file system of type " + type +
                               "; shared syncs are only trusted on ext4 and xfs");
    }
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_unexpected("open " + dir + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        std::string why = "stat " + dir + ": " + std::strerror(errno);
        ::close(fd);
        return make_unexpected(why);
    }
    if (_shared_sync_fd >= 0) ::close(_shared_sync_fd);
    _shared_sync_fd = fd;
    _shared_device = st.st_dev;
    _shared_dir = dir;
    return Ok{};
}

IoResult<Ok> PosixFileSystem::sync_files(const std::vector<std::shared_ptr<File>>& files) {
    if (_shared_sync_fd < 0 || files.size() <= 1) return sync_each(files);
    bool shared = false;
    for (const auto& f : files) {
        const auto* file = dynamic_cast<const PosixFile*>(f.get());
        if (file == nullptr || file->device() != _shared_device) {
            if (auto r = f->sync(); !r) return r;
            continue;
        }
        // Writes the file's dirty pages, waits for them, and reports an error
        // of this file's own writeback since this descriptor last did:
        // syncfs alone would report it to whichever descriptor asked first.
        constexpr unsigned kWriteAndWait =
            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER;
        if (::sync_file_range(file->native_handle(), 0, 0, kWriteAndWait) != 0)
            return fail("write back " + file->path());
        shared = true;
    }
    // Metadata and the device's cache, once for all of them.
    if (shared && ::syncfs(_shared_sync_fd) != 0)
        return fail("syncfs of the file system holding " + _shared_dir + " (" + std::to_string(files.size()) +
                    " files to sync)");
    return Ok{};
}

}  // namespace fjord::storage
