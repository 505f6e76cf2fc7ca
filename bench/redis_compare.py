#!/usr/bin/python3
"""Compare fjord's Redis face with Redis itself, both replicated three ways.

What it measures
  Redis baseline: a master and two replicas (asynchronous replication) on
  127.0.0.1, in a temporary directory, with persistence off. Against the
  master:
    * redis-benchmark SET and GET, 100-byte values, 50 clients, without
      pipelining (-P 1) and with 16 commands in flight per client (-P 16);
    * one client doing SET then WAIT 2 1000 in a loop (redis-py, no
      pipelining): the closest Redis gets to "answered once a majority has
      the write".
  fjord: `fjord dev-cluster --nodes 3`, once per --redis-write-mode (sync,
  async), with lease reads (the read mode the GET target names), the same
  redis-benchmark runs against the node leading the shard of redis-benchmark's
  one key (where a Redis client's master would be; through another node each
  command is forwarded to it), and the same
  single-client loop with plain SET (in sync mode a SET is answered after a
  Raft majority commit, so it needs no WAIT).

  fjord's shards fsync before acknowledging (appendfsync always); with
  --appendfsync no (or everysec) they do not, which is how the Redis baseline
  runs (persistence off): fjord's sync writes then wait for a majority to
  hold them in memory, as SET + WAIT 2 does on Redis.

  Each cell reports requests per second, p50 and p99 latency in ms. With
  --runs K everything is repeated K times (fresh servers each time) and
  each cell shows the median of the K runs. The table ends with the ratios
  fjord's targets are stated in:
    fjord sync SET -P16 / Redis SET -P16                >= 0.5
    fjord sync GET -P16 / Redis GET -P16                >= 1.0
    fjord sync 1-client SET / Redis 1-client SET+WAIT   >= 1.0

How to run (from the repository root)
  /usr/bin/python3 bench/redis_compare.py                 # Redis and fjord
  /usr/bin/python3 bench/redis_compare.py --redis-only --quick
  /usr/bin/python3 bench/redis_compare.py --fjord-only --quick      # no redis-server needed
  /usr/bin/python3 bench/redis_compare.py --fjord build/fjord --runs 3
  /usr/bin/python3 bench/redis_compare.py --runs 3 --appendfsync no

Needs Debian's redis-server (not with --fjord-only), redis-tools (Redis 7)
and python3-redis.
Every server listens on 127.0.0.1 on ports found free by binding port 0;
every process it starts is stopped before it exits.
"""

import argparse
import csv
import math
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HOST = "127.0.0.1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_FJORD = os.path.join(REPO_ROOT, "build", "fjord")

VALUE_SIZE = 100          # bytes per value, as redis-benchmark -d
BENCH_CLIENTS = 50        # redis-benchmark -c
PIPELINES = (1, 16)       # redis-benchmark -P
FJORD_MODES = ("sync", "async")
FJORD_NODES = 3
FJORD_PORT_SPAN = 24      # node i uses B+10*(i-1) .. +3, so 3 nodes fit in B..B+23
FJORD_REDIS_OFFSET = 3    # node 1's Redis port is B+3
FJORD_NODE_STRIDE = 10    # node i's ports start at B + 10*(i-1)
BENCHMARK_KEY = "key:__rand_int__"  # the one key redis-benchmark uses without -r

REPLICATION_DEADLINE_S = 30
FJORD_READY_DEADLINE_S = 60
STOP_DEADLINE_S = 15      # dev-cluster itself gives its nodes 10 s before SIGKILL
BENCHMARK_TIMEOUT_S = 900
POLL_INTERVAL_S = 0.05

SINGLE_SET = "1-client SET"
SINGLE_SET_WAIT = "1-client SET+WAIT 2"


class BenchError(Exception):
    """A run could not be carried out; the message says why."""


@dataclass
class Cell:
    """One measurement: throughput and latency percentiles."""
    rps: float
    p50_ms: float
    p99_ms: float


# ---- Tools and ports ----

def check_tools(fjord_only=False):
    """Exit 2 with the apt command to run when a required tool is missing."""
    missing = []
    if not fjord_only and shutil.which("redis-server") is None:
        missing.append(("redis-server", "redis-server"))
    if shutil.which("redis-benchmark") is None:
        missing.append(("redis-benchmark", "redis-tools"))
    try:
        import redis  # noqa: F401
    except ImportError:
        missing.append(("python module redis", "python3-redis"))
    if missing:
        for what, package in missing:
            print(f"{what} is missing (Debian package {package})", file=sys.stderr)
        packages = " ".join(package for _, package in missing)
        print(f"install with: sudo apt-get install -y {packages}", file=sys.stderr)
        sys.exit(2)


