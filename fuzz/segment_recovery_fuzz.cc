// Fuzzes recovery and reads of a partition log from arbitrary bytes on disk.
//
// The input is split on kSeparator into up to five parts, each written into a
// SimFileSystem under /p/topic-0 before PartitionLog::open():
//   0  00000000000000000000.log       (the whole input when there is no separator)
//   1  00000000000000000000.index
//   2  a second segment's .log, named after the baseOffset in its first 8 bytes
//      (its low 48 bits; 1 when shorter or 0)
//   3  that segment's .index
//   4  log-start-offset
// Then every offset from the log start to its end (or a bounded sample of them
// when the range is huge) is read with small, medium and large max_bytes, each
// slice must consist of whole batches that pass
// validate_batch. Finally one batch is appended and read back.
//
// Traps (so libFuzzer records a crash) if the log serves anything invalid.
// For a log of one segment it also checks read()'s offset contract: the slice
// holds the offset asked for, its batches are contiguous and match
// first/next_offset, and a refused offset is refused as `corrupt`.
// FJORD_FUZZ_STRICT=1 checks that contract for every log. Sealed segments are
// trusted at open and only their CRCs are checked as they are read, which
// leaves baseOffset out: today strict mode fails within seconds on a sealed
// segment whose batches do not start at the offsets its name and index say.
//
// `fjord-fuzz-segment-recovery --write-seeds=DIR` writes a seed corpus (valid
// logs written by PartitionLog itself, some torn or damaged) and exits.
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/big_endian.h"
#include "storage/partition_log.h"
#include "storage/record_batch.h"
#include "storage/sim_file_system.h"

