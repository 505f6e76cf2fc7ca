// One key-value shard on one node: the state machine its replica feeds
// (every replica applies the same effects in log order), and, while this node
// leads the shard, the leader's side of writes.
//
// The leader evaluates a write against the applied state plus the writes it
// has proposed that are not applied yet (the "overlay"), so that pipelined
// writes to one key see each other (INCR after INCR) without waiting for a
// commit. This is only sound once every entry of earlier terms is applied,
// so a new leader evaluates no write until it applied an entry of its own
// term. Writes staged until the next flush() share one record batch (one
// Raft entry): one record per command.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cluster/replica.h"
#include "kv/commands.h"
#include "kv/kv_store.h"

namespace fjord::kv {

// Where a command's record landed (its batch's Raft index), or why it did not.
using WriteDone = std::function<void(Result<uint64_t, cluster::ProposeError>)>;

class KvShard final : public cluster::StateMachine, private KeyView {
  public:
    KvShard(uint64_t group, int32_t partition) : _group(group), _partition(partition) {}

    // StateMachine
    void apply(const raft::Entry& entry) override;
    bool has_image() const override { return true; }
    std::string image() const override { return _store.image(); }
    bool begin_image() override {
        _store.begin_image();
        return true;
    }
    std::optional<std::string> image_step() override {
        return _store.continue_image(kImageKeysPerStep, kImageBytesPerStep);
    }
    void abandon_image() override { _store.abandon_image(); }
    bool restore(std::string_view image) override;

    uint64_t group() const { return _group; }
    int32_t partition() const { return _partition; }
    const KvStore& store() const { return _store; }

    // Evaluates a write on the leader (`replica` must lead and have applied
    // an entry of its term) and adds its record to the open batch; `done` runs
    // once the batch is committed (or, with `local_only`, written by the
    // leader), or failed. The reply is final only if `done` succeeds.
    Reply write(cluster::Replica& replica, const Command& command, int64_t now_ms, const Limits& limits,
                bool local_only, WriteDone done);
    // Deletes keys past their expiry (decided by this leader's clock), at most `max`.
    void expire_keys(cluster::Replica& replica, int64_t now_ms, size_t max);
    // Proposes the open batch, if any (KvService calls it once the loop has
    // polled its sockets after the batch opened).
    void flush(cluster::Replica& replica);
    bool has_open_batch() const { return !_open.records.empty(); }

  private:
    // About a millisecond of the event loop per step (0.2 µs per small key,
    // or a few hundred µs to copy a MiB of values).
    static constexpr size_t kImageKeysPerStep = 4096;
    static constexpr size_t kImageBytesPerStep = 1 << 20;
    struct OverlayEntry {
        std::optional<Value> value;  // none: deleted
        uint64_t seq;                // the batch that wrote it last
    };
    struct OpenBatch {
        uint64_t seq{0};
        bool local_only{false};
        std::vector<std::string> records;
        size_t bytes{0};  // of `records`
        std::vector<WriteDone> waiters;
        // Each key the batch wrote, once, with what the overlay held before:
        // to undo a refused batch, and to prune the overlay once it applies.
        std::vector<std::pair<std::string, std::optional<OverlayEntry>>> undo;
        std::optional<std::optional<uint64_t>> undo_flush;
    };
    struct InFlight {
        uint64_t seq;
        uint64_t index;
        std::vector<std::string> keys;
        bool flushes;
    };

    // KeyView: the applied state with the overlay on top.
    const Value* find(std::string_view key, int64_t now_ms) const override;
    void stage(std::vector<Effect> effects, bool local_only, WriteDone done, cluster::Replica& replica);
    void forget_overlay();
    void prune(uint64_t applied_index);

    uint64_t _group;
    int32_t _partition;
    KvStore _store;
    uint64_t _overlay_term{0};
    // Looked up by string_view, without building a key string each time.
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
    };
    std::unordered_map<std::string, OverlayEntry, KeyHash, std::equal_to<>> _overlay;
    std::optional<uint64_t> _flush_seq;  // a FLUSHDB proposed, not yet applied
    std::deque<InFlight> _in_flight;
    std::vector<EffectView> _decoded;  // apply()'s buffer, kept to spare an allocation per record
    OpenBatch _open;
    uint64_t _next_seq{1};
};

}  // namespace fjord::kv
