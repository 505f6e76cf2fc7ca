#!/usr/bin/python3
"""Bad input: `fjord serve` refuses bad settings with one line naming the
setting (and a good --config file works, flags winning over it); a running
node survives garbage on its RPC and admin ports.

Usage: test_bad_input.py FJORD_BIN [unittest options]"""

import os
import random
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster, crc32c

# --- the node-to-node frame, written from its documentation (net/frame.h) ---
#   [u32 body length][u8 version = 1][u32 crc32c(body)][body], big-endian.


def frame(body, version=1, length=None, crc=None):
    return struct.pack(">IBI", len(body) if length is None else length, version,
                       crc32c(body) if crc is None else crc) + body


def hello(from_node, to_node, cluster_id):
    return struct.pack(">BQQI", 1, from_node, to_node, len(cluster_id)) + cluster_id


# --- bad settings ------------------------------------------------------------


class BadSettingsTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="fjord-it-flags-")
        self.ports = fjord_cluster.free_ports(8)

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def addr(self, i):
        return "127.0.0.1:%d" % self.ports[i]

    def args(self, **overrides):
        """Valid `serve` flags for node 1 of a 3-node cluster; an override of
        None drops that flag."""
        flags = {
            "--node-id": "1",
            "--data-dir": os.path.join(self.root, "data"),
            "--rpc-addr": self.addr(0),
            "--kafka-addr": self.addr(1),
            "--redis-addr": self.addr(2),
            "--admin-addr": self.addr(3),
            "--initial-cluster": "1=%s,2=%s,3=%s" % (self.addr(0), self.addr(4), self.addr(5)),
        }
        for key, value in overrides.items():
            flags["--" + key.replace("_", "-")] = value
        out = ["serve"]
        for key, value in flags.items():
            if value is not None:
                out += [key, value]
        return out

    def assert_refused(self, args, *names):
        """`fjord ARGS` exits non-zero with a single line of output naming
        every string in `names`."""
        result = fjord_cluster.run_fjord(args, timeout=20, cwd=self.root)
        output = (result.stdout + result.stderr).strip()
        where = "fjord %s\n  exit %d, output:\n%s" % (" ".join(args), result.returncode, output)
        self.assertNotEqual(result.returncode, 0, where)
        self.assertEqual(len([l for l in output.splitlines() if l.strip()]), 1, "not a single line: " + where)
        for name in names:
            self.assertIn(name, output, where)
        print("  refused: %s" % output)
        return output

    def test_bad_flags_are_refused(self):
        print()
        self.assert_refused(self.args(node_id="0"), "--node-id")
        self.assert_refused(self.args(node_id="4"), "--node-id", "4", "--initial-cluster")
        for bad in ["garbage", "1=%s,2" % self.addr(0), "1=%s,2=nohost" % self.addr(0),
                    "1=%s,1=%s" % (self.addr(0), self.addr(4)), "1=%s,x=%s" % (self.addr(0), self.addr(4)),
                    "1=%s,,2=%s" % (self.addr(0), self.addr(4)), ""]:
            self.assert_refused(self.args(initial_cluster=bad), "--initial-cluster")
        self.assert_refused(self.args(kafka_addr="127.0.0.1:70000"), "--kafka-addr", "70000")
        self.assert_refused(self.args(admin_addr="127.0.0.1:70000"), "--admin-addr", "70000")
        output = self.assert_refused(self.args(admin_addr=self.addr(1)), self.addr(1))
        self.assertTrue("--admin-addr" in output or "--kafka-addr" in output, output)
        output = self.assert_refused(self.args(redis_addr=self.addr(0)), self.addr(0))
        self.assertTrue("--redis-addr" in output or "--rpc-addr" in output, output)
        self.assert_refused(self.args(data_dir=None), "--data-dir")

    def test_unknown_config_key_is_refused(self):
        print()
        path = os.path.join(self.root, "bad.toml")
        with open(path, "w") as f:
            f.write('node-id = 1\nelection-timeout-ms = 150\nno-such-setting = 3\n')
        self.assert_refused(self.args(config=path), "no-such-setting")

    def test_config_file_with_flag_override(self):
        """A valid TOML file starts a (single-node) cluster; a flag wins over
        the file's value of the same setting."""
        data_dir = os.path.join(self.root, "data")
        path = os.path.join(self.root, "node.toml")
        with open(path, "w") as f:
            f.write('# node 1, alone\n'
                    'node-id = 1\n'
                    'data-dir = "%s"\n'
                    'rpc-addr = "%s"\n'
                    'kafka-addr = "%s"\n'
                    'redis-addr = "%s"\n'
                    'admin-addr = "%s"\n'
                    'initial-cluster = "1=%s"\n'
                    'election-timeout-ms = 150\n'
                    'heartbeat-interval-ms = 50\n'
                    % (data_dir, self.addr(0), self.addr(1), self.addr(2), self.addr(3), self.addr(0)))
        admin = self.addr(6)  # the flag's value, not the file's
        log_path = os.path.join(self.root, "node.log")
        with open(log_path, "wb") as log:
            proc = fjord_cluster.start_fjord(["serve", "--config", path, "--admin-addr", admin],
                                             stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        try:
            def up():
                if proc.poll() is not None:
                    with open(log_path, errors="replace") as f:
                        raise AssertionError("node exited with %d:\n%s" % (proc.returncode, f.read()))
                return fjord_cluster.http_get(admin, "/health", timeout=1).status == 200
            fjord_cluster.wait_for(up, 10, "the node started from %s to answer /health on %s" % (path, admin))
            status = fjord_cluster.get_json(admin, "/cluster/status")
            self.assertEqual(status["node"], 1)
            self.assertEqual(status["controller_leader"], 1)
            self.assertEqual([(n["id"], n["rpc_addr"], n["kafka_addr"], n["admin_addr"]) for n in status["nodes"]],
                             [(1, self.addr(0), self.addr(1), admin)])
            # Nothing listens on the file's admin address.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", self.ports[3]), timeout=2).close()
            self.assertTrue(os.path.isdir(data_dir), "the node keeps its data in the file's data-dir")
        finally:
            proc.kill()
            proc.wait()


# --- garbage on the listening ports -----------------------------------------


def exchange(port, payload, read_timeout=2.0, shutdown_write=False):
    """Connects, sends `payload` (as far as the peer takes it), optionally
    half-closes, then reads until the peer closes or `read_timeout`. Returns
    (what the peer did: "closed" / "reset" / "open", bytes received)."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(payload)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the node hung up early, as it may
        s.settimeout(read_timeout)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return "closed", received
                received += chunk
        except socket.timeout:
            return "open", received
        except ConnectionResetError:
            return "reset", received


class GarbageTest(unittest.TestCase):
    def test_node_survives_garbage(self):
        rng = random.Random(20240611)
        with Cluster(3) as cluster:
            leader = cluster.wait_settled(timeout=15)
            target = cluster.node(leader)  # the controller's leader: the worst place to stall
            terms_before = cluster.partition(leader, "__controller", 0)["term"]
            rpc, admin = target.rpc_port, target.admin_port

            big = 2 * 1024 * 1024
            cases = [
                ("rpc: random bytes", rpc, rng.randbytes(64 * 1024), False),
                ("rpc: huge length prefix", rpc, frame(b"x" * 64, length=0xFFFFFFF0), False),
                # (A length prefix at the 64 MiB limit itself: see the next test.)
                ("rpc: bad frame version", rpc, frame(b"hello", version=7), False),
                ("rpc: bad checksum", rpc, frame(rng.randbytes(100), crc=1), False),
                ("rpc: valid frames of random bodies", rpc,
                 b"".join(frame(rng.randbytes(rng.randrange(0, 300))) for _ in range(20)), False),
                ("rpc: hello from an unknown node", rpc, frame(hello(99, leader, b"not-this-cluster")), False),
                ("rpc: hello claiming a peer, other cluster", rpc,
                 frame(hello(next(n.id for n in cluster if n.id != leader), leader, b"other")), False),
                ("rpc: hello with a lying cluster id length", rpc,
                 frame(struct.pack(">BQQI", 1, 1, leader, 0xFFFFFFFF) + b"abc"), False),
                ("rpc: HTTP request", rpc, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", False),
                ("rpc: half a frame, then close", rpc, frame(b"z" * 1000)[:509], True),
                ("rpc: half a header, then close", rpc, frame(b"z" * 1000)[:4], True),
                ("admin: random bytes", admin, rng.randbytes(64 * 1024), False),
                ("admin: NUL bytes", admin, b"\0" * 10000, False),
                ("admin: huge Content-Length", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}", False),
                ("admin: 4 GiB Content-Length", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Length: 4294967296\r\n\r\n{}", False),
                ("admin: huge chunk size", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffff\r\nab", False),
                ("admin: raft frame", admin, frame(hello(2, 1, b"fjord")), False),
                ("admin: half a request, then close", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na", True),
                ("admin: huge header", admin,
                 b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n", False),
                ("admin: bad JSON", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{\"name\"", False),
                ("admin: records of a non-topic", admin,
                 b"POST /topics/%00%ff/partitions/99999999999/records HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 14\r\nConnection: close\r\n\r\n{\"values\":[1]}", False),
                ("admin: 2 MiB body", admin,
                 b"POST /topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                 % big + b"{\"name\":\"" + b"a" * (big - 12) + b"\"}", False),
            ]
            print()
            for name, port, payload, half_close in cases:
                started = time.monotonic()
                outcome, answer = exchange(port, payload, shutdown_write=half_close)
                first_line = answer.split(b"\r\n", 1)[0][:80]
                print("  %-44s -> %-6s %.2fs %r" % (name, outcome, time.monotonic() - started, first_line))
                if name == "admin: 2 MiB body":
                    self.assertTrue(first_line.startswith(b"HTTP/1.1 413"), "2 MiB body answered %r" % first_line)
                # The node is still up and answering after each one.
                self.assertTrue(target.running(), "node %d died after '%s'\n%s" % (leader, name, cluster.log_tails()))
                reply = target.get("/health")
                self.assertEqual(reply.status, 200, "after '%s': %r" % (name, reply))

            # Everything at once, from several connections.
            socks = []
            try:
                for port in (rpc, admin) * 10:
                    s = socket.create_connection(("127.0.0.1", port), timeout=5)
                    s.sendall(frame(b"q" * 100)[:50])
                    socks.append(s)
                cluster.wait_healthy(timeout=5, node_ids=[leader])
            finally:
                for s in socks:
                    s.close()

            self.assertTrue(target.running())
            self.assertEqual(cluster.wait_settled(timeout=10), leader, "the controller leader changed")
            term_after = cluster.partition(leader, "__controller", 0)["term"]
            print("controller leader %d kept; __controller term %d -> %d" % (leader, terms_before, term_after))
            metrics = target.get("/metrics").text
            print("  " + "\n  ".join(l for l in metrics.splitlines() if l.startswith("fjord_rpc_decode_errors")))

            # The attacked node still serves the log, both ways.
            values = ["after-garbage-%d" % i for i in range(10)]
            result = cluster.cli("log", "append", "--bootstrap", target.kafka_addr, "--topic", "survivor", *values)
            self.assertEqual(result.returncode, 0, result.stderr)
            offsets = [int(l) for l in result.stdout.split()]
            result = cluster.cli("log", "read", "--bootstrap", target.kafka_addr, "--topic", "survivor")
            self.assertEqual(result.returncode, 0, result.stderr)
            entries = [line.split(" ", 2) for line in result.stdout.splitlines()]
            self.assertEqual([(int(o), v) for o, _, v in entries], list(zip(offsets, values)))
            for node in cluster:
                self.assertTrue(node.running(), "node %d exited\n%s" % (node.id, cluster.log_tails()))

    def test_unauthenticated_length_prefixes_cost_no_memory(self):
        """A 9-byte frame header announcing a body at the size limit (64 MiB),
        sent before any Hello by a stranger, must not make the node reserve
        that much memory: a few such connections would otherwise exhaust
        memory and stall the node's event loop long enough to lose its
        leaderships."""
        connections = 8
        with Cluster(3) as cluster:
            leader = cluster.wait_settled(timeout=15)
            target = cluster.node(leader)
            term_before = cluster.partition(leader, "__controller", 0)["term"]
            rss_before = rss_mib(target.proc.pid)
            socks = []
            try:
                for _ in range(connections):
                    s = socket.create_connection(("127.0.0.1", target.rpc_port), timeout=5)
                    s.sendall(frame(b"", length=64 << 20))  # the header only
                    socks.append(s)
                # Observe the node for a second (well within its 5 s Hello timeout).
                peak, leaders = rss_before, set()
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:
                    peak = max(peak, rss_mib(target.proc.pid))
                    leaders.add(cluster.status(leader)["controller_leader"])
                    time.sleep(fjord_cluster.POLL_INTERVAL)  # sampling pace
            finally:
                for s in socks:
                    s.close()
            after = cluster.wait_settled(timeout=10)
            term_after = cluster.partition(after, "__controller", 0)["term"]
            print("\n%d connections with a 64 MiB length prefix: node %d RSS %d -> peak %d MiB; "
                  "controller leader %d -> %d (seen: %s), term %d -> %d"
                  % (connections, leader, rss_before, peak, leader, after, sorted(leaders), term_before, term_after))
            self.assertLess(peak - rss_before, 64,
                            "node %d reserved %d MiB for %d unauthenticated 9-byte frame headers"
                            % (leader, peak - rss_before, connections))
            self.assertEqual((after, term_after), (leader, term_before),
                             "the controller lost its leader to %d unauthenticated frame headers\n%s"
                             % (connections, cluster.log_tails()))


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise ValueError("no VmRSS for pid %d" % pid)


if __name__ == "__main__":
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    fjord_cluster.main()
