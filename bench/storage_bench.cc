// The durable partition log on the real disk, next to the disk's own limits
// measured in the same run.
//
//   1. The machine: sequential write bandwidth through the page cache and with
//      an fdatasync at the end (dd, 512 MiB, bs=1M), cached sequential reads
//      (dd), one pwrite + fdatasync per batch (no group commit), and a
//      pipelined writer and syncer thread with as many bytes in flight as N
//      producers of 64 KiB batches have (what group commit could reach).
//   2. Appends with group commit: N producers (1 to 256) each keep one
//      append + sync() outstanding against one PartitionLog; the syncs run on
//      a Flusher whose completions come back to this program's own loop
//      thread (a mutex + condvar queue). MB/s, batches/s, fsyncs, and the
//      sync() latency p50/p99.
//   3. Reads of cached data: read() over the whole log
//      (each fetch is one pread of the range, checked batch by batch).
//
// Every figure is also printed as a ratio of the machine's. Usage:
//   fjord-bench-storage [--dir DIR] [--seconds S] [--quick]
// DIR (default /tmp) gets a fresh fjord-bench-storage-XXXXXX directory,
// removed at the end.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/flusher.h"
#include "storage/partition_log.h"
#include "storage/posix_file_system.h"
#include "storage/record_batch.h"

namespace {

using namespace fjord::storage;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
}

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "fjord-bench-storage: %s\n", what.c_str());
    std::exit(1);
}

// The benchmark's event loop: the Flusher posts completions here, and every
// PartitionLog call runs on this (the main) thread.
class Loop {
  public:
    void post(std::function<void()> task) {
        {
            std::lock_guard lock(_mutex);
            _tasks.push_back(std::move(task));
        }
        _wake.notify_one();
    }
    // Runs tasks until `done()` holds.
    void run_until(const std::function<bool()>& done) {
        while (!done()) {
            std::function<void()> task;
            {
                std::unique_lock lock(_mutex);
                _wake.wait(lock, [this] { return !_tasks.empty(); });
                task = std::move(_tasks.front());
                _tasks.pop_front();
            }
            task();
        }
    }

  private:
    std::mutex _mutex;
    std::condition_variable _wake;
    std::deque<std::function<void()>> _tasks;
};

struct Options {
    std::string parent = "/tmp";
    double seconds = 3.0;     // per append configuration
    uint64_t dd_mib = 512;    // dd's file
    uint64_t read_mib = 256;  // the log read back
    uint64_t append_cap_mib = 768;
    std::string only;   // "machine", "raw", "append" or "read": that section alone
    int producers = 0;  // append: this N only (0: all)
    size_t batch = 0;   // append and read: this batch size only (0: all)
    bool want(const char* section) const { return only.empty() || only == section; }
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

// A batch of one record whose encoded size is exactly `size` bytes (random
// value bytes: nothing on the way compresses them).
std::string make_batch(size_t size) {
    std::mt19937_64 rng(size);
    size_t value = size - kBatchHeaderSize - 8;
    for (int attempt = 0; attempt < 8; ++attempt) {
        std::string v(value, '\0');
        for (char& c : v) c = static_cast<char>(rng());
        std::string b = encode_batch(0, 1, 0, {Record{"", v, 0}});
        if (b.size() == size) return b;
        value = value + size - b.size();
    }
    die("cannot encode a batch of " + std::to_string(size) + " bytes");
}

std::string run_command(const std::string& cmd) {
    std::string out;
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) die("popen " + cmd);
    char buf[512];
    while (std::fgets(buf, sizeof(buf), p) != nullptr) out += buf;
    if (::pclose(p) != 0) die(cmd + " failed: " + out);
    return out;
}

// Runs dd and returns its bandwidth in bytes/s, from the bytes and seconds it
// reports ("536870912 bytes (537 MB, 512 MiB) copied, 0.61 s, 880 MB/s").
double dd(const std::string& args) {
    std::string out = run_command("LC_ALL=C dd " + args + " 2>&1");
    size_t at = out.rfind(" bytes ");
    size_t line = out.rfind('\n', at == std::string::npos ? 0 : at);
    size_t copied = out.find("copied, ", at == std::string::npos ? 0 : at);
    if (at == std::string::npos || copied == std::string::npos) die("cannot parse dd output: " + out);
    double bytes = std::strtod(out.c_str() + (line == std::string::npos ? 0 : line + 1), nullptr);
    double secs = std::strtod(out.c_str() + copied + 8, nullptr);
    if (bytes <= 0 || secs <= 0) die("cannot parse dd output: " + out);
    return bytes / secs;
}

