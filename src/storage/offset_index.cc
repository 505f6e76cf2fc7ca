#include "storage/offset_index.h"

#include <algorithm>

#include "common/big_endian.h"

namespace fjord::storage {

bool OffsetIndex::load(uint64_t log_size) {
    _entries.clear();
    std::string bytes;
    if (!_file->read_at(0, _file->size(), bytes) || bytes.size() % 8 != 0) return false;
    for (size_t at = 0; at < bytes.size(); at += 8) {
        Entry e{be::load32(bytes.data() + at), be::load32(bytes.data() + at + 4)};
        if (e.position >= log_size) return false;
        if (!_entries.empty() && (e.relative_offset <= _entries.back().relative_offset ||
                                  e.position <= _entries.back().position)) {
            return false;
        }
        _entries.push_back(e);
    }
    _written = _entries.size();
    return true;
}

IoResult<Ok> OffsetIndex::add(int64_t offset, uint64_t position) {
    _entries.push_back(Entry{static_cast<uint32_t>(offset - _base), static_cast<uint32_t>(position)});
    if (_entries.size() - _written < kWriteEvery) return Ok{};
    return flush();
}

IoResult<Ok> OffsetIndex::flush() {
    if (_written == _entries.size()) return Ok{};
    std::string bytes;
    bytes.reserve((_entries.size() - _written) * 8);
    for (size_t i = _written; i < _entries.size(); ++i) {
        be::append(bytes, _entries[i].relative_offset, 4);
        be::append(bytes, _entries[i].position, 4);
    }
    if (auto r = _file->append(bytes); !r) return r;
    _written = _entries.size();
    return Ok{};
}

OffsetIndex::Entry OffsetIndex::lookup(int64_t offset) const {
    if (offset < _base) return {0, 0};
    auto rel = static_cast<uint64_t>(offset - _base);
    auto it = std::upper_bound(_entries.begin(), _entries.end(), rel,
                               [](uint64_t v, const Entry& e) { return v < e.relative_offset; });
    return it == _entries.begin() ? Entry{0, 0} : *std::prev(it);
}

IoResult<Ok> OffsetIndex::truncate_to_position(uint64_t position) {
    auto it = std::lower_bound(_entries.begin(), _entries.end(), position,
                               [](const Entry& e, uint64_t p) { return e.position < p; });
    _entries.erase(it, _entries.end());
    _written = std::min(_written, _entries.size());
    return _file->truncate(_written * 8);
}

IoResult<Ok> OffsetIndex::clear() {
    _entries.clear();
    _written = 0;
    return _file->truncate(0);
}

}  // namespace fjord::storage
