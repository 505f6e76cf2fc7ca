// Helpers shared by the partition-log tests: batch construction, inline syncs,
// captured log lines, and a reader that walks a log and checks every slice.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seeded_rng.h"
#include "storage/partition_log.h"
#include "storage/record_batch.h"
#include "storage/sim_file_system.h"

namespace fjord::storage::testing {

using Rng = fjord::testing::SeededRng;

// A batch of `records` records at `base`, each value `value_size` bytes whose
// content depends on `salt` (so batches at the same offset differ).
inline std::string make_batch(int64_t base, int records = 1, size_t value_size = 16, int64_t timestamp = 1000,
                              uint64_t salt = 0, int32_t epoch = 1) {
    std::vector<Record> rs;
    for (int i = 0; i < records; ++i) {
        Record r;
        r.key = "key-" + std::to_string(base + i);
        r.value.assign(value_size, static_cast<char>('a' + (salt + static_cast<uint64_t>(i)) % 26));
        if (!r.value.empty()) r.value[0] = static_cast<char>(salt & 0x7F);
        r.timestamp_delta = i;
        rs.push_back(std::move(r));
    }
    return encode_batch(base, epoch, timestamp, rs);
}

// A batch of random records.
inline std::string random_batch(Rng& rng, int64_t base, int64_t timestamp, size_t max_records,
                                size_t max_value) {
    std::vector<Record> rs(rng.range(1, max_records));
    int64_t delta = 0;
    for (Record& r : rs) {
        r.key.resize(rng.range(0, 8));
        for (char& c : r.key) c = static_cast<char>(rng.next());
        r.value.resize(rng.range(0, max_value));
        for (char& c : r.value) c = static_cast<char>(rng.next());
        r.timestamp_delta = delta;
        delta += static_cast<int64_t>(rng.range(0, 3));
    }
    return encode_batch(base, static_cast<int32_t>(rng.range(0, 5)), timestamp, rs);
}

inline int64_t last_offset_of(std::string_view batch) {
    auto h = parse_batch_header(batch);
    return h ? h->last_offset() : -1;
}

// Captures LogConfig::log lines; copies share the same buffer.
class LogLines {
  public:
    Logger logger() const {
        auto lines = _lines;
        return [lines](const std::string& line) { lines->push_back(line); };
    }
    const std::vector<std::string>& lines() const { return *_lines; }
    // Whether one line contains every one of `parts`.
    bool any_contains(std::initializer_list<std::string> parts) const {
        for (const std::string& line : *_lines) {
            bool all = true;
            for (const std::string& p : parts) all = all && line.find(p) != std::string::npos;
            if (all) return true;
        }
        return false;
    }
    std::string dump() const {
        std::string out;
        for (const std::string& line : *_lines) out += "  " + line + "\n";
        return out;
    }
    void clear() { _lines->clear(); }

