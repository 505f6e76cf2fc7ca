// A partition's log on disk: a directory `TOPIC-PARTITION` of segments, each
// a file of Kafka record batches plus its sparse offset index, as Kafka lays
// them out. Appends are buffered writes; durability comes from sync(), which
// batches every append made while the previous fsync ran (group commit) and
// runs the fsync on the Flusher's thread. That thread takes the next round
// itself as soon as an fsync returns (see SyncFeed), so a busy event loop
// does not leave the disk idle between flushes.
//
// Flush policies (LogConfig::flush), and what each risks:
//   every_append  the owner syncs after each append (Raft's safety needs it:
//                 a replica must not acknowledge what it has not made durable);
//                 a crash loses nothing acknowledged.
//   interval      the owner syncs every `flush_interval_ms`; a power loss of
//                 this node loses up to that much (a process crash loses
//                 nothing: the page cache survives it), which the other
//                 replicas still hold. A simultaneous power loss of a majority
//                 loses it for good.
//   never         the page cache decides (Kafka's default): replication is the
//                 only durability; a power loss of all replicas loses data.
//
// Failure handling: a full disk fails the append with `no_space` and writes
// nothing; appends succeed again once space returns. A failed fsync is
// different: after it the page cache can no longer be trusted, so the log is
// never synced again and refuses every later append (`stopped`); it keeps
// serving reads, and a restart recovers from what the disk really holds.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/file_system.h"
#include "storage/flusher.h"
#include "storage/segment.h"
#include "storage/storage_error.h"

namespace fjord::storage {

enum class FlushPolicy : uint8_t { every_append, interval, never };

struct LogConfig {
    uint64_t segment_bytes = 1 << 30;             // roll when the active segment would exceed this
    int64_t segment_ms = 7LL * 24 * 3600 * 1000;  // ... or is older than this
    uint32_t index_interval_bytes = 4096;
    // The active segment's file grows this much at a time (capped by
    // segment_bytes), so that an fsync after an append need not also write the
    // file's length; 0: no preallocation.
    uint64_t preallocate_bytes = 4 << 20;
    int64_t retention_bytes = -1;                   // -1: no size limit
    int64_t retention_ms = 7LL * 24 * 3600 * 1000;  // -1: no time limit
    FlushPolicy flush = FlushPolicy::every_append;
    int64_t flush_interval_ms = 1000;
    Logger log;  // where recovery and errors are reported
};

class PartitionLog {
  public:
    // Opens (creating if needed) the log in `dir` and recovers it: the last
    // segment is checked batch by batch and a torn or corrupt tail is cut off.
    // `flusher` may be null: then sync() runs inline.
    static StorageResult<std::unique_ptr<PartitionLog>> open(FileSystem& fs, std::string dir,
                                                             LogConfig config, Flusher* flusher,
                                                             int64_t now_ms);
    ~PartitionLog();

    // Appends one batch whose baseOffset must be next_offset() (the leader
    // stamps it). Returns its last offset. Not durable until a sync covers it.
    StorageResult<int64_t> append(std::string_view batch, int64_t now_ms);
    // Whole batches from the one holding `offset`, at most `max_bytes` (at
    // least one batch); an empty slice at the end of the log.
    StorageResult<ReadSlice> read(int64_t offset, size_t max_bytes);
    // Removes every batch from `offset` (a batch boundary) on: a follower's
    // diverged tail.
    StorageResult<Ok> truncate_suffix(int64_t offset);
    // Advances the log start offset to `offset` and deletes the segments
    // wholly below it, all on the calling thread (recovery to a snapshot;
    // compaction and retention use the halves below).
    StorageResult<Ok> truncate_prefix(int64_t offset);
    // truncate_prefix in two halves, so that the disk's half can run off the
    // loop: cut_prefix advances the start to `offset` (at most next_offset())
    // and lets go of the segments wholly below it, in memory only; remove_cut
    // then deletes their files and records the new start. remove_cut touches
    // nothing but the file system, so any thread may run it; until it has, a
    // restart finds the log as it was before the cut.
    struct PrefixCut {
        std::string dir;
        int64_t start;
        std::vector<std::string> files;  // of the segments let go
    };
    StorageResult<PrefixCut> cut_prefix(int64_t offset);
    static StorageResult<Ok> remove_cut(FileSystem& fs, const PrefixCut& cut);
    // Drops everything and starts again, empty, at `offset` (truncate_prefix
    // past the end; recovery finding the log's start past its end, or a batch
    // straddling the snapshot).
    StorageResult<Ok> reset(int64_t offset);
    // reset() of a log its caller does not hold open: deletes every segment
    // in `dir`, begins an empty one at `offset`, and opens the result. It
    // touches only the file system and the log it returns, so another thread
    // may run it while the owner still holds the old log, provided nothing
    // writes to that one meanwhile (a replica replacing its log by a snapshot
    // from the leader, off the loop).
    static StorageResult<std::unique_ptr<PartitionLog>> open_empty_at(FileSystem& fs, std::string dir,
                                                                      LogConfig config, Flusher* flusher,
                                                                      int64_t offset, int64_t now_ms);
    // Where retention would start the log now: the base offset of the first
    // segment it keeps (whole segments only; never the active one). The
    // owner cuts the log there (a replica does it as it compacts below a
    // snapshot).
    int64_t retention_point(int64_t now_ms) const;

