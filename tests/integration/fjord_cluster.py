"""A small harness for real-process integration tests of `fjord serve`.

It starts N nodes on free local ports in a temporary directory, each with its
own log file, and offers what the tests need to drive them: HTTP helpers for
the admin API, kill/restart, and `wait_for`, which polls a condition until a
deadline (tests never sleep to synchronise).

Every test script takes the fjord binary as its first argument (or reads it
from the FJORD_BIN environment variable) and is run with /usr/bin/python3;
only the standard library is used.
"""

import ctypes
from http.client import HTTPException
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

POLL_INTERVAL = 0.025
LOG_TAIL_LINES = 40
DEFAULT_HTTP_TIMEOUT = 5.0

_FJORD_BIN = os.environ.get("FJORD_BIN", "")


def fjord_bin():
    if not _FJORD_BIN:
        raise RuntimeError("no fjord binary: pass it as the first argument or set FJORD_BIN")
    return _FJORD_BIN


def main():
    """Entry point of a test script: `test_x.py FJORD_BIN [unittest args]`."""
    global _FJORD_BIN
    args = sys.argv[1:]
    if args and not args[0].startswith("-"):
        _FJORD_BIN = os.path.abspath(args.pop(0))
    if not _FJORD_BIN or not os.access(_FJORD_BIN, os.X_OK):
        sys.stderr.write("usage: %s FJORD_BIN [unittest options] (or set FJORD_BIN)\n" % sys.argv[0])
        sys.exit(2)
    # A SIGTERM (e.g. from ctest on timeout) unwinds like an exception, so that
    # every Cluster's cleanup still runs.
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)


def _raise_on_sigterm(signum, frame):
    raise SystemExit("terminated by signal %d" % signum)


# --- CRC-32C (Castagnoli), as fjord's frames and Kafka's record batches use --

def _crc32c_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# --- ports -----------------------------------------------------------------


def free_ports(count):
    """`count` distinct free TCP ports on 127.0.0.1. All sockets are held open
    until every port is chosen, so that none is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


# --- waiting ---------------------------------------------------------------


class WaitTimeout(AssertionError):
    pass


def wait_for(predicate, timeout, what, cluster=None, interval=POLL_INTERVAL):
    """Calls `predicate` every `interval` seconds until it returns a truthy
    value, which is returned. Exceptions from the predicate count as "not
    yet" (a node may not listen yet). On timeout raises WaitTimeout naming
    `what`, the last value or exception seen, and the tail of every node log."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            result = predicate()
            if result:
                return result
            last = "returned %r" % (result,)
        except (OSError, ValueError, KeyError, TypeError, IndexError, HTTPException) as e:
            last = "raised %s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            message = "timed out after %.1f s waiting for %s (last check %s)" % (timeout, what, last)
            if cluster is not None:
                message += "\n" + cluster.log_tails()
            raise WaitTimeout(message)
        time.sleep(interval)  # polling pace, not synchronisation


# --- HTTP ------------------------------------------------------------------


class HttpReply:
    def __init__(self, status, body):
        self.status = status
        self.text = body.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.text)

    def __repr__(self):
        return "HttpReply(%d, %r)" % (self.status, self.text[:300])


