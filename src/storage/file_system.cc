#include "storage/file_system.h"

#include <cerrno>
#include <cstring>

namespace fjord::storage {

bool IoError::no_space() const {
    return code == ENOSPC || code == EDQUOT;
}

std::string IoError::message() const {
    return what + ": " + std::strerror(code);
}

std::string parent_dir(const std::string& path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/') return dir + name;
    return dir + "/" + name;
}

IoResult<Ok> sync_each(const std::vector<std::shared_ptr<File>>& files) {
    for (const auto& f : files) {
        if (auto r = f->sync(); !r) return r;
    }
    return Ok{};
}

IoResult<Ok> FileSystem::sync_files(const std::vector<std::shared_ptr<File>>& files) {
    return sync_each(files);
}

IoResult<Ok> write_file_atomically(FileSystem& fs, const std::string& path, std::string_view bytes) {
    std::string tmp = path + ".tmp";
    if (fs.exists(tmp)) {
        if (auto r = fs.remove(tmp); !r) return r;
    }
    auto file = fs.open(tmp, true);
    if (!file) return make_unexpected(file.error());
    if (auto r = (*file)->append(bytes); !r) return r;
    if (auto r = (*file)->sync(); !r) return r;
    if (auto r = fs.rename(tmp, path); !r) return r;
    return fs.sync_dir(parent_dir(path));
}

IoResult<std::string> read_file(FileSystem& fs, const std::string& path) {
    auto file = fs.open(path, false);
    if (!file) return make_unexpected(file.error());
    std::string out;
    if (auto r = (*file)->read_at(0, (*file)->size(), out); !r) return make_unexpected(r.error());
    return out;
}

}  // namespace fjord::storage