    using SyncDone = std::function<void(StorageResult<int64_t>)>;
    // Makes every append so far durable; `done` gets the offset below which
    // all is durable. Syncs requested while one runs share the next fsync.
    void sync(SyncDone done);
    // Syncs a file beside the log (a snapshot being staged) on the Flusher's
    // thread for such files (Flusher::sync_apart); inline without a Flusher.
    // `done` runs on the owner's thread.
    void sync_file(std::shared_ptr<File> file, Flusher::Done done);
    // Syncs every written file on the calling thread (start-up, recovery).
    StorageResult<Ok> sync_now();
    // Whether the policy calls for a sync now.
    bool needs_sync(int64_t now_ms) const;
    // Starts a sync when the policy calls for one (for `interval`: once
    // flush_interval_ms has passed since the last sync it started); whether it did.
    bool sync_if_due(int64_t now_ms, SyncDone done);

    int64_t start_offset() const { return _start; }
    int64_t next_offset() const;
    int64_t durable_offset() const { return _durable; }
    bool stopped() const { return _stopped; }
    const std::string& dir() const { return _dir; }
    const LogConfig& config() const { return _config; }
    // Takes new limits (a topic's configs changed); keeps the logger.
    void reconfigure(LogConfig config) {
        config.log = std::move(_config.log);
        _config = std::move(config);
    }
    size_t segment_count() const { return _segments.size(); }
    uint64_t size_bytes() const;

  private:
    PartitionLog(FileSystem& fs, std::string dir, LogConfig config, Flusher* flusher);
    StorageResult<Ok> roll(int64_t now_ms);
    uint64_t preallocation() const { return std::min(_config.preallocate_bytes, _config.segment_bytes); }
    struct SyncFeed;
    struct Waiter {
        uint64_t writes;  // the writes this waiter needs covered
        SyncDone done;
    };
    void mark_dirty(const std::shared_ptr<File>& file);
    void forget_dirty(const std::shared_ptr<File>& file);
    static std::optional<Flusher::Round> take_round(const std::shared_ptr<SyncFeed>& feed);
    // Creates the empty segment at `offset` (syncing the directory, which
    // makes earlier removals there durable too) and records `offset` as the
    // log's start.
    static StorageResult<std::unique_ptr<Segment>> begin_empty_at(FileSystem& fs, const std::string& dir,
                                                                  int64_t offset, uint32_t index_interval,
                                                                  int64_t now_ms);
    void finish_sync(uint64_t writes, int64_t target, uint64_t truncations, IoResult<Ok> result);
    Segment* segment_for(int64_t offset);
    StorageResult<Ok> remove_front_segment();

    FileSystem& _fs;
    std::string _dir;
    LogConfig _config;
    Flusher* _flusher;
    std::vector<std::unique_ptr<Segment>> _segments;  // by base offset; the last is active
    int64_t _start{0};
    int64_t _durable{0};
    int64_t _last_sync_ms{0};
    bool _stopped{false};
    uint64_t _truncations{0};         // a sync started before a suffix truncation proves nothing after it
    uint64_t _writes{0};              // appends and truncations so far
    uint64_t _synced_writes{0};       // the writes covered by the last sync completed here
    std::deque<Waiter> _waiters;      // by `writes`
    std::shared_ptr<SyncFeed> _feed;  // shared with the Flusher's thread
};

}  // namespace fjord::storage
