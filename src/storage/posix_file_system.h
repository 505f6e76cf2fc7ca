// FileSystem over POSIX calls.
#pragma once

#include <sys/types.h>

#include <string>

#include "storage/file_system.h"

namespace fjord::storage {

class PosixFileSystem final : public FileSystem {
  public:
    PosixFileSystem() = default;
    ~PosixFileSystem() override;
    PosixFileSystem(const PosixFileSystem&) = delete;
    PosixFileSystem& operator=(const PosixFileSystem&) = delete;
    IoResult<std::shared_ptr<File>> open(const std::string& path, bool create) override;
    bool exists(const std::string& path) const override;
    IoResult<std::vector<std::string>> list(const std::string& dir) const override;
    IoResult<Ok> create_dirs(const std::string& dir) override;
    IoResult<Ok> remove(const std::string& path) override;
    IoResult<Ok> rename(const std::string& from, const std::string& to) override;
    IoResult<Ok> sync_dir(const std::string& dir) override;
    // Each file in turn (fdatasync), unless share_syncs() was called: then
    // the files on `dir`'s file system are written back one by one
    // (sync_file_range, which reports each file's own writeback errors) and
    // made durable with one syncfs, so a round of many partitions costs one
    // device flush instead of one each. syncfs also writes out whatever else
    // is dirty on that file system.
    IoResult<Ok> sync_files(const std::vector<std::shared_ptr<File>>& files) override;
    // Lets sync_files() share one syncfs among the files on `dir`'s file
    // system. Refused (with the reason) where syncfs is not known to report
    // every error: Linux before 5.17, file systems other than ext4 and xfs.
    // `dir` is opened now and kept, so that its syncfs reports every
    // file-system-wide error from here on.
    Result<Ok, std::string> share_syncs(const std::string& dir);

  private:
    int _shared_sync_fd{-1};
    dev_t _shared_device{0};
    std::string _shared_dir;
};

}  // namespace fjord::storage
