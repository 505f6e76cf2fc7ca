// Crash torture: thousands of seeded runs of random appends, syncs,
// truncations, restarts and power losses (with torn writes and bit flips in
// the unsynced tail) on SimFileSystem. After every crash the reopened log must
// hold every offset a completed sync reported durable, byte for byte; serve
// only whole batches that pass their CRC; end at a batch boundary; and
// reopen identically a second time.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include "storage_test_util.h"

namespace fjord::storage::testing {
namespace {

// ~1 s in Release, under a minute with ASan in Debug; FJORD_TORTURE_ITERATIONS=N for a longer soak.
constexpr uint64_t kIterations = 5000;
constexpr int kMaxRounds = 3;  // crashes per iteration
const std::string kDir = "/data/torture-0";

// What the test knows the log must hold.
struct Model {
    std::map<int64_t, std::string> batches;            // the log's batches by base offset
    std::map<int64_t, std::set<std::string>> history;  // every batch ever appended at a base offset
    int64_t start = 0;
    int64_t next = 0;
    int64_t confirmed = 0;  // every offset in [start, confirmed) was reported durable and not truncated since

    void append(const std::string& b) {
        auto h = parse_batch_header(b);
        batches[h->base_offset] = b;
        history[h->base_offset].insert(b);
        next = h->last_offset() + 1;
    }
    void truncate_suffix(int64_t offset) {
        batches.erase(batches.lower_bound(offset), batches.end());
        next = offset;
        confirmed = std::min(confirmed, offset);
    }
    void truncate_prefix(int64_t offset) {
        if (offset <= start) return;
        if (offset >= next) {
            batches.clear();
            next = confirmed = offset;
        } else {
            while (!batches.empty() && last_offset_of(batches.begin()->second) < offset) {
                batches.erase(batches.begin());
            }
        }
        start = offset;
    }
};

// The same batch but for partitionLeaderEpoch, which Kafka's CRC leaves out.
bool same_but_epoch(const std::string& a, const std::string& b) {
    return a.size() == b.size() && a.compare(0, 12, b, 0, 12) == 0 &&
           a.compare(16, a.npos, b, 16, b.npos) == 0;
}

struct Stats {
    uint64_t appends = 0;
    uint64_t syncs = 0;
    uint64_t suffix_truncations = 0;
    uint64_t prefix_truncations = 0;
    uint64_t restarts = 0;
    uint64_t crashes = 0;
    uint64_t flips = 0;
    uint64_t tails_cut = 0;               // recoveries that logged a cut tail
    uint64_t unsynced_kept = 0;           // crashes after which offsets beyond `confirmed` survived
    uint64_t rolled = 0;                  // runs that had more than one segment
    uint64_t epoch_only_differences = 0;  // unconfirmed batches whose torn byte hit the epoch
};

class Torture {
  public:
    Torture(uint64_t seed, Stats& stats, bool tracing)
        : _seed(seed), _fs(seed), _rng(seed * 0x2545F4914F6CDD1Dull + 17), _stats(stats), _tracing(tracing) {
        _config.segment_bytes = _rng.range(200, 2500);
        _config.index_interval_bytes = static_cast<uint32_t>(_rng.range(0, 400));
        _config.retention_ms = -1;
        // Half the runs preallocate: a crash then leaves zeros past the data.
        _config.preallocate_bytes = _rng.chance(50) ? 0 : _rng.range(1, 3000);
        _config.log = _lines.logger();
    }

    // Runs the whole scenario; returns an empty string or what went wrong.
    std::string run() {
        if (auto e = open_log(); !e.empty()) return e;
        int rounds = static_cast<int>(_rng.range(1, kMaxRounds));
        for (int round = 0; round < rounds; ++round) {
            _round = round;
            if (auto e = random_operations(); !e.empty()) return e;
            if (_rng.chance(35)) flip_unsynced_bytes();
            _log.reset();
            _fs.crash(/*tear=*/true);
            ++_stats.crashes;
            trace("crash; files now:" + describe_files());
            if (auto e = recover_and_check(); !e.empty()) return e;
        }
        return {};
    }

  private:
    void trace(const std::string& what) {
        if (_tracing) _trace += "  " + what + "\n";
    }

    std::string fail(const std::string& what) {
        std::ostringstream out;
        if (_tracing) out << "trace:\n" << _trace;
        out << "seed " << _seed << " round " << _round << ": " << what << " [start " << _model.start
            << ", next " << _model.next << ", confirmed " << _model.confirmed << ", segment_bytes "
            << _config.segment_bytes << ", index_interval " << _config.index_interval_bytes
            << ", preallocate " << _config.preallocate_bytes << "]";
        if (!_lines.lines().empty()) out << "\n  log lines:\n" << _lines.dump();
        return out.str();
    }