def free_ports(count):
    """Distinct ports that were free on 127.0.0.1 a moment ago (bound to port 0)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_range_is_free(base, span):
    """True if every port in base .. base+span-1 can be bound on 127.0.0.1."""
    if base + span - 1 > 65535:
        return False
    sockets = []
    try:
        for port in range(base, base + span):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((HOST, port))
        return True
    except OSError:
        return False
    finally:
        for s in sockets:
            s.close()


def free_port_block(span, attempts=100):
    """A base port B such that B .. B+span-1 are all free; candidates come from port 0."""
    for _ in range(attempts):
        base = free_ports(1)[0]
        if port_range_is_free(base, span):
            return base
    raise BenchError(f"found no {span} consecutive free ports after {attempts} tries")


# ---- Processes ----

def log(message):
    """Progress goes to stderr so that stdout holds only the report."""
    print(f"[redis_compare] {message}", file=sys.stderr, flush=True)


def start_process(argv, log_path):
    """Start argv in its own process group, stdout and stderr into log_path."""
    log(f"start: {shlex.join(argv)}")
    with open(log_path, "ab") as out:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)


def signal_group(pgid, sig):
    """Send sig to a process group; False if the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_process(proc, deadline_s=STOP_DEADLINE_S):
    """SIGTERM the process group, wait up to deadline_s, then SIGKILL whatever is left."""
    pgid = proc.pid  # start_new_session made the child its group's leader
    if proc.poll() is None:
        signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            log(f"pid {proc.pid} ignored SIGTERM for {deadline_s} s: SIGKILL")
            signal_group(pgid, signal.SIGKILL)
            proc.wait()
    # The leader is gone; anything still in its group is a straggler.
    if signal_group(pgid, 0):
        signal_group(pgid, signal.SIGKILL)


