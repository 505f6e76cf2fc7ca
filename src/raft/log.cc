#include "raft/log.h"

#include <algorithm>
#include <cassert>

namespace fjord::raft {

RaftLog::RaftLog(const LogStorage& storage)
    : _storage(storage),
      _stable_last(storage.last_index()),
      _committed(std::max(storage.hard_state().commit, storage.snapshot_meta().index)),
      _applied(storage.snapshot_meta().index) {
    SnapshotMeta meta = storage.snapshot_meta();
    _base_membership = meta.membership;
    _base_membership_index = meta.index;
    track_memberships(storage.membership_entries());
    // A commit index persisted above what the log holds (a crash between the
    // hard state and the entries being written) must not be trusted.
    _committed = std::min(_committed, _stable_last);
}

Index RaftLog::snapshot_index() const {
    return _snapshot ? _snapshot->meta.index : _storage.snapshot_meta().index;
}

Index RaftLog::last_index() const {
    return _unstable.empty() ? _stable_last : _unstable.back().index;
}

Term RaftLog::last_term() const {
    if (!_unstable.empty()) return _unstable.back().term;
    std::optional<Term> t = term_at(_stable_last);
    assert(t.has_value());
    return *t;
}

namespace {

// First position in `v` whose index is > i.
size_t upper_bound_pos(const std::vector<Entry>& v, Index i) {
    auto it = std::upper_bound(v.begin(), v.end(), i, [](Index x, const Entry& e) { return x < e.index; });
    return static_cast<size_t>(it - v.begin());
}

}  // namespace

std::optional<Term> RaftLog::term_at(Index i) const {
    if (i > _stable_last) {
        size_t pos = upper_bound_pos(_unstable, i);
        if (pos == 0 || _unstable[pos - 1].index != i) return std::nullopt;
        return _unstable[pos - 1].term;
    }
    if (_snapshot) {
        if (i == _snapshot->meta.index) return _snapshot->meta.term;
        return std::nullopt;
    }
    return _storage.term_at(i);
}

std::optional<EntryId> RaftLog::entry_at_or_before(Index i) const {
    if (i > _stable_last) {
        size_t pos = upper_bound_pos(_unstable, i);
        if (pos > 0) return EntryId{_unstable[pos - 1].index, _unstable[pos - 1].term};
        i = _stable_last;
    }
    if (_snapshot) {
        if (i < _snapshot->meta.index) return std::nullopt;
        return EntryId{_snapshot->meta.index, _snapshot->meta.term};
    }
    return _storage.entry_at_or_before(i);
}

bool RaftLog::is_up_to_date(Index last, Term term) const {
    Term mine = last_term();
    return term > mine || (term == mine && last >= last_index());
}

std::vector<Entry> RaftLog::entries(Index after, Index upto, size_t max_bytes) const {
    std::vector<Entry> out;
    if (after < _stable_last && !_snapshot)
        _storage.entries(after, std::min(upto, _stable_last), max_bytes, out);
    size_t bytes = 0;
    for (const Entry& e : out) bytes += e.byte_size();
    if (upto > _stable_last && (out.empty() || out.back().index == _stable_last)) {
        for (size_t pos = upper_bound_pos(_unstable, after); pos < _unstable.size(); ++pos) {
            const Entry& e = _unstable[pos];
            if (e.index > upto) break;
            if (!out.empty() && bytes + e.byte_size() > max_bytes) break;
            bytes += e.byte_size();
            out.push_back(e);
        }
    }
    return out;
}

void RaftLog::append(std::vector<Entry> entries) {
    if (entries.empty()) return;
    assert(entries.front().index > last_index());
    track_memberships(entries);
    if (_unstable.empty()) {
        _unstable = std::move(entries);
    } else {
        _unstable.insert(_unstable.end(), std::make_move_iterator(entries.begin()),
                         std::make_move_iterator(entries.end()));
    }
}

std::optional<Index> RaftLog::maybe_append(EntryId prev, const std::vector<Entry>& entries) {
    if (!matches(prev.index, prev.term)) return std::nullopt;
    Index last_new = entries.empty() ? prev.index : entries.back().index;
    Index last = last_index();
    for (size_t i = 0; i < entries.size(); ++i) {
        const Entry& e = entries[i];
        if (e.index <= last && matches(e.index, e.term)) continue;
        // First entry we lack or that conflicts: everything from its first
        // offset on is replaced (an entry of ours may end inside its span).
        Index first_offset{e.index.value - e.span + 1};
        assert(first_offset > _committed);
        if (first_offset <= last) truncate_from(first_offset);
        append(std::vector<Entry>(entries.begin() + static_cast<std::ptrdiff_t>(i), entries.end()));
        break;
    }
    return last_new;
}

void RaftLog::truncate_from(Index first_removed) {
    if (first_removed > _stable_last) {
        size_t pos = upper_bound_pos(_unstable, Index{first_removed.value - 1});
        _unstable.resize(pos);
        _handed = std::min(_handed, pos);
    } else {
        std::optional<EntryId> keep = _storage.entry_at_or_before(Index{first_removed.value - 1});
        assert(keep.has_value());
        _stable_last = keep->index;
        _unstable.clear();
        _handed = 0;
    }
    _memberships.erase(_memberships.lower_bound(first_removed), _memberships.end());
}

EntryId RaftLog::conflict_hint(Index i, Term t) const {
    std::optional<EntryId> e = entry_at_or_before(std::min(i, last_index()));
    while (e && e->term > t) {
        if (e->index.value == 0) break;
        e = entry_at_or_before(Index{e->index.value - 1});
    }
    if (!e) return EntryId{snapshot_index(), *term_at(snapshot_index())};
    return *e;
}

void RaftLog::commit_to(Index i) {
    if (i <= _committed) return;
    assert(i <= last_index());
    _committed = i;
}

void RaftLog::restore(std::shared_ptr<const Snapshot> snapshot) {
    assert(snapshot->meta.index > _committed);
    _unstable.clear();
    _handed = 0;
    _stable_last = snapshot->meta.index;
    _committed = snapshot->meta.index;
    _base_membership = snapshot->meta.membership;
    _base_membership_index = snapshot->meta.index;
    _memberships.clear();
    _snapshot = std::move(snapshot);
    _snapshot_handed = false;
}

std::vector<Entry> RaftLog::take_unpersisted() {
    std::vector<Entry> out(_unstable.begin() + static_cast<std::ptrdiff_t>(_handed), _unstable.end());
    _handed = _unstable.size();
    return out;
}

std::shared_ptr<const Snapshot> RaftLog::take_snapshot() {
    if (!_snapshot || _snapshot_handed) return nullptr;
    _snapshot_handed = true;
    return _snapshot;
}

void RaftLog::persisted(const std::vector<Entry>& entries) {
    // The persisted entries that are still the front of the unstable tail
    // become stable; any that were truncated meanwhile are replaced in storage
    // by the next persist.
    size_t n = 0;
    while (n < entries.size() && n < _handed && _unstable[n].index == entries[n].index &&
           _unstable[n].term == entries[n].term) {
        ++n;
    }
    if (n == 0) return;
    _stable_last = _unstable[n - 1].index;
    _unstable.erase(_unstable.begin(), _unstable.begin() + static_cast<std::ptrdiff_t>(n));
    _handed -= n;
}

void RaftLog::snapshot_persisted(Index snapshot_index) {
    if (_snapshot && _snapshot->meta.index == snapshot_index) {
        _snapshot.reset();
        _applied = std::max(_applied, snapshot_index);
    }
}

bool RaftLog::has_committed_to_apply() const {
    return !_snapshot && _applied < std::min(_committed, _stable_last);
}

std::vector<Entry> RaftLog::take_committed(size_t max_bytes) {
    std::vector<Entry> out;
    if (!has_committed_to_apply()) return out;
    _storage.entries(_applied, std::min(_committed, _stable_last), max_bytes, out);
    if (!out.empty()) _applied = out.back().index;
    return out;
}

const Membership& RaftLog::membership() const {
    return _memberships.empty() ? _base_membership : _memberships.rbegin()->second;
}

Index RaftLog::membership_index() const {
    return _memberships.empty() ? _base_membership_index : _memberships.rbegin()->first;
}

const Membership& RaftLog::previous_membership() const {
    if (_memberships.size() < 2) return _base_membership;
    return std::prev(_memberships.end(), 2)->second;
}

const Membership& RaftLog::membership_at(Index index) const {
    auto after = _memberships.upper_bound(index);
    return after == _memberships.begin() ? _base_membership : std::prev(after)->second;
}

void RaftLog::track_memberships(const std::vector<Entry>& entries) {
    for (const Entry& e : entries) {
        if (e.type != EntryType::membership) continue;
        Membership m;
        // The leader validated the change before appending it; a bad encoding
        // here means a corrupted log, which must not silently change the quorum.
        [[maybe_unused]] bool ok = Membership::decode(e.data, m);
        assert(ok);
        _memberships[e.index] = std::move(m);
    }
}

}  // namespace fjord::raft
