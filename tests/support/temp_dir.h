// A directory under /tmp for tests on real files, removed with everything in
// it at the end.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace fjord::storage::testing {

class TempDir {
  public:
    TempDir() {
        char tmpl[] = "/tmp/fjord-storage-test-XXXXXX";
        char* made = ::mkdtemp(tmpl);
        if (made != nullptr) _path = made;
    }
    ~TempDir() {
        if (_path.empty()) return;
        std::error_code ec;
        std::filesystem::remove_all(_path, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::string& path() const { return _path; }

  private:
    std::string _path;
};

}  // namespace fjord::storage::testing