void drop_dirty_pages() {
    ::sync();
}

struct MachineLimits {
    double write_cached = 0;  // bytes/s, dd without fdatasync
    double write_synced = 0;  // bytes/s, dd conv=fdatasync
    double read_cached = 0;   // bytes/s, dd of a cached file
};

double median3(const std::function<double()>& f) {
    double v[3] = {f(), f(), f()};
    std::sort(v, v + 3);
    return v[1];
}

// Medians of three dd runs each, after one untimed write: a VM's first
// writes into fresh page-cache memory are several times slower.
MachineLimits measure_machine(const std::string& dir, const Options& o) {
    MachineLimits m;
    std::string file = dir + "/dd.bin";
    std::string count = "bs=1M count=" + std::to_string(o.dd_mib);
    auto write = [&](const std::string& extra) {
        drop_dirty_pages();
        std::filesystem::remove(file);
        drop_dirty_pages();
        return dd("if=/dev/zero of=" + file + " " + count + extra);
    };
    write("");
    m.write_cached = median3([&] { return write(""); });
    m.write_synced = median3([&] { return write(" conv=fdatasync"); });
    m.read_cached =
        median3([&] { return dd("if=" + file + " of=/dev/null bs=1M"); });  // cached: just written
    std::filesystem::remove(file);
    drop_dirty_pages();
    return m;
}

struct RawSync {
    double bytes_per_s = 0;
    double p50_ms = 0;
};

// One pwrite + fdatasync per batch, one thread: what a log without group
// commit could do at best.
RawSync raw_write_sync(const std::string& dir, size_t batch, double seconds) {
    std::string file = dir + "/raw.bin";
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("open " + file);
    std::string buf = make_batch(batch);
    std::vector<double> lat;
    uint64_t written = 0;
    auto start = Clock::now();
    while (seconds_since(start) < seconds) {
        auto t0 = Clock::now();
        if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(written)) !=
            static_cast<ssize_t>(buf.size())) {
            die("pwrite " + file);
        }
        if (::fdatasync(fd) != 0) die("fdatasync " + file);
        lat.push_back(seconds_since(t0) * 1e3);
        written += buf.size();
    }
    double elapsed = seconds_since(start);
    ::close(fd);
    std::filesystem::remove(file);
    return RawSync{static_cast<double>(written) / elapsed, percentile(lat, 0.5)};
}

// The best a group commit with `outstanding` bytes in flight could do on
// this disk: a writer thread keeps up to that many bytes appended (64 KiB
// pwrites into a file preallocated 4 MiB at a time, as the log does) beyond
// the last completed fdatasync, and a syncer thread calls fdatasync in a loop
// whenever there is something new. No CRC, no event loop: the disk's and the
// page cache's own limit for that many bytes in flight.
double pipelined_write_sync(const std::string& dir, uint64_t outstanding, uint64_t total) {
    const size_t chunk = 64 * 1024;
    const uint64_t reserve = 4 << 20;
    std::string file = dir + "/pipelined.bin";
    int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) die("open " + file);
    std::string buf = make_batch(chunk);
    std::mutex mutex;
    std::condition_variable changed;
    uint64_t written = 0, durable = 0;
    bool failed = false;
    auto start = Clock::now();
    std::thread syncer([&] {
        std::unique_lock lock(mutex);
        while (durable < total && !failed) {
            changed.wait(lock, [&] { return written > durable; });
            uint64_t target = written;
            lock.unlock();
            bool ok = ::fdatasync(fd) == 0;
            lock.lock();
            failed = !ok;
            durable = target;
            changed.notify_all();
        }
    });
    for (uint64_t off = 0; off < total; off += chunk) {
        {
            std::unique_lock lock(mutex);
            changed.wait(lock, [&] { return failed || off + chunk - durable <= outstanding; });
            if (failed) break;
        }
        if (off % reserve == 0 &&
            ::fallocate(fd, 0, static_cast<off_t>(off), static_cast<off_t>(reserve)) != 0)
            die("fallocate " + file);
        if (::pwrite(fd, buf.data(), chunk, static_cast<off_t>(off)) != static_cast<ssize_t>(chunk))
            die("pwrite " + file);
        std::lock_guard lock(mutex);
        written = off + chunk;
        changed.notify_all();
    }
    syncer.join();
    double elapsed = seconds_since(start);
    ::close(fd);
    std::filesystem::remove(file);
    drop_dirty_pages();
    if (failed) die("fdatasync " + file);
    return static_cast<double>(total) / elapsed;
}

