#include "raft/memory_storage.h"

#include <algorithm>
#include <cassert>

namespace fjord::raft {

MemoryStorage::MemoryStorage() : _snapshot(std::make_shared<Snapshot>()) {}

Index MemoryStorage::last_index() const {
    return _entries.empty() ? _snapshot->meta.index : _entries.back().index;
}

size_t MemoryStorage::upper_bound(Index i) const {
    auto it = std::upper_bound(_entries.begin(), _entries.end(), i,
                               [](Index v, const Entry& e) { return v < e.index; });
    return static_cast<size_t>(it - _entries.begin());
}

std::optional<Term> MemoryStorage::term_at(Index i) const {
    if (i == _snapshot->meta.index) return _snapshot->meta.term;
    size_t pos = upper_bound(i);
    if (pos == 0 || _entries[pos - 1].index != i) return std::nullopt;
    return _entries[pos - 1].term;
}

std::optional<EntryId> MemoryStorage::entry_at_or_before(Index i) const {
    if (i < _snapshot->meta.index) return std::nullopt;
    size_t pos = upper_bound(i);
    if (pos == 0) return EntryId{_snapshot->meta.index, _snapshot->meta.term};
    return EntryId{_entries[pos - 1].index, _entries[pos - 1].term};
}

void MemoryStorage::entries(Index after, Index upto, size_t max_bytes, std::vector<Entry>& out) const {
    size_t bytes = 0;
    for (size_t pos = upper_bound(after); pos < _entries.size() && _entries[pos].index <= upto; ++pos) {
        if (bytes > 0 && bytes + _entries[pos].byte_size() > max_bytes) break;
        bytes += _entries[pos].byte_size();
        out.push_back(_entries[pos]);
    }
}

std::vector<Entry> MemoryStorage::membership_entries() const {
    std::vector<Entry> out;
    for (const Entry& e : _entries) {
        if (e.type == EntryType::membership) out.push_back(e);
    }
    return out;
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
    if (entries.empty()) return;
    assert(entries.front().index > _snapshot->meta.index);
    // Entries ending at or after the new entry's first offset are replaced.
    const Entry& first = entries.front();
    size_t keep = upper_bound(Index{first.index.value - first.span});
    _entries.resize(keep);
    _entries.insert(_entries.end(), entries.begin(), entries.end());
}

void MemoryStorage::install_snapshot(Snapshot snapshot) {
    _entries.clear();
    _snapshot = std::make_shared<const Snapshot>(std::move(snapshot));
}

void MemoryStorage::compact(Snapshot snapshot) {
    Index at = snapshot.meta.index;
    assert(at >= _snapshot->meta.index && at <= last_index());
    _entries.erase(_entries.begin(), _entries.begin() + static_cast<std::ptrdiff_t>(upper_bound(at)));
    _snapshot = std::make_shared<const Snapshot>(std::move(snapshot));
}

}  // namespace fjord::raft