def log_tail(path, lines=20):
    """The last lines of a log file, for error messages."""
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def wait_until(predicate, deadline_s, what):
    """Poll predicate() until it is true; BenchError naming `what` at the deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise BenchError(f"{what} within {deadline_s} s")
        time.sleep(POLL_INTERVAL_S)


def redis_client(port, timeout_s=5.0):
    """A redis-py client for 127.0.0.1:port without pipelining or retries."""
    import redis
    return redis.Redis(host=HOST, port=port, socket_timeout=timeout_s,
                       socket_connect_timeout=timeout_s)


def answers_pong(port):
    """True if the server on port answers PING with PONG."""
    import redis
    try:
        return redis_client(port, timeout_s=1.0).ping() is True
    except (redis.RedisError, OSError):
        return False


# ---- Measurements ----

def percentile(sorted_values, q):
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n*q/100), at least 1
    return sorted_values[int(rank) - 1]


def parse_benchmark_csv(text):
    """{"SET": Cell, "GET": Cell} from redis-benchmark 7 --csv output."""
    rows = [line for line in text.splitlines() if line.startswith('"')]
    cells = {}
    for row in csv.DictReader(rows):
        cells[row["test"]] = Cell(rps=float(row["rps"]),
                                  p50_ms=float(row["p50_latency_ms"]),
                                  p99_ms=float(row["p99_latency_ms"]))
    return cells


def benchmark_command(port, pipeline, requests):
    """The redis-benchmark command line for SET and GET against port."""
    return ["redis-benchmark", "-h", HOST, "-p", str(port), "-t", "set,get",
            "-d", str(VALUE_SIZE), "-c", str(BENCH_CLIENTS), "-n", str(requests),
            "-P", str(pipeline), "-q", "--csv"]


def run_redis_benchmark(port, pipeline, requests):
    """Run redis-benchmark SET and GET; {"SET": Cell, "GET": Cell}."""
    argv = benchmark_command(port, pipeline, requests)
    log(f"run: {shlex.join(argv)}")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=BENCHMARK_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise BenchError(f"redis-benchmark did not finish within {BENCHMARK_TIMEOUT_S} s")
    cells = parse_benchmark_csv(done.stdout)
    if done.returncode != 0 or set(cells) != {"SET", "GET"}:
        raise BenchError(f"redis-benchmark -P {pipeline} on port {port} failed "
                         f"(exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return cells


def single_client_set_loop(port, iterations, wait_replicas=0, wait_timeout_ms=1000, tag="bench"):
    """One client, one SET at a time (then WAIT wait_replicas, if > 0); Cell over the loop.

    Latency is per iteration (SET plus WAIT when waiting). A tenth of the
    iterations (at most 100) run first as warm-up and are not counted.
    """
    client = redis_client(port)
    value = b"x" * VALUE_SIZE
    warmup = min(100, iterations // 10)
    latencies = []
    short_waits = 0
    started = time.perf_counter()
    for i in range(warmup + iterations):
        if i == warmup:
            started = time.perf_counter()
        t0 = time.perf_counter()
        if client.set(f"{{{tag}}}:single:{i % 1000}", value) is not True:
            raise BenchError(f"SET on port {port} was not answered OK")
        if wait_replicas > 0:
            acked = client.execute_command("WAIT", wait_replicas, wait_timeout_ms)
            if int(acked) < wait_replicas:
                short_waits += 1
        if i >= warmup:
            latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    client.close()
    if short_waits:
        log(f"warning: {short_waits} WAIT calls timed out before {wait_replicas} replicas acked")
    latencies.sort()
    return Cell(rps=iterations / elapsed,
                p50_ms=percentile(latencies, 50) * 1000,
                p99_ms=percentile(latencies, 99) * 1000)


def measure_server(port, sizes, wait_replicas, tag="bench"):
    """All runs against one server: {(test, pipeline): Cell}."""
    cells = {}
    for pipeline in PIPELINES:
        requests = sizes["pipelined"] if pipeline > 1 else sizes["unpipelined"]
        for test, cell in run_redis_benchmark(port, pipeline, requests).items():
            cells[(test, pipeline)] = cell
    single = SINGLE_SET_WAIT if wait_replicas else SINGLE_SET
    log(f"run: {single} loop, {sizes['single']} iterations on port {port}")
    cells[(single, 1)] = single_client_set_loop(port, sizes["single"], wait_replicas, tag=tag)
    return cells


# ---- Redis master with two replicas ----

def redis_server_command(port, directory, master_port=None):
    """redis-server with persistence off; a replica of master_port if given."""
    argv = ["redis-server", "--port", str(port), "--bind", HOST, "--dir", directory,
            "--save", "", "--appendonly", "no", "--daemonize", "no"]
    if master_port is not None:
        argv += ["--replicaof", HOST, str(master_port)]
    return argv


def replication_is_online(master_port, replicas):
    """True if the master's INFO replication shows `replicas` connected slaves, all online."""
    import redis
    try:
        info = redis_client(master_port, timeout_s=1.0).info("replication")
    except (redis.RedisError, OSError):
        return False
    if info.get("connected_slaves") != replicas:
        return False
    slaves = [info.get(f"slave{i}") for i in range(replicas)]
    return all(isinstance(s, dict) and s.get("state") == "online" for s in slaves)


def measure_redis(sizes, workdir):
    """Start a Redis master and two replicas, measure the master, stop them all."""
    master_port, *replica_ports = free_ports(3)
    procs = []
    try:
        for port in [master_port, *replica_ports]:
            directory = os.path.join(workdir, f"redis-{port}")
            os.mkdir(directory)
            master = None if port == master_port else master_port
            procs.append(start_process(redis_server_command(port, directory, master),
                                       os.path.join(directory, "redis.log")))
        wait_until(lambda: replication_is_online(master_port, len(replica_ports)),
                   REPLICATION_DEADLINE_S,
                   f"Redis master 127.0.0.1:{master_port} did not show 2 online replicas")
        return measure_server(master_port, sizes, wait_replicas=len(replica_ports))
    finally:
        for proc in procs:
            stop_process(proc)


# ---- fjord dev-cluster ----

def fjord_command(fjord_path, base_port, data_dir, mode):
    """`fjord dev-cluster` with 3 nodes, every node in the given Redis write mode."""
    return [fjord_path, "dev-cluster", "--nodes", str(FJORD_NODES), "--base-port", str(base_port),
            "--data-dir", data_dir, "--", "--redis-write-mode", mode, "--redis-read-mode", "lease"]


def fjord_is_ready(port):
    """True if the node answers PING with PONG and accepts a SET."""
    import redis
    try:
        client = redis_client(port, timeout_s=2.0)
        return client.ping() is True and client.set("fjord:probe", "x") is True
    except (redis.RedisError, OSError):
        return False