struct AppendResult {
    size_t batch = 0;
    int producers = 0;
    double bytes_per_s = 0;
    double batches_per_s = 0;
    uint64_t batches = 0;
    uint64_t fsyncs = 0;
    double p50_ms = 0;
    double p99_ms = 0;
};

// N producers, each with one append + sync() outstanding, all on the loop
// thread; a producer's next append is a new loop task, as a request arriving
// after the previous answer would be.
AppendResult append_group_commit(const std::string& dir, size_t batch, int producers, const Options& o) {
    Loop loop;
    uint64_t fsyncs = 0;  // read on the loop thread only: counted in post
    Flusher flusher([&](std::function<void()> done) {
        loop.post([&fsyncs, done = std::move(done)] {
            ++fsyncs;
            done();
        });
    });
    PosixFileSystem fs;
    LogConfig config;
    auto opened = PartitionLog::open(fs, dir + "/append-0", config, &flusher, 0);
    if (!opened) die("open: " + opened.error().detail);
    PartitionLog& log = **opened;

    std::string buf = make_batch(batch);
    const uint64_t cap = o.append_cap_mib << 20;
    uint64_t bytes = 0;
    uint64_t batches = 0;
    int active = producers;
    std::vector<double> lat;
    lat.reserve(1 << 20);
    auto start = Clock::now();
    std::function<void()> step = [&] {
        if (seconds_since(start) >= o.seconds || bytes >= cap) {
            --active;
            return;
        }
        stamp_batch(buf, log.next_offset(), 1);
        if (auto r = log.append(buf, 0); !r) die("append: " + r.error().detail);
        bytes += buf.size();
        ++batches;
        auto t0 = Clock::now();
        log.sync([&, t0](StorageResult<int64_t> r) {
            if (!r) die("sync: " + r.error().detail);
            lat.push_back(seconds_since(t0) * 1e3);
            loop.post(step);
        });
    };
    for (int i = 0; i < producers; ++i) loop.post(step);
    loop.run_until([&] { return active == 0; });
    double elapsed = seconds_since(start);
    if (log.durable_offset() != log.next_offset()) die("not everything appended is durable");

    AppendResult r;
    r.batch = batch;
    r.producers = producers;
    r.bytes_per_s = static_cast<double>(bytes) / elapsed;
    r.batches_per_s = static_cast<double>(batches) / elapsed;
    r.batches = batches;
    r.fsyncs = fsyncs;
    r.p50_ms = percentile(lat, 0.5);
    r.p99_ms = percentile(lat, 0.99);
    opened->reset();
    std::filesystem::remove_all(dir + "/append-0");
    drop_dirty_pages();
    return r;
}

struct ReadResult {
    double copy_bytes_per_s = 0;
};

// Fills a log with `total` bytes of `batch`-byte batches (synced, so the
// pages are clean and cached), then reads it all back in 1 MiB fetches.
ReadResult read_cached(const std::string& dir, size_t batch, uint64_t total, double seconds) {
    PosixFileSystem fs;
    LogConfig config;
    auto opened = PartitionLog::open(fs, dir + "/read-0", config, nullptr, 0);
    if (!opened) die("open: " + opened.error().detail);
    PartitionLog& log = **opened;
    std::string buf = make_batch(batch);
    for (uint64_t written = 0; written < total; written += buf.size()) {
        stamp_batch(buf, log.next_offset(), 1);
        if (auto r = log.append(buf, 0); !r) die("append: " + r.error().detail);
    }
    bool synced = false;
    log.sync([&](StorageResult<int64_t> r) { synced = r.has_value(); });
    if (!synced) die("sync failed");
    const size_t fetch = 1 << 20;
    const int64_t end = log.next_offset();

    ReadResult res;
    {  // read(): the checked bytes end up in our memory
        uint64_t served = 0;
        auto start = Clock::now();
        int passes = 0;
        while (passes < 2 || seconds_since(start) < seconds) {
            for (int64_t o = log.start_offset(); o < end;) {
                auto s = log.read(o, fetch);
                if (!s) die("read: " + s.error().detail);
                if (s->bytes.size() != s->length) die("short read");
                served += s->bytes.size();
                o = s->next_offset;
            }
            ++passes;
        }
        res.copy_bytes_per_s = static_cast<double>(served) / seconds_since(start);
    }
    opened->reset();
    std::filesystem::remove_all(dir + "/read-0");
    return res;
}