def http(method, address, path, body=None, timeout=DEFAULT_HTTP_TIMEOUT):
    """One request to `address` (HOST:PORT); returns an HttpReply for every
    HTTP status (4xx/5xx included). Raises OSError if there is no answer."""
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request("http://%s%s" % (address, path), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return HttpReply(response.status, response.read())
    except urllib.error.HTTPError as e:
        with e:
            return HttpReply(e.code, e.read())


def metric_samples(text):
    """{metric name: [values]} of the samples in Prometheus text format."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_and_labels, value = line.rsplit(" ", 1)
        name = name_and_labels.split("{", 1)[0]
        samples.setdefault(name, []).append(float(value))
    return samples


def http_get(address, path, **kwargs):
    return http("GET", address, path, **kwargs)


def http_post(address, path, body=None, **kwargs):
    return http("POST", address, path, body=body if body is not None else b"", **kwargs)


def get_json(address, path, **kwargs):
    """GET expecting 200 and JSON; raises ValueError otherwise."""
    reply = http_get(address, path, **kwargs)
    if reply.status != 200:
        raise ValueError("GET %s%s answered %r" % (address, path, reply))
    return reply.json()


# --- processes -------------------------------------------------------------


def _die_with_parent():
    # Runs in the child between fork and exec: if the test process dies
    # (even by SIGKILL), the kernel kills the node too.
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def run_fjord(args, timeout=60, cwd=None):
    """Runs `fjord ARGS` to completion; returns the CompletedProcess (text)."""
    return subprocess.run([fjord_bin()] + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, preexec_fn=_die_with_parent)


def start_fjord(args, **popen_kwargs):
    """Starts `fjord ARGS` in the background (it dies with the test process)."""
    return subprocess.Popen([fjord_bin()] + list(args), preexec_fn=_die_with_parent, **popen_kwargs)


class Node:
    def __init__(self, node_id, root, ports):
        self.id = node_id
        self.rpc_port, self.kafka_port, self.redis_port, self.admin_port = ports
        self.data_dir = os.path.join(root, "node-%d" % node_id)
        self.log_path = os.path.join(root, "node-%d.log" % node_id)
        self.proc = None
        self.starts = 0

    @property
    def rpc_addr(self):
        return "127.0.0.1:%d" % self.rpc_port

    @property
    def kafka_addr(self):
        return "127.0.0.1:%d" % self.kafka_port

    @property
    def redis_addr(self):
        return "127.0.0.1:%d" % self.redis_port

    @property
    def admin(self):
        return "127.0.0.1:%d" % self.admin_port

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def get(self, path, **kwargs):
        return http_get(self.admin, path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return http_post(self.admin, path, body, **kwargs)

    def json(self, path, **kwargs):
        return get_json(self.admin, path, **kwargs)

    def __repr__(self):
        return "node %d" % self.id


class Cluster:
    """`with Cluster(n) as c:` starts n nodes and, on leaving (also on an
    exception), kills every node and removes the temporary directory."""

    def __init__(self, size=3, extra_args=(), election_timeout_ms=150, heartbeat_interval_ms=50,
                 replica_lag_time_ms=10000, keep_dir=False):
        self.size = size
        self.extra_args = list(extra_args)
        self.timing = ["--election-timeout-ms", str(election_timeout_ms),
                       "--heartbeat-interval-ms", str(heartbeat_interval_ms),
                       "--replica-lag-time-ms", str(replica_lag_time_ms)]
        self.keep_dir = keep_dir or bool(os.environ.get("FJORD_KEEP_TEST_DIR"))
        self.root = None
        self.nodes = {}
        self._log_files = []

    # lifecycle

    def __enter__(self):
        self.root = tempfile.mkdtemp(prefix="fjord-it-")
        ports = free_ports(4 * self.size)
        for i in range(self.size):
            node_id = i + 1
            self.nodes[node_id] = Node(node_id, self.root, ports[4 * i:4 * i + 4])
        try:
            for node in self.nodes.values():
                self.start(node.id)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and not isinstance(exc, WaitTimeout):
            sys.stderr.write("\n--- cluster logs at failure (%s) ---\n%s\n" % (exc_type.__name__, self.log_tails()))
        self.close()
        return False

    def close(self):
        for node in self.nodes.values():
            if node.proc is not None and node.proc.poll() is None:
                node.proc.kill()
        for node in self.nodes.values():
            if node.proc is not None:
                try:
                    node.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        for f in self._log_files:
            f.close()
        self._log_files = []
        if self.root and not self.keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.root:
            sys.stderr.write("kept test directory %s\n" % self.root)

    # nodes

    def node(self, node_id):
        return self.nodes[node_id]

    def __iter__(self):
        return iter(self.nodes.values())

    def initial_cluster(self):
        return ",".join("%d=%s" % (n.id, n.rpc_addr) for n in self.nodes.values())

    def serve_args(self, node_id):
        node = self.nodes[node_id]
        return (["serve", "--node-id", str(node.id), "--data-dir", node.data_dir, "--rpc-addr", node.rpc_addr,
                 "--kafka-addr", node.kafka_addr, "--redis-addr", node.redis_addr, "--admin-addr", node.admin,
                 "--initial-cluster", self.initial_cluster()] + self.timing + self.extra_args)

    def start(self, node_id):
        node = self.nodes[node_id]
        assert not node.running(), "%r is already running" % node
        node.starts += 1
        log = open(node.log_path, "ab")
        log.write(("\n===== start #%d of node %d =====\n" % (node.starts, node.id)).encode())
        log.flush()
        self._log_files.append(log)
        node.proc = subprocess.Popen([fjord_bin()] + self.serve_args(node_id), stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=self.root,
                                     preexec_fn=_die_with_parent)
        return node

    def restart(self, node_id):
        """Starts a stopped node again with the same data dir and ports."""
        return self.start(node_id)

    def wait_up(self, node_id, timeout=10):
        """Waits until the node answers /health with 200; fails at once if
        its process exits (e.g. it could not bind its ports)."""
        node = self.nodes[node_id]

        def up():
            if not node.running():
                raise AssertionError("node %d exited with %s while starting\n%s"
                                     % (node_id, node.proc.returncode, self.log_tails()))
            return node.get("/health", timeout=1).status == 200
        return self.wait_for(up, timeout, "node %d to answer /health with 200" % node_id)

    def kill(self, node_id, sig=signal.SIGKILL):
        """Sends `sig` to the node; for SIGKILL also reaps it."""
        node = self.nodes[node_id]
        assert node.running(), "%r is not running" % node
        node.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            node.proc.wait(timeout=10)
        return node

    def wait_exit(self, node_id, timeout):
        node = self.nodes[node_id]
        try:
            return node.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise WaitTimeout("node %d did not exit within %.1f s\n%s" % (node_id, timeout, self.log_tails()))

    def running_nodes(self):
        return [n for n in self.nodes.values() if n.running()]

    # waiting and diagnostics

    def wait_for(self, predicate, timeout, what, interval=POLL_INTERVAL):
        return wait_for(predicate, timeout, what, cluster=self, interval=interval)

    def log_tails(self, lines=LOG_TAIL_LINES):
        out = []
        for node in self.nodes.values():
            state = "running" if node.running() else (
                "exited %s" % node.proc.returncode if node.proc is not None else "never started")
            tail = node.log_text().splitlines()[-lines:]
            out.append("--- node %d (%s) log tail: %s ---" % (node.id, state, node.log_path))
            out.extend(tail)
        return "\n".join(out)

    # cluster views

    def status(self, node_id):
        return self.nodes[node_id].json("/cluster/status")

    def partitions(self, node_id):
        return self.nodes[node_id].json("/cluster/partitions")

    def partition(self, node_id, topic, partition):
        for p in self.partitions(node_id):
            if p["topic"] == topic and p["partition"] == partition:
                return p
        return None

    def agreed_controller_leader(self, node_ids=None, exclude=()):
        """The controller leader every running node (or `node_ids`) reports,
        if they all report the same live one; else None."""
        ids = node_ids if node_ids is not None else [n.id for n in self.running_nodes()]
        leaders = set(self.status(i)["controller_leader"] for i in ids)
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        if leader == -1 or leader in exclude or not self.nodes[leader].running():
            return None
        return leader

    def wait_controller_leader(self, timeout=10, node_ids=None, exclude=()):
        return self.wait_for(lambda: self.agreed_controller_leader(node_ids, exclude), timeout,
                             "all nodes to agree on a live controller leader")

    def settled_leader(self):
        """The controller leader if every running node's /cluster/status
        shows the same one, every node of the cluster alive and serving with
        its addresses registered, and no leaderless partition; else None."""
        expected = {n.id: [n.rpc_addr, n.kafka_addr, n.redis_addr, n.admin] for n in self.nodes.values()}
        leaders = set()
        for node in self.running_nodes():
            s = self.status(node.id)
            if s["node"] != node.id or s["controller_leader"] == -1 or s["leaderless_partitions"] != 0:
                return None
            seen = {n["id"]: [n["rpc_addr"], n["kafka_addr"], n["redis_addr"], n["admin_addr"]] for n in s["nodes"]}
            if seen != expected or not all(n["alive"] and n["serving"] for n in s["nodes"]):
                return None
            leaders.add(s["controller_leader"])
        return leaders.pop() if len(leaders) == 1 else None

    def wait_settled(self, timeout=15):
        """Waits until settled_leader() holds (all nodes must be running);
        returns the controller leader."""
        return self.wait_for(self.settled_leader, timeout,
                             "every node to agree on the controller leader with all nodes serving and registered")

    def wait_healthy(self, timeout=10, node_ids=None):
        ids = node_ids if node_ids is not None else [n.id for n in self.running_nodes()]
        return self.wait_for(lambda: all(self.nodes[i].get("/health").status == 200 for i in ids), timeout,
                             "/health 200 on nodes %s" % ids)

    def create_topic(self, name, partitions, replication_factor, timeout=15):
        """Creates a topic through whichever node leads the controller,
        following 421 answers; returns once a node answered 201."""
        body = {"name": name, "partitions": partitions, "replication_factor": replication_factor}

        def attempt():
            for node in self.running_nodes():
                reply = node.post("/topics", body)
                if reply.status == 201:
                    return True
                if reply.status not in (421, 503, 504):
                    raise AssertionError("POST /topics on %r answered %r" % (node, reply))
            return False
        self.wait_for(attempt, timeout, "topic %s to be created" % name)

    def topic_leaders(self, node_id, topic):
        """{partition: leader} of `topic` as `node_id` sees it."""
        return {p["partition"]: p["leader"] for p in self.partitions(node_id) if p["topic"] == topic}

    def wait_partition_leaders(self, topic, partitions, timeout=15, full_isr=None, exclude=()):
        """Waits until every running node reports a live leader (not in
        `exclude`) for each partition of `topic`, all agreeing, and (with
        `full_isr`) an ISR of that many replicas; returns {partition: leader}."""
        def check():
            seen = None
            for node in self.running_nodes():
                views = {p["partition"]: p for p in self.partitions(node.id) if p["topic"] == topic}
                if sorted(views) != list(range(partitions)):
                    return None
                leaders = {}
                for pid, p in views.items():
                    leader = p["leader"]
                    if leader == -1 or leader in exclude or not self.nodes[leader].running():
                        return None
                    if full_isr is not None and len(p["isr"]) != full_isr:
                        return None
                    leaders[pid] = leader
                if seen is not None and seen != leaders:
                    return None
                seen = leaders
            return seen
        return self.wait_for(check, timeout, "leaders for all %d partitions of %s" % (partitions, topic))

    def wait_preferred_leaders(self, topic, partitions, timeout=15):
        """Waits until every running node agrees that each partition of
        `topic` is led by its preferred replica (the first of its replicas)
        with all replicas in sync. Nodes hand leaderships back to preferred
        replicas every couple of seconds, so only this state is stable;
        returns {partition: leader}."""
        def check():
            agreed = None
            for node in self.running_nodes():
                view = {}
                for p in self.partitions(node.id):
                    if p["topic"] != topic:
                        continue
                    if p["leader"] != p["replicas"][0] or sorted(p["isr"]) != sorted(p["replicas"]):
                        return None
                    view[p["partition"]] = p["leader"]
                if sorted(view) != list(range(partitions)) or (agreed is not None and view != agreed):
                    return None
                agreed = view
            return agreed
        return self.wait_for(check, timeout,
                             "every partition of %s to be led by its preferred replica, all in sync" % topic)

    # the CLI

    def cli(self, *args, timeout=60):
        return run_fjord(list(args), timeout=timeout, cwd=self.root)
