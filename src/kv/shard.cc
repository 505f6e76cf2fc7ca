#include "kv/shard.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <limits>
#include <memory>

#include "common/wall_clock.h"
#include "storage/record_batch.h"

namespace fjord::kv {

namespace {

constexpr size_t kMaxBatchRecords = 4096;
constexpr size_t kMaxBatchBytes = 1u << 20;
constexpr int64_t kRaw = std::numeric_limits<int64_t>::min();  // a "now" at which nothing has expired

}  // namespace

void KvShard::apply(const raft::Entry& entry) {
    auto records = storage::record_views(entry.data.view());
    if (!records) {
        // Only a Kafka client producing into the shard's topic could cause this; every replica skips it
        // alike.
        spdlog::error("kv shard {}: entry {} is not a valid record batch ({}); skipped", _partition,
                      entry.index.value, storage::to_string(records.error()));
    } else {
        for (const storage::RecordView& record : *records) {
            if (auto decoded = decode_effects(record.value, _decoded); !decoded) {
                spdlog::error("kv shard {}: entry {} holds a malformed record ({}); skipped", _partition,
                              entry.index.value, decoded.error());
                continue;
            }
            for (const EffectView& e : _decoded) _store.apply(e);
        }
        _decoded.clear();  // its views point into the entry, which the caller frees
    }
    prune(entry.index.value);
}

bool KvShard::restore(std::string_view image) {
    forget_overlay();
    return _store.restore(image);
}

const Value* KvShard::find(std::string_view key, int64_t now_ms) const {
    if (auto it = _overlay.find(key); it != _overlay.end()) {
        const auto& v = it->second.value;
        return v && !v->expired(now_ms) ? &*v : nullptr;
    }
    if (_flush_seq) return nullptr;
    return _store.find(key, now_ms);
}

Reply KvShard::write(cluster::Replica& replica, const Command& command, int64_t now_ms, const Limits& limits,
                     bool local_only, WriteDone done) {
    if (replica.term() != _overlay_term) {
        forget_overlay();
        _overlay_term = replica.term();
    }
    Evaluation ev = evaluate_write(command, *this, now_ms, limits);
    // Even a write that changes nothing (SETNX on an existing key, an error
    // from the value it read) takes a record: its answer rests on the writes
    // before it, so it may be given only once they are committed too.
    stage(std::move(ev.effects), local_only, std::move(done), replica);
    return std::move(ev.reply);
}

void KvShard::expire_keys(cluster::Replica& replica, int64_t now_ms, size_t max) {
    if (replica.term() != _overlay_term) {
        forget_overlay();
        _overlay_term = replica.term();
    }
    for (const std::string& key : _store.expired_keys(now_ms, max)) {
        const Value* raw = find(key, kRaw);
        if (!raw || !raw->expired(now_ms)) continue;  // already deleted, or written again since
        stage(
            {Effect{Effect::Kind::del, key, {}, 0}}, false,
            [](const Result<uint64_t, cluster::ProposeError>&) {}, replica);
    }
}

void KvShard::stage(std::vector<Effect> effects, bool local_only, WriteDone done, cluster::Replica& replica) {
    if (!_open.records.empty() && _open.local_only != local_only) flush(replica);
    if (_open.records.empty()) {
        _open.seq = _next_seq++;
        _open.local_only = local_only;
    }
    auto remember = [this](const std::string& key) {
        auto it = _overlay.find(key);
        if (it != _overlay.end() && it->second.seq == _open.seq) return;  // written by this batch already
        _open.undo.emplace_back(key, it == _overlay.end() ? std::nullopt : std::optional(it->second));
    };
    // The record first: the overlay then takes the values over.
    std::string record;
    encode_effects(effects, record);
    for (Effect& e : effects) {
        switch (e.kind) {
            case Effect::Kind::put:
                remember(e.key);
                _overlay[e.key] = OverlayEntry{Value{std::move(e.value), e.expire_at_ms}, _open.seq};
                break;
            case Effect::Kind::del:
                remember(e.key);
                _overlay[e.key] = OverlayEntry{std::nullopt, _open.seq};
                break;
            case Effect::Kind::expire: {
                const Value* raw = find(e.key, kRaw);
                if (!raw) break;
                Value changed{raw->data, e.expire_at_ms};
                remember(e.key);
                _overlay[e.key] = OverlayEntry{std::move(changed), _open.seq};
                break;
            }
            case Effect::Kind::flush:
                if (!_open.undo_flush) _open.undo_flush = _flush_seq;
                for (auto& [key, entry] : _overlay) {
                    remember(key);
                    entry = OverlayEntry{std::nullopt, _open.seq};
                }
                _flush_seq = _open.seq;
                break;
        }
    }
    _open.bytes += record.size();
    _open.records.push_back(std::move(record));
    _open.waiters.push_back(std::move(done));
    if (_open.records.size() >= kMaxBatchRecords || _open.bytes >= kMaxBatchBytes) flush(replica);
}

void KvShard::flush(cluster::Replica& replica) {
    if (_open.records.empty()) return;
    // Evaluated against another term's overlay: those answers may be wrong now.
    if (replica.term() != _overlay_term || !replica.is_leader()) return forget_overlay();
    OpenBatch batch = std::move(_open);
    _open = OpenBatch{};
    std::vector<storage::Record> records;
    records.reserve(batch.records.size());
    for (std::string& r : batch.records) records.push_back(storage::Record{{}, std::move(r), 0});
    auto records_count = static_cast<uint32_t>(records.size());
    auto waiters = std::make_shared<std::vector<WriteDone>>(std::move(batch.waiters));
    uint64_t index = replica.propose(
        storage::encode_batch(0, 0, wall_clock_ms(), records), records_count,
        [waiters](Result<cluster::Appended, cluster::ProposeError> r) {
            for (WriteDone& w : *waiters) {
                if (r) {
                    w(static_cast<uint64_t>(r->last_offset + 1));
                } else {
                    w(make_unexpected(r.error()));
                }
            }
        },
        batch.local_only);
    if (index == 0) {
        // Refused outright: nothing was appended, so what the batch wrote into the overlay is undone.
        for (auto it = batch.undo.rbegin(); it != batch.undo.rend(); ++it) {
            if (it->second) {
                _overlay[it->first] = *it->second;
            } else {
                _overlay.erase(it->first);
            }
        }
        if (batch.undo_flush) _flush_seq = *batch.undo_flush;
        return;
    }
    bool flushes = _flush_seq == batch.seq;
    std::vector<std::string> keys;
    keys.reserve(batch.undo.size());
    for (auto& written : batch.undo) keys.push_back(std::move(written.first));
    _in_flight.push_back(InFlight{batch.seq, index, std::move(keys), flushes});
}

void KvShard::prune(uint64_t applied_index) {
    while (!_in_flight.empty() && _in_flight.front().index <= applied_index) {
        InFlight& done = _in_flight.front();
        for (const std::string& key : done.keys) {
            auto it = _overlay.find(key);
            if (it != _overlay.end() && it->second.seq == done.seq) _overlay.erase(it);
        }
        if (done.flushes && _flush_seq == done.seq) _flush_seq.reset();
        _in_flight.pop_front();
    }
}

void KvShard::forget_overlay() {
    _overlay.clear();
    _flush_seq.reset();
    _in_flight.clear();
    if (_open.records.empty()) return;
    auto waiters = std::move(_open.waiters);
    _open = OpenBatch{};
    for (WriteDone& w : waiters)
        w(make_unexpected(cluster::ProposeError{cluster::ProposeErrc::lost, 0, "leadership changed"}));
}

}  // namespace fjord::kv