namespace {

using namespace fjord::storage;

constexpr std::string_view kSeparator = "\n--fjord-part--\n";
const std::string kDir = "/p/topic-0";
constexpr int64_t kMaxOffsetsEveryOne = 2048;  // ranges up to this size: read every offset
constexpr int kMaxSteps = 4096;                // otherwise: at most this many batches walked

bool g_strict_everywhere = false;  // FJORD_FUZZ_STRICT=1
bool g_strict = false;             // for the current input

#define FUZZ_CHECK(cond)                                                                                  \
    do {                                                                                                  \
        if (!(cond)) {                                                                                    \
            std::fprintf(stderr, "segment_recovery_fuzz: check failed: %s (line %d)\n", #cond, __LINE__); \
            __builtin_trap();                                                                             \
        }                                                                                                 \
    } while (0)

std::vector<std::string_view> split(std::string_view in) {
    std::vector<std::string_view> parts;
    while (parts.size() < 4) {
        size_t at = in.find(kSeparator);
        if (at == std::string_view::npos) break;
        parts.push_back(in.substr(0, at));
        in.remove_prefix(at + kSeparator.size());
    }
    parts.push_back(in);
    return parts;
}

void write(SimFileSystem& fs, const std::string& name, std::string_view bytes) {
    auto f = fs.open(join_path(kDir, name), true);
    FUZZ_CHECK(f.has_value());
    FUZZ_CHECK((*f)->append(bytes).has_value());
    FUZZ_CHECK((*f)->sync().has_value());
}

// The slice read at `asked` must be whole, valid batches.
void check_slice(const ReadSlice& s, int64_t asked, size_t max_bytes) {
    FUZZ_CHECK(s.length > 0);  // read() below the end returns a batch or an error
    const std::string& bytes = s.bytes;
    FUZZ_CHECK(bytes.size() == s.length);
    size_t pos = 0;
    int64_t expect = s.first_offset;
    int64_t last = 0;
    size_t batches = 0;
    while (pos < bytes.size()) {
        auto h = validate_batch(std::string_view(bytes).substr(pos));
        FUZZ_CHECK(h.has_value());
        FUZZ_CHECK(h->size <= bytes.size() - pos);
        if (g_strict) {
            FUZZ_CHECK(h->base_offset == expect);
            FUZZ_CHECK(!__builtin_add_overflow(h->base_offset, h->last_offset_delta, &last));
            FUZZ_CHECK(!__builtin_add_overflow(last, 1, &expect));
        }
        pos += h->size;
        ++batches;
    }
    // At most max_bytes, unless a single batch is larger.
    FUZZ_CHECK(batches == 1 || s.length <= max_bytes);
    if (g_strict) {
        FUZZ_CHECK(expect == s.next_offset);
        FUZZ_CHECK(s.first_offset <= asked && asked < s.next_offset);
    }
}

// Reads `offset` with max_bytes 1 (one batch) and, when `all_sizes`, also with
// a few hundred bytes and 64 KiB; returns the offset after the first batch
// served, or -1 when the log refused the offset.
int64_t read_at(PartitionLog& log, int64_t offset, bool all_sizes) {
    int64_t next = -1;
    for (size_t max_bytes : {size_t{1}, size_t{300}, size_t{1} << 16}) {
        if (max_bytes > 1 && !all_sizes) break;
        auto r = log.read(offset, max_bytes);
        if (!r) {
            if (g_strict) FUZZ_CHECK(r.error().code == StorageErrc::corrupt);
            continue;
        }
        check_slice(*r, offset, max_bytes);
        if (max_bytes == 1) next = r->next_offset;
    }
    return next;
}

void run(std::string_view input) {
    std::vector<std::string_view> parts = split(input);
    SimFileSystem fs(1);
    FUZZ_CHECK(fs.create_dirs(kDir).has_value());
    write(fs, segment_file_name(0, ".log"), parts[0]);
    if (parts.size() > 1) write(fs, segment_file_name(0, ".index"), parts[1]);
    int64_t second_base = -1;
    if (parts.size() > 2) {
        // A segment is named after its first batch's baseOffset.
        second_base = 1;
        if (parts[2].size() >= 8) {
            second_base =
                static_cast<int64_t>(fjord::be::load64(parts[2].data()) & ((uint64_t{1} << 48) - 1));
        }
        if (second_base == 0) second_base = 1;
        write(fs, segment_file_name(second_base, ".log"), parts[2]);
        if (parts.size() > 3) write(fs, segment_file_name(second_base, ".index"), parts[3]);
    }
    if (parts.size() > 4) write(fs, "log-start-offset", parts[4]);

    LogConfig config;
    config.log = [](const std::string&) {};
    config.index_interval_bytes = std::array<uint32_t, 3>{0, 64, 4096}[input.size() % 3];
    config.segment_bytes = 1 << 20;
    auto opened = PartitionLog::open(fs, kDir, config, nullptr, 0);
    if (!opened) return;
    PartitionLog& log = **opened;
    // One segment is the active one, checked batch by batch (offsets included)
    // at open: there read()'s offset contract must hold too.
    g_strict = g_strict_everywhere || log.segment_count() == 1;
    const int64_t start = log.start_offset();
    const int64_t end = log.next_offset();
    FUZZ_CHECK(start >= 0 && end >= 0);
    FUZZ_CHECK(log.durable_offset() == end);

    // Beyond the end: an empty slice at the end, out_of_range past it.
    if (start <= end) {
        auto at_end = log.read(end, 1 << 16);
        FUZZ_CHECK(at_end.has_value() && at_end->length == 0 && at_end->bytes.empty());
    }
    if (end < INT64_MAX) FUZZ_CHECK(!log.read(end + 1, 1).has_value());
    if (start > 0) FUZZ_CHECK(!log.read(start - 1, 1).has_value());

    if (start < end && end - start <= kMaxOffsetsEveryOne) {
        // Every offset; all sizes where a batch starts (and wherever a read
        // failed, so the next offset may start one).
        int64_t batch_start = start;
        for (int64_t o = start; o < end; ++o) {
            bool at_start = o == batch_start;
            int64_t next = read_at(log, o, at_start);
            if (at_start) batch_start = next > o ? next : o + 1;
        }
    } else if (start < end) {
        // Huge offset ranges (lastOffsetDelta can be 2^31): walk the batches,
        // probing the first, middle and last offset of each, and restart at
        // the second segment if the walk stops early.
        std::vector<int64_t> restarts{start};
        if (second_base > start && second_base < end) restarts.push_back(second_base);
        int steps = 0;
        for (int64_t o : restarts) {
            while (o < end && steps++ < kMaxSteps) {
                int64_t next = read_at(log, o, true);
                if (next <= o || next > end) break;
                if (next - o > 2) read_at(log, o + (next - o) / 2, true);
                if (next - o > 1) read_at(log, next - 1, true);
                o = next;
            }
        }
    }

    // The recovered log takes appends at its end, and serves them back.
    if (!log.stopped() && end < (int64_t{1} << 62)) {
        std::string batch = encode_batch(end, 1, 0, {Record{"k", "v", 0}});
        auto appended = log.append(batch, 0);
        FUZZ_CHECK(appended.has_value() && *appended == end);
        auto back = log.read(end, 1 << 16);
        if (back) {
            check_slice(*back, end, 1 << 16);
            FUZZ_CHECK(back->bytes == batch);
        }
    }
}

// ---- seed corpus -----------------------------------------------------------

std::string slurp(SimFileSystem& fs, const std::string& path) {
    auto bytes = read_file(fs, path);
    return bytes ? *bytes : std::string();
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (i > 0) out += kSeparator;
        out += parts[i];
    }
    return out;
}

// Writes `batches` batches of `records` records of `value_bytes` through a real
// PartitionLog and returns its segment files (and index files).
std::vector<std::string> make_log(int batches, int records, size_t value_bytes, uint64_t segment_bytes,
                                  uint32_t index_interval) {
    SimFileSystem fs(7);
    LogConfig config;
    config.log = [](const std::string&) {};
    config.segment_bytes = segment_bytes;
    config.index_interval_bytes = index_interval;
    auto log = PartitionLog::open(fs, kDir, config, nullptr, 0);
    FUZZ_CHECK(log.has_value());
    for (int b = 0; b < batches; ++b) {
        std::vector<Record> rs;
        for (int r = 0; r < records; ++r) {
            rs.push_back(Record{"key-" + std::to_string(r),
                                std::string(value_bytes, static_cast<char>('a' + b % 26)), r});
        }
        int64_t next = (*log)->next_offset();
        FUZZ_CHECK((*log)->append(encode_batch(next, 3, 1000 + b, rs), 0).has_value());
    }
    std::vector<std::string> files;
    auto names = fs.list(kDir);
    FUZZ_CHECK(names.has_value());
    std::vector<std::string> logs;
    for (const std::string& n : *names) {
        if (n.size() == 24 && n.ends_with(".log")) logs.push_back(n);
    }
    for (const std::string& n : logs) {
        files.push_back(slurp(fs, join_path(kDir, n)));
        files.push_back(slurp(fs, join_path(kDir, n.substr(0, 20) + ".index")));
    }
    return files;
}

void write_seeds(const std::string& dir) {
    ::mkdir(dir.c_str(), 0755);
    std::vector<std::pair<std::string, std::string>> seeds;
    auto one = make_log(1, 1, 10, 1 << 20, 4096);
    seeds.emplace_back("one-batch", one[0]);
    auto many = make_log(12, 3, 20, 1 << 20, 64);
    seeds.emplace_back("many-batches", many[0]);
    seeds.emplace_back("many-batches-with-index", join({many[0], many[1]}));
    std::string torn = many[0].substr(0, many[0].size() - 7);
    seeds.emplace_back("torn-tail", torn);
    std::string flipped = many[0];
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5A);
    seeds.emplace_back("corrupt-middle", flipped);
    auto two = make_log(10, 2, 30, 400, 64);  // rolls into several segments; keep the first two
    FUZZ_CHECK(two.size() >= 4);
    seeds.emplace_back("two-segments", join({two[0], two[1], two[2], two[3]}));
    std::string sealed_bad = two[0];
    sealed_bad[sealed_bad.size() - 5] = static_cast<char>(sealed_bad[sealed_bad.size() - 5] ^ 0x5A);
    seeds.emplace_back("two-segments-sealed-corrupt", join({sealed_bad, two[1], two[2], two[3]}));
    seeds.emplace_back("two-segments-start-offset", join({two[0], two[1], two[2], two[3], "2"}));
    auto big = make_log(3, 2, 2000, 1 << 20, 4096);
    seeds.emplace_back("large-batches", big[0]);
    for (const auto& [name, bytes] : seeds) {
        std::string path = dir + "/" + name;
        FILE* f = std::fopen(path.c_str(), "wb");
        FUZZ_CHECK(f != nullptr);
        FUZZ_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size());
        std::fclose(f);
    }
    std::fprintf(stderr, "wrote %zu seeds to %s\n", seeds.size(), dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    const char* strict = std::getenv("FJORD_FUZZ_STRICT");
    g_strict_everywhere = strict != nullptr && std::strcmp(strict, "0") != 0;
    for (int i = 1; i < *argc; ++i) {
        std::string_view arg = (*argv)[i];
        if (arg.starts_with("--write-seeds=")) {  // libFuzzer ignores flags starting with "--"
            write_seeds(std::string(arg.substr(14)));
            std::exit(0);
        }
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    run(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