def wait_for_fjord(proc, port, log_path):
    """Poll node 1 until ready; BenchError if dev-cluster exits or 60 s pass."""
    deadline = time.monotonic() + FJORD_READY_DEADLINE_S
    pinged = False
    while True:
        if proc.poll() is not None:
            raise BenchError(f"fjord dev-cluster exited with code {proc.returncode} before its "
                             f"Redis port 127.0.0.1:{port} was ready; last lines of its log:\n"
                             f"{log_tail(log_path)}")
        pinged = pinged or answers_pong(port)
        if pinged and fjord_is_ready(port):
            return
        if time.monotonic() >= deadline:
            if not pinged:
                raise BenchError(f"fjord's Redis port 127.0.0.1:{port} did not answer PONG "
                                 f"within {FJORD_READY_DEADLINE_S} s; last lines of its log:\n"
                                 f"{log_tail(log_path)}")
            raise BenchError(f"fjord's Redis port 127.0.0.1:{port} answered PONG but "
                             f"SET fjord:probe x did not return OK within "
                             f"{FJORD_READY_DEADLINE_S} s")
        time.sleep(POLL_INTERVAL_S)


def crc32c(data):
    """CRC-32C (Castagnoli), which fjord hashes keys to shards with."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def shard_leader_port(base_port, key):
    """The Redis port of the node leading the shard of `key`, and a hash tag on that shard.

    redis-benchmark's SET and GET use one key, so they load one shard; its
    leader is where a Redis client's master would be. Node 1's INFO lists
    every shard it holds with its leader (0 while none is known)."""
    def leaders():
        info = redis_client(base_port + FJORD_REDIS_OFFSET).info("replication")
        return {int(name[len("shard"):]): int(value["leader"])
                for name, value in info.items() if name.startswith("shard") and isinstance(value, dict)}
    shard = crc32c(key.encode()) % len(leaders())
    wait_until(lambda: leaders().get(shard, 0) > 0, FJORD_READY_DEADLINE_S, f"a leader for shard {shard}")
    leader = leaders()[shard]
    tag = next(f"bench{i}" for i in range(10000) if crc32c(f"bench{i}".encode()) % len(leaders()) == shard)
    return base_port + FJORD_NODE_STRIDE * (leader - 1) + FJORD_REDIS_OFFSET, tag


def set_appendfsync(port, value):
    """CONFIG SET appendfsync through one node, then wait until that node reports it."""
    client = redis_client(port)
    client.config_set("appendfsync", value)
    wait_until(lambda: client.config_get("appendfsync").get("appendfsync") == value,
               FJORD_READY_DEADLINE_S, f"appendfsync {value} on 127.0.0.1:{port}")


def measure_fjord(fjord_path, mode, sizes, workdir, appendfsync="always"):
    """Start a 3-node dev-cluster in `mode`, measure the leader of the benchmark key's shard, stop it."""
    base_port = free_port_block(FJORD_PORT_SPAN)
    node1_port = base_port + FJORD_REDIS_OFFSET
    data_dir = os.path.join(workdir, f"fjord-{mode}")
    log_path = os.path.join(workdir, f"fjord-{mode}.log")
    proc = start_process(fjord_command(fjord_path, base_port, data_dir, mode), log_path)
    try:
        wait_for_fjord(proc, node1_port, log_path)
        redis_port, tag = shard_leader_port(base_port, BENCHMARK_KEY)
        if appendfsync != "always":
            set_appendfsync(redis_port, appendfsync)
        log(f"the benchmark key's shard is led by the node with Redis port {redis_port}; "
            f"the single client writes {{{tag}}} keys, on the same shard")
        return measure_server(redis_port, sizes, wait_replicas=0, tag=tag)
    finally:
        stop_process(proc)


# ---- Runs, medians and the report ----