    std::string open_log() {
        auto r = PartitionLog::open(_fs, kDir, _config, nullptr, 0);
        if (!r) return fail("open failed: " + r.error().detail);
        _log = std::move(*r);
        return {};
    }

    std::string random_operations() {
        int ops = static_cast<int>(_rng.range(1, 50));
        for (int i = 0; i < ops; ++i) {
            uint64_t p = _rng.next() % 100;
            if (p < 55) {
                std::string b = random_batch(_rng, _log->next_offset(), 1000 + _log->next_offset(), 6, 160);
                auto r = _log->append(b, 0);
                if (!r) return fail("append failed: " + r.error().detail);
                if (*r != last_offset_of(b)) return fail("append returned a wrong last offset");
                _model.append(b);
                ++_stats.appends;
                trace("append [" + std::to_string(parse_batch_header(b)->base_offset) + ", " +
                      std::to_string(_model.next) + ") " + std::to_string(b.size()) + " bytes, segments " +
                      std::to_string(_log->segment_count()));
            } else if (p < 75) {
                auto r = sync_inline(*_log);
                if (!r) return fail("sync failed: " + r.error().detail);
                if (*r != _model.next || _log->durable_offset() != _model.next) {
                    return fail("sync reported " + std::to_string(*r) + ", durable_offset() " +
                                std::to_string(_log->durable_offset()));
                }
                _model.confirmed = *r;
                ++_stats.syncs;
                trace("sync -> " + std::to_string(*r));
            } else if (p < 82) {
                // A batch boundary at or after the start (the end included).
                std::vector<int64_t> cuts;
                for (const auto& [base, bytes] : _model.batches) {
                    if (base >= _model.start) cuts.push_back(base);
                }
                cuts.push_back(_model.next);
                int64_t cut = cuts[_rng.next() % cuts.size()];
                auto r = _log->truncate_suffix(cut);
                if (!r)
                    return fail("truncate_suffix(" + std::to_string(cut) + ") failed: " + r.error().detail);
                _model.truncate_suffix(cut);
                trace("truncate_suffix(" + std::to_string(cut) + "), segments " +
                      std::to_string(_log->segment_count()));
                if (_log->next_offset() != _model.next) return fail("next_offset() after truncate_suffix");
                ++_stats.suffix_truncations;
            } else if (p < 85) {
                int64_t to = static_cast<int64_t>(
                    _rng.range(static_cast<uint64_t>(_model.start), static_cast<uint64_t>(_model.next + 3)));
                auto r = _log->truncate_prefix(to);
                if (!r)
                    return fail("truncate_prefix(" + std::to_string(to) + ") failed: " + r.error().detail);
                _model.truncate_prefix(to);
                trace("truncate_prefix(" + std::to_string(to) + "), segments " +
                      std::to_string(_log->segment_count()));
                if (_log->start_offset() != _model.start || _log->next_offset() != _model.next) {
                    return fail("offsets after truncate_prefix(" + std::to_string(to) + ")");
                }
                ++_stats.prefix_truncations;
            } else if (p < 95) {
                if (_model.next == _model.start) continue;
                int64_t at = static_cast<int64_t>(
                    _rng.range(static_cast<uint64_t>(_model.start), static_cast<uint64_t>(_model.next - 1)));
                std::vector<StoredBatch> got;
                if (auto r = read_checked(*_log, at, _rng.range(1, 3000), got); !r) return fail(r.message());
                for (const StoredBatch& b : got) {
                    auto it = _model.batches.find(b.base);
                    if (it == _model.batches.end() || it->second != b.bytes) {
                        return fail("read(" + std::to_string(at) + ") served a wrong batch at " +
                                    std::to_string(b.base));
                    }
                }
            } else {
                // A process restart: nothing is lost, and everything recovered counts as durable.
                _log.reset();
                if (auto e = open_log(); !e.empty()) return e;
                if (auto e = check_exact(); !e.empty()) return "after a restart: " + e;
                _model.confirmed = _model.next;
                if (_log->durable_offset() != _model.next) return fail("durable_offset() after a restart");
                ++_stats.restarts;
                trace("restart");
            }
        }
        if (_fs.list(kDir) && segment_bases().size() > 1) ++_stats.rolled;
        return {};
    }

    std::string describe_files() {
        std::string out;
        for (const std::string& name : list_dir(_fs, kDir)) {
            out += " " + name + "=" + std::to_string(file_size(_fs, join_path(kDir, name)));
        }
        return out;
    }

    std::vector<int64_t> segment_bases() {
        std::vector<int64_t> out;
        for (const std::string& name : list_dir(_fs, kDir)) {
            if (name.size() == 24 && name.ends_with(".log")) out.push_back(std::stoll(name.substr(0, 20)));
        }
        return out;
    }