std::string size_name(size_t bytes) {
    return bytes >= 1024 ? std::to_string(bytes / 1024) + " KiB" : std::to_string(bytes) + " B";
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--dir" && i + 1 < argc) {
            o.parent = argv[++i];
        } else if (a == "--seconds" && i + 1 < argc) {
            o.seconds = std::atof(argv[++i]);
        } else if (a == "--only" && i + 1 < argc) {
            o.only = argv[++i];
        } else if (a == "--producers" && i + 1 < argc) {
            o.producers = std::atoi(argv[++i]);
        } else if (a == "--batch" && i + 1 < argc) {
            o.batch = static_cast<size_t>(std::atol(argv[++i]));
        } else if (a == "--quick") {  // a smoke run: seconds, not minutes
            o.seconds = 0.2;
            o.dd_mib = 32;
            o.read_mib = 16;
            o.append_cap_mib = 32;
        } else {
            std::fprintf(stderr,
                         "usage: fjord-bench-storage [--dir DIR] [--seconds S] [--quick]\n"
                         "                           [--only machine|raw|append|read] [--producers N] "
                         "[--batch BYTES]\n");
            return 2;
        }
    }
    std::string tmpl = o.parent + "/fjord-bench-storage-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) die("mkdtemp " + tmpl);
    const std::string dir = tmpl;
    std::printf("fjord-bench-storage: directory %s (removed at the end)\n\n", dir.c_str());

    const double MB = 1e6;
    MachineLimits m;
    if (o.want("machine") || o.want("append") || o.want("read")) {
        m = measure_machine(dir, o);
        std::printf("Machine (dd, %llu MiB, bs=1M, median of 3)\n",
                    static_cast<unsigned long long>(o.dd_mib));
        std::printf("  sequential write, page cache only   %8.0f MB/s\n", m.write_cached / MB);
        std::printf("  sequential write + fdatasync        %8.0f MB/s\n", m.write_synced / MB);
        std::printf("  sequential read, cached             %8.0f MB/s\n", m.read_cached / MB);
        std::fflush(stdout);
    }

    std::vector<size_t> sizes;
    for (size_t s : {size_t{1024}, size_t{64 * 1024}}) {
        if (o.batch == 0 || o.batch == s) sizes.push_back(s);
    }
    if (o.batch != 0 && sizes.empty()) sizes.push_back(o.batch);

    std::vector<RawSync> raw(sizes.size());
    if (o.want("raw") || o.want("append")) {
        std::printf("\nOne pwrite + fdatasync per batch, one thread (no group commit)\n");
        for (size_t i = 0; i < sizes.size(); ++i) {
            raw[i] = raw_write_sync(dir, sizes[i], std::min(o.seconds, 2.0));
            std::printf("  %-7s %8.1f MB/s  %8.0f fsyncs/s  p50 %.2f ms\n", size_name(sizes[i]).c_str(),
                        raw[i].bytes_per_s / MB, raw[i].bytes_per_s / static_cast<double>(sizes[i]),
                        raw[i].p50_ms);
            std::fflush(stdout);
        }
    }

    // Bytes in flight of N producers with one 64 KiB batch each.
    std::map<int, double> pipelined;
    if (o.want("append") && (o.batch == 0 || o.batch == 64 * 1024)) {
        std::printf("\nPipelined pwrite + fdatasync (writer and syncer threads, 64 KiB writes)\n");
        for (int n : {16, 64, 256}) {
            if (o.producers != 0 && o.producers != n) continue;
            uint64_t outstanding = static_cast<uint64_t>(n) * 64 * 1024;
            pipelined[n] = pipelined_write_sync(dir, outstanding, o.append_cap_mib << 20);
            std::printf("  %4llu KiB in flight (N = %3d)  %8.0f MB/s  %5.1f%% of dd + fdatasync\n",
                        static_cast<unsigned long long>(outstanding >> 10), n, pipelined[n] / MB,
                        100 * pipelined[n] / m.write_synced);
            std::fflush(stdout);
        }
    }

    std::map<int, double> appended_64k;  // by N
    if (o.want("append")) {
        std::printf("\nAppends with group commit (N producers, each one append + sync outstanding)\n");
        std::printf("  %-7s %3s %9s %10s %9s %11s %8s %8s %11s %9s %10s\n", "batch", "N", "MB/s", "batches/s",
                    "fsyncs/s", "batch/fsync", "p50 ms", "p99 ms", "vs dd sync", "vs raw", "vs piped");
        for (size_t i = 0; i < sizes.size(); ++i) {
            // N is the number of batches in flight: N appenders with one
            // each, or N/4 Kafka producers with 4 requests in flight each.
            for (int n : {1, 4, 16, 64, 256}) {
                if (o.producers != 0 && o.producers != n) continue;
                AppendResult r = append_group_commit(dir, sizes[i], n, o);
                double per_fsync = static_cast<double>(r.batches) / static_cast<double>(r.fsyncs);
                auto piped = pipelined.find(n);
                std::string vs_piped =
                    r.batch == 64 * 1024 && piped != pipelined.end()
                        ? std::to_string(static_cast<int>(100 * r.bytes_per_s / piped->second)) + "%"
                        : "";
                std::printf("  %-7s %3d %9.1f %10.0f %9.0f %11.1f %8.2f %8.2f %10.1f%% %8.0f%% %10s\n",
                            size_name(r.batch).c_str(), n, r.bytes_per_s / MB, r.batches_per_s,
                            r.batches_per_s / per_fsync, per_fsync, r.p50_ms, r.p99_ms,
                            100 * r.bytes_per_s / m.write_synced, 100 * r.bytes_per_s / raw[i].bytes_per_s,
                            vs_piped.c_str());
                std::fflush(stdout);
                if (r.batch == 64 * 1024) appended_64k[n] = r.bytes_per_s;
            }
        }
    }

    // The disk of a VM may slow down after gigabytes of writes (a burst
    // budget): dd again, so that a drift during the run shows.
    if (o.want("append")) {
        double again = measure_machine(dir, o).write_synced;
        std::printf("\n  dd write + fdatasync again, after the appends: %.0f MB/s (%.0f MB/s before)\n",
                    again / MB, m.write_synced / MB);
        std::fflush(stdout);
    }

    double worst_read = 0;
    if (o.want("read")) {
        std::printf("\nReads of cached data (%llu MiB log, 1 MiB fetches)\n",
                    static_cast<unsigned long long>(o.read_mib));
        std::printf("  %-7s %22s %11s\n", "batch", "read GB/s", "vs dd read");
        for (size_t s : sizes) {
            ReadResult r = read_cached(dir, s, o.read_mib << 20, std::min(o.seconds, 2.0));
            std::printf("  %-7s %22.2f %10.0f%%\n", size_name(s).c_str(), r.copy_bytes_per_s / 1e9,
                        100 * r.copy_bytes_per_s / m.read_cached);
            std::fflush(stdout);
            double lower = r.copy_bytes_per_s;
            worst_read = worst_read == 0 ? lower : std::min(worst_read, lower);
        }
    }

    std::printf("\nTargets\n");
    // The disk's flush has a fixed cost, so what group commit can reach
    // depends on the bytes in flight; the pipelined writer shows the disk's
    // own ceiling for each load, and the target is read at 4 MiB in flight.
    for (int n : {16, 64, 256}) {
        auto fjord = appended_64k.find(n);
        auto piped = pipelined.find(n);
        if (fjord == appended_64k.end() || piped == pipelined.end()) continue;
        std::printf(
            "  64 KiB, N = %3d: group commit %3.0f%% of dd write + fdatasync, the disk's ceiling "
            "(pipelined) %3.0f%%: %3.0f%% of it\n",
            n, 100 * fjord->second / m.write_synced, 100 * piped->second / m.write_synced,
            100 * fjord->second / piped->second);
    }
    if (auto at = appended_64k.find(64); at != appended_64k.end()) {
        std::printf(
            "  group-commit appends, 64 KiB with 4 MiB in flight (N = 64) >= 80%% of dd write + "
            "fdatasync: %.0f%% (%s)\n",
            100 * at->second / m.write_synced, at->second >= 0.8 * m.write_synced ? "met" : "MISSED");
    }
    if (worst_read > 0) {
        std::printf("  cached reads (slowest case) >= 1 GB/s: %.2f GB/s (%s)\n", worst_read / 1e9,
                    worst_read >= 1e9 ? "met" : "MISSED");
    }

    std::filesystem::remove_all(dir);
    return 0;
}