def request_counts(quick):
    """How many requests each kind of run makes; --quick divides them by 10."""
    divisor = 10 if quick else 1
    return {"pipelined": 1000000 // divisor, "unpipelined": 100000 // divisor,
            "single": 5000 // divisor}


def collect(args, sizes):
    """Run everything args.runs times: ({(system, test, pipeline): [Cell]}, error or None)."""
    results = {}

    def record(system, cells):
        for (test, pipeline), cell in cells.items():
            results.setdefault((system, test, pipeline), []).append(cell)

    for run in range(1, args.runs + 1):
        log(f"run {run} of {args.runs}")
        with tempfile.TemporaryDirectory(prefix="redis_compare-") as workdir:
            try:
                if not args.fjord_only:
                    record("redis", measure_redis(sizes, workdir))
                if not args.redis_only:
                    for mode in FJORD_MODES:
                        record(f"fjord-{mode}",
                               measure_fjord(args.fjord, mode, sizes, workdir, args.appendfsync))
            except BenchError as error:
                return results, str(error)
    return results, None


def median_cell(cells):
    """The per-field median of several runs of one cell."""
    return Cell(rps=statistics.median(c.rps for c in cells),
                p50_ms=statistics.median(c.p50_ms for c in cells),
                p99_ms=statistics.median(c.p99_ms for c in cells))


def print_table(medians, runs, appendfsync="always"):
    """One row per (system, test, pipeline)."""
    print(f"\nResults (median of {runs} run(s); latencies in ms; fjord with appendfsync {appendfsync})")
    header = f"{'system/mode':<12} {'test':<20} {'pipeline':>8} {'rps':>12} {'p50':>8} {'p99':>8}"
    print(header)
    print("-" * len(header))
    for (system, test, pipeline), cell in sorted(medians.items(), key=row_order):
        print(f"{system:<12} {test:<20} {pipeline:>8} {cell.rps:>12,.0f} "
              f"{cell.p50_ms:>8.3f} {cell.p99_ms:>8.3f}")


def row_order(item):
    """Redis first, then fjord sync, then async; benchmark runs before the single client."""
    (system, test, pipeline), _ = item
    systems = ["redis"] + [f"fjord-{m}" for m in FJORD_MODES]
    tests = ["SET", "GET", SINGLE_SET_WAIT, SINGLE_SET]
    return (systems.index(system), tests.index(test), pipeline)


def print_ratios(medians):
    """fjord / Redis throughput for the three stated targets."""
    targets = [
        ("fjord sync SET -P16 / Redis SET -P16", ("fjord-sync", "SET", 16), ("redis", "SET", 16), 0.5),
        ("fjord sync GET -P16 / Redis GET -P16", ("fjord-sync", "GET", 16), ("redis", "GET", 16), 1.0),
        ("fjord sync 1-client SET / Redis 1-client SET+WAIT 2",
         ("fjord-sync", SINGLE_SET, 1), ("redis", SINGLE_SET_WAIT, 1), 1.0),
    ]
    print("\nRatios (throughput, fjord / Redis)")
    for name, fjord_key, redis_key, target in targets:
        if fjord_key in medians and redis_key in medians:
            ratio = medians[fjord_key].rps / medians[redis_key].rps
            verdict = "meets" if ratio >= target else "MISSES"
            shown = math.floor(ratio * 100) / 100  # rounded down, so 0.499 never reads as 0.50
            print(f"  {name:<54} {shown:6.2f}  (target >= {target}: {verdict})")
        else:
            print(f"  {name:<54}    n/a  (target >= {target}: not measured)")


def print_commands(args, sizes):
    """The exact command line, and the commands it ran with placeholder ports."""
    print(f"\nCommand: {shlex.join([sys.executable, *sys.argv])}")
    print("Ran: " + shlex.join(benchmark_command("PORT", 1, sizes["unpipelined"])))
    print("     " + shlex.join(benchmark_command("PORT", 16, sizes["pipelined"])))
    if not args.redis_only:
        for mode in FJORD_MODES:
            print("     " + shlex.join(fjord_command(args.fjord, "BASE", "DIR", mode)))


def parse_args():
    parser = argparse.ArgumentParser(
        description="Compare fjord's Redis face with a Redis master and two replicas.")
    parser.add_argument("--fjord", default=DEFAULT_FJORD,
                        help="fjord executable (default: %(default)s)")
    parser.add_argument("--redis-only", action="store_true", help="measure Redis only, skip fjord")
    parser.add_argument("--fjord-only", action="store_true",
                        help="measure fjord only, skip Redis (no ratios; needs no redis-server)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the requests and iterations")
    parser.add_argument("--runs", type=int, default=1, help="repeat everything K times, report medians")
    parser.add_argument("--appendfsync", choices=["always", "everysec", "no"], default="always",
                        help="fjord's flush policy for its shards, set by CONFIG SET (default: %(default)s)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.redis_only and args.fjord_only:
        parser.error("--redis-only and --fjord-only leave nothing to measure")
    if not args.redis_only and not os.access(args.fjord, os.X_OK):
        parser.error(f"fjord executable not found at {args.fjord} "
                     "(run `make build`, pass --fjord PATH, or use --redis-only)")
    return args


def main():
    args = parse_args()
    check_tools(args.fjord_only)
    sizes = request_counts(args.quick)
    results, error = collect(args, sizes)
    medians = {key: median_cell(cells) for key, cells in results.items()}
    if medians:
        print_table(medians, args.runs, args.appendfsync)
        print_ratios(medians)
    print_commands(args, sizes)
    if error:
        print(f"\nerror: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