    // Bit flips in bytes of the active segment that hold unconfirmed batches
    // (never the epoch field, which no checksum covers). The batches' places
    // come from walking the file itself.
    void flip_unsynced_bytes() {
        std::vector<int64_t> bases = segment_bases();
        if (bases.empty()) return;
        std::string path = join_path(kDir, segment_file_name(bases.back(), ".log"));
        std::string bytes = file_bytes(_fs, path);
        std::vector<std::pair<uint64_t, size_t>> candidates;  // position, size
        for (size_t at = 0; at < bytes.size();) {
            auto h = parse_batch_header(std::string_view(bytes).substr(at));
            if (!h) break;
            if (h->base_offset >= _model.confirmed) candidates.emplace_back(at, h->size);
            at += h->size;
        }
        if (candidates.empty()) return;
        int flips = static_cast<int>(_rng.range(1, 3));
        for (int i = 0; i < flips; ++i) {
            auto [at, size] = candidates[_rng.next() % candidates.size()];
            uint64_t byte = _rng.next() % size;
            if (byte >= 12 && byte < 16) byte = 16;  // the magic byte instead of the epoch
            _fs.corrupt(path, at + byte);
            ++_stats.flips;
            trace("flip byte " + std::to_string(at + byte) + " of " + path);
        }
    }

    // Every batch read from the log, start to end, with random max_bytes.
    std::string read_everything(std::vector<StoredBatch>& out) {
        int64_t offset = _log->start_offset();
        while (offset < _log->next_offset()) {
            std::vector<StoredBatch> got;
            if (auto r = read_checked(*_log, offset, _rng.range(1, 5000), got); !r) return fail(r.message());
            if (got.empty()) return fail("empty slice at " + std::to_string(offset));
            offset = got.back().next;
            for (auto& b : got) out.push_back(std::move(b));
        }
        if (offset != _log->next_offset()) {
            return fail("the last batch ends at " + std::to_string(offset) + " but next_offset() is " +
                        std::to_string(_log->next_offset()));
        }
        return {};
    }

    // Without a power loss the log is exactly the model.
    std::string check_exact() {
        if (_log->start_offset() != _model.start || _log->next_offset() != _model.next) {
            return fail("offsets [" + std::to_string(_log->start_offset()) + ", " +
                        std::to_string(_log->next_offset()) + ") after a restart");
        }
        std::vector<StoredBatch> got;
        if (auto e = read_everything(got); !e.empty()) return e;
        for (const StoredBatch& b : got) {
            auto it = _model.batches.find(b.base);
            if (it == _model.batches.end() || it->second != b.bytes) {
                return fail("batch at " + std::to_string(b.base) + " differs after a restart");
            }
        }
        return {};
    }

    std::string recover_and_check() {
        _lines.clear();
        if (auto e = open_log(); !e.empty()) return e;
        PartitionLog& log = *_log;
        if (log.start_offset() != _model.start) {
            return fail("start_offset() " + std::to_string(log.start_offset()) + " after the crash");
        }
        if (log.next_offset() < _model.confirmed) {
            return fail("next_offset() " + std::to_string(log.next_offset()) +
                        " is below the confirmed durable offset");
        }
        std::vector<StoredBatch> got;
        if (auto e = read_everything(got); !e.empty()) return e;
        std::map<int64_t, std::string> recovered;
        for (StoredBatch& b : got) {
            if (b.base < _model.confirmed) {
                auto it = _model.batches.find(b.base);
                if (it == _model.batches.end() || it->second != b.bytes) {
                    return fail("durable batch at " + std::to_string(b.base) + " lost or changed");
                }
            } else {
                const auto& once = _model.history[b.base];
                if (!once.count(b.bytes)) {
                    bool epoch_only = false;
                    for (const std::string& h : once) epoch_only = epoch_only || same_but_epoch(h, b.bytes);
                    if (!epoch_only)
                        return fail("a batch at " + std::to_string(b.base) + " that was never appended");
                    ++_stats.epoch_only_differences;
                }
            }
            recovered[b.base] = std::move(b.bytes);
        }
        // Every confirmed batch is there (the walk above is contiguous from the start).
        for (auto it = _model.batches.begin(); it != _model.batches.end() && it->first < _model.confirmed;
             ++it) {
            if (last_offset_of(it->second) >= _model.start && !recovered.count(it->first)) {
                return fail("durable batch at " + std::to_string(it->first) + " missing");
            }
        }
        if (log.next_offset() > _model.confirmed) ++_stats.unsynced_kept;
        for (const std::string& line : _lines.lines()) {
            if (line.find("truncating the log") != std::string::npos) ++_stats.tails_cut;
            // Sealed segments were fsynced before the next one was created, and
            // nothing here damages them: recovery must find them whole.
            if (line.find("sealed segment") != std::string::npos ||
                line.find("ends at offset") != std::string::npos) {
                return fail("recovery reports damage where there is none");
            }
        }

        // A second open finds exactly the same log and repairs nothing.
        int64_t next = log.next_offset();
        _log.reset();
        _lines.clear();
        if (auto e = open_log(); !e.empty()) return e;
        if (_log->next_offset() != next || _log->start_offset() != _model.start) {
            return fail("a second open gives next_offset() " + std::to_string(_log->next_offset()) +
                        ", not " + std::to_string(next));
        }
        std::vector<StoredBatch> again;
        if (auto e = read_everything(again); !e.empty()) return "second open: " + e;
        if (again.size() != recovered.size())
            return fail("a second open reads a different number of batches");
        for (const StoredBatch& b : again) {
            auto it = recovered.find(b.base);
            if (it == recovered.end() || it->second != b.bytes) {
                return fail("a second open reads a different batch at " + std::to_string(b.base));
            }
        }
        for (const std::string& line : _lines.lines()) {
            if (line.find("truncating the log") != std::string::npos)
                return fail("a second open cut the log again");
        }

        // The recovered log is the new model; opening made all of it durable.
        std::map<int64_t, std::string> kept;
        for (auto& [base, bytes] : recovered) kept[base] = bytes;
        _model.batches = std::move(kept);
        _model.next = next;
        _model.confirmed = next;
        if (_log->durable_offset() != next) return fail("durable_offset() after recovery");
        return {};
    }

