// FileSystem over POSIX calls.
#pragma once

#include "storage/file_system.h"

namespace fjord::storage {

class PosixFileSystem final : public FileSystem {
  public:
    PosixFileSystem();
    IoResult<std::shared_ptr<File>> open(const std::string& path, bool create) override;
    bool exists(const std::string& path) const override;
    IoResult<std::vector<std::string>> list(const std::string& dir) const override;
    IoResult<Ok> create_dirs(const std::string& dir) override;
    IoResult<Ok> remove(const std::string& path) override;
    IoResult<Ok> rename(const std::string& from, const std::string& to) override;
    IoResult<Ok> sync_dir(const std::string& dir) override;
    // One file: fdatasync. More: one syncfs per file system they are on, so a
    // round of many partitions costs one device flush instead of one each.
    // syncfs also writes out whatever else is dirty on that file system.
    // Before Linux 5.8 syncfs did not report writeback errors: there each
    // file is fdatasynced.
    IoResult<Ok> sync_files(const std::vector<std::shared_ptr<File>>& files) override;

  private:
    bool _syncfs_reports_errors;
};

}  // namespace fjord::storage