  private:
    std::shared_ptr<std::vector<std::string>> _lines = std::make_shared<std::vector<std::string>>();
};

// sync() on a log without a Flusher completes before it returns.
inline StorageResult<int64_t> sync_inline(PartitionLog& log) {
    std::optional<StorageResult<int64_t>> out;
    log.sync([&out](StorageResult<int64_t> r) { out.emplace(std::move(r)); });
    if (!out) return storage_error(StorageErrc::io_error, "sync did not complete inline");
    return std::move(*out);
}

struct StoredBatch {
    int64_t base;
    int64_t next;  // last offset + 1
    std::string bytes;
};

// Splits `bytes` into batches, each of which must pass validate_batch.
inline ::testing::AssertionResult split_batches(std::string_view bytes, std::vector<StoredBatch>& out) {
    size_t at = 0;
    while (at < bytes.size()) {
        auto h = validate_batch(bytes.substr(at));
        if (!h) {
            return ::testing::AssertionFailure()
                   << "invalid batch at byte " << at << " of a slice: " << to_string(h.error());
        }
        out.push_back({h->base_offset, h->last_offset() + 1, std::string(bytes.substr(at, h->size))});
        at += h->size;
    }
    return ::testing::AssertionSuccess();
}

// Reads one slice at `offset` and checks it: whole valid contiguous batches,
// the first holding `offset`, matching first_offset/next_offset.
inline ::testing::AssertionResult read_checked(PartitionLog& log, int64_t offset, size_t max_bytes,
                                               std::vector<StoredBatch>& out) {
    auto slice = log.read(offset, max_bytes);
    if (!slice) {
        return ::testing::AssertionFailure()
               << "read(" << offset << ") failed: " << static_cast<int>(slice.error().code) << " "
               << slice.error().detail;
    }
    const std::string* bytes = &slice->bytes;
    if (bytes->size() != slice->length) {
        return ::testing::AssertionFailure()
               << "slice at " << offset << " has " << bytes->size() << " bytes but length " << slice->length;
    }
    std::vector<StoredBatch> batches;
    if (auto r = split_batches(*bytes, batches); !r) return r << " (read at offset " << offset << ")";
    if (batches.empty()) {
        if (offset != log.next_offset()) return ::testing::AssertionFailure() << "empty slice at " << offset;
        return ::testing::AssertionSuccess();
    }
    if (batches.front().base != slice->first_offset || batches.back().next != slice->next_offset) {
        return ::testing::AssertionFailure()
               << "slice at " << offset << " claims [" << slice->first_offset << ", " << slice->next_offset
               << ") but holds [" << batches.front().base << ", " << batches.back().next << ")";
    }
    if (!(batches.front().base <= offset && offset < batches.front().next)) {
        return ::testing::AssertionFailure() << "slice at " << offset << " starts with batch ["
                                             << batches.front().base << ", " << batches.front().next << ")";
    }
    for (size_t i = 1; i < batches.size(); ++i) {
        if (batches[i].base != batches[i - 1].next) {
            return ::testing::AssertionFailure()
                   << "slice at " << offset << " is not contiguous at " << batches[i].base;
        }
    }
    if (batches.size() > 1 && bytes->size() > max_bytes) {
        return ::testing::AssertionFailure()
               << "slice at " << offset << " exceeds max_bytes with several batches";
    }
    for (auto& b : batches) out.push_back(std::move(b));
    return ::testing::AssertionSuccess();
}

// Every batch from the log start to its end, read `max_bytes` at a time.
inline ::testing::AssertionResult read_all(PartitionLog& log, std::vector<StoredBatch>& out,
                                           size_t max_bytes = 1 << 20) {
    int64_t offset = log.start_offset();
    while (offset < log.next_offset()) {
        std::vector<StoredBatch> got;
        if (auto r = read_checked(log, offset, max_bytes, got); !r) return r;
        if (got.empty()) return ::testing::AssertionFailure() << "no batch at " << offset;
        offset = got.back().next;
        for (auto& b : got) out.push_back(std::move(b));
    }
    if (offset != log.next_offset()) {
        return ::testing::AssertionFailure()
               << "the last batch ends at " << offset << " but next_offset() is " << log.next_offset();
    }
    return ::testing::AssertionSuccess();
}

inline std::vector<std::string> list_dir(FileSystem& fs, const std::string& dir) {
    auto names = fs.list(dir);
    return names ? *names : std::vector<std::string>{};
}

inline uint64_t file_size(FileSystem& fs, const std::string& path) {
    auto f = fs.open(path, false);
    return f ? (*f)->size() : 0;
}

inline std::string file_bytes(FileSystem& fs, const std::string& path) {
    auto bytes = read_file(fs, path);
    return bytes ? *bytes : std::string();
}

// Replaces a file's visible and durable content.
inline void overwrite_file(FileSystem& fs, const std::string& path, std::string_view bytes) {
    auto f = fs.open(path, true);
    ASSERT_TRUE(f);
    ASSERT_TRUE((*f)->truncate(0));
    ASSERT_TRUE((*f)->append(bytes));
    ASSERT_TRUE((*f)->sync());
}

}  // namespace fjord::storage::testing