    uint64_t _seed;
    SimFileSystem _fs;
    Rng _rng;
    Stats& _stats;
    LogConfig _config;
    LogLines _lines;
    std::unique_ptr<PartitionLog> _log;
    Model _model;
    int _round = 0;
    bool _tracing;
    std::string _trace;
};

TEST(CrashTorture, SyncedDataSurvivesEveryCrash) {
    Stats stats;
    std::vector<std::string> failures;
    auto began = std::chrono::steady_clock::now();
    // FJORD_TORTURE_SEED=N runs that seed alone and prints its operations when it fails.
    uint64_t first = 1;
    uint64_t last = kIterations;
    if (const char* n = std::getenv("FJORD_TORTURE_ITERATIONS")) {
        last = std::max<uint64_t>(2000, std::strtoull(n, nullptr, 10));
    }
    const uint64_t iterations = last;
    bool tracing = false;
    if (const char* one = std::getenv("FJORD_TORTURE_SEED")) {
        first = last = std::strtoull(one, nullptr, 10);
        tracing = true;
    }
    for (uint64_t seed = first; seed <= last; ++seed) {
        Torture t(seed, stats, tracing);
        if (std::string e = t.run(); !e.empty()) failures.push_back(std::move(e));
    }
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - began)
                  .count();
    std::printf(
        "crash torture: %llu seeds in %lld ms: %llu appends, %llu syncs, %llu suffix and %llu prefix "
        "truncations, "
        "%llu restarts, %llu crashes, %llu bit flips, %llu tails cut, %llu crashes kept unsynced data, "
        "%llu runs rolled segments, %llu torn epochs\n",
        static_cast<unsigned long long>(last - first + 1), static_cast<long long>(ms),
        static_cast<unsigned long long>(stats.appends), static_cast<unsigned long long>(stats.syncs),
        static_cast<unsigned long long>(stats.suffix_truncations),
        static_cast<unsigned long long>(stats.prefix_truncations),
        static_cast<unsigned long long>(stats.restarts), static_cast<unsigned long long>(stats.crashes),
        static_cast<unsigned long long>(stats.flips), static_cast<unsigned long long>(stats.tails_cut),
        static_cast<unsigned long long>(stats.unsynced_kept), static_cast<unsigned long long>(stats.rolled),
        static_cast<unsigned long long>(stats.epoch_only_differences));
    if (tracing) {
        EXPECT_TRUE(failures.empty()) << failures.front();
        return;
    }
    // The scenario space was actually explored.
    EXPECT_GT(stats.crashes, iterations);
    EXPECT_GT(stats.tails_cut, 100u);
    EXPECT_GT(stats.unsynced_kept, 100u);
    EXPECT_GT(stats.rolled, iterations / 2);
    EXPECT_GT(stats.suffix_truncations, 1000u);
    EXPECT_GT(stats.prefix_truncations, 500u);
    EXPECT_GT(stats.restarts, 500u);
    EXPECT_GT(stats.flips, 500u);

    std::string report;
    for (size_t i = 0; i < failures.size() && i < 5; ++i) report += failures[i] + "\n";
    EXPECT_TRUE(failures.empty()) << failures.size() << " of " << iterations << " seeds failed; the first:\n"
                                  << report;
}

}  // namespace
}  // namespace fjord::storage::testing
