#!/usr/bin/python3
"""The Redis listener of every node, driven by the `redis-cli` binary and by
raw sockets: string-command round trips through each node (a write through
one node read through the others), `INFO replication` on every node (a role
line, the replication offset, one line per shard, the shards' leaders agreed
between nodes and with the admin API, at least one master), `redis-cli`
reading commands from stdin and `--pipe` mass insertion, and error replies
that leave the connection usable: the inline PUT / READ / DELETE aliases,
bad arity, unknown commands, INCR of a non-integer and values above
--redis-max-value-bytes, all followed by commands on the same connection. A
protocol error is answered, then the connection closed.

Usage: test_redis_cli.py FJORD_BIN [unittest options]"""

import math
import re
import shutil
import socket
import subprocess
import time
import unittest

import fjord_cluster
from redis_support import SHARDS, shard_of, start_kv_cluster

MAX_VALUE = 1024  # --redis-max-value-bytes
CLI_TIMEOUT = 20


# --- a minimal RESP2 client over a raw socket -----------------------------

class RawConnection:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def command(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.send(out)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by the server")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """The next reply: str for +, ('err', text) for -, int, bytes or None, list."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return ("err", rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self._fill()
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise AssertionError("not a RESP reply: %r" % line)

    def call(self, *args):
        self.command(*args)
        return self.reply()

    def closed_by_server(self, timeout=5):
        """True once the server has closed the connection (EOF, or a reset)."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


# --- redis-cli -------------------------------------------------------------

def cli(node, *args, stdin=None):
    """Runs `redis-cli -p PORT ARGS`; returns stdout (raw output: stdout is a pipe)."""
    p = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(node.redis_port)] + [str(a) for a in args],
                       input=stdin, capture_output=True, text=True, timeout=CLI_TIMEOUT)
    if p.returncode != 0:
        raise AssertionError("redis-cli %s against %r exited %d: %s%s" % (args, node, p.returncode, p.stdout, p.stderr))
    return p.stdout


def cli1(node, *args):
    """One command's raw reply, without the trailing newline."""
    out = cli(node, *args)
    assert out.endswith("\n"), out
    return out[:-1]


def parse_info(text):
    fields = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        fields[key] = value
    return fields


SHARD_LINE = re.compile(r"role=(leader|follower),leader=(-?\d+),term=(\d+),applied=(\d+),commit=(\d+),last=(\d+)\Z")
SLAVE_LINE = re.compile(r"ip=([\d.]+),port=(\d+),node=(\d+),state=(online|offline),offset=(\d+),lag=(\d+)\Z")


class RedisCliTest(unittest.TestCase):
    """One cluster for all the tests of this file (each uses its own keys)."""

    @classmethod
    def setUpClass(cls):
        if shutil.which("redis-cli") is None:
            raise unittest.SkipTest("redis-cli is not installed")
        cls.cluster, ready_s = start_kv_cluster(3, extra_args=["--redis-max-value-bytes", str(MAX_VALUE)])
        cls.nodes = list(cls.cluster)
        print("\nkey-value shards ready %.3f s after the cluster settled" % ready_s)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.close()

    def test_connection_commands(self):
        for node in self.nodes:
            self.assertEqual(cli1(node, "PING"), "PONG", node)
            self.assertEqual(cli1(node, "ECHO", "hello fjord"), "hello fjord", node)
            self.assertEqual(cli1(node, "SELECT", "0"), "OK", node)
            self.assertIn("ERR", cli1(node, "SELECT", "1"), node)
            self.assertGreaterEqual(int(cli1(node, "COMMAND", "COUNT")), 40, node)
            info = parse_info(cli(node, "INFO", "server"))
            self.assertEqual(info.get("fjord_node_id"), str(node.id), info)

    def test_round_trips_through_every_node(self):
        """Written through each node, read through every node."""
        cluster, nodes = self.cluster, self.nodes
        for writer in nodes:
            others = [n for n in nodes if n is not writer]
            key, counter, doomed = ("cli:%d:%s" % (writer.id, what) for what in ("value", "counter", "ttl"))
            value = "written through node %d" % writer.id
            self.assertEqual(cli1(writer, "SET", key, value), "OK")
            for reader in nodes:
                self.assertEqual(cli1(reader, "GET", key), value, "GET %s through %r" % (key, reader))
                self.assertEqual(cli1(reader, "STRLEN", key), str(len(value)))
                self.assertEqual(cli1(reader, "TYPE", key), "string")
                self.assertEqual(cli1(reader, "EXISTS", key, "cli:missing"), "1")

            # INCR through every node in turn: each sees the one before it.
            for i, n in enumerate(nodes * 2):
                self.assertEqual(cli1(n, "INCR", counter), str(i + 1), "INCR %s through %r" % (counter, n))
            self.assertEqual(cli1(writer, "INCRBY", counter, "10"), "16")
            self.assertEqual(cli1(others[0], "DECRBY", counter, "4"), "12")
            self.assertEqual(cli1(others[1], "DECR", counter), "11")
            self.assertEqual(cli1(writer, "GET", counter), "11")

            # SET options, GETSET, APPEND, SETNX.
            self.assertEqual(cli1(writer, "SET", key, "v2", "XX", "GET"), value)
            self.assertEqual(cli1(others[0], "SET", key, "v3", "NX"), "")  # nil: exists
            self.assertEqual(cli1(others[1], "GETSET", key, "v4"), "v2")
            self.assertEqual(cli1(writer, "APPEND", key, "-more"), "7")
            self.assertEqual(cli1(others[0], "GET", key), "v4-more")
            self.assertEqual(cli1(others[1], "SETNX", key, "x"), "0")
            self.assertEqual(cli1(others[1], "SETNX", key + ":new", "x"), "1")

            # Expiry: EXPIRE through the writer, TTL and PTTL through the others.
            self.assertEqual(cli1(writer, "SET", doomed, "soon gone"), "OK")
            self.assertEqual(cli1(others[0], "TTL", doomed), "-1")
            self.assertEqual(cli1(writer, "EXPIRE", doomed, "100"), "1")
            for reader in others:
                ttl = int(cli1(reader, "TTL", doomed))
                self.assertTrue(90 <= ttl <= 100, "TTL %s through %r: %d" % (doomed, reader, ttl))
                pttl = int(cli1(reader, "PTTL", doomed))
                self.assertTrue(90000 <= pttl <= 100000, "PTTL %s through %r: %d" % (doomed, reader, pttl))
            self.assertEqual(cli1(others[1], "PERSIST", doomed), "1")
            self.assertEqual(cli1(writer, "TTL", doomed), "-1")
            self.assertEqual(cli1(others[0], "PEXPIRE", doomed, "300"), "1")
            # The leader deletes the expired key: it disappears on every node.
            for reader in nodes:
                cluster.wait_for(lambda: cli1(reader, "EXISTS", doomed) == "0", 10,
                                 "%s to expire as %r sees it" % (doomed, reader))
                self.assertEqual(cli1(reader, "TTL", doomed), "-2")
            self.assertEqual(cli1(writer, "SET", doomed, "x", "PX", "100000"), "OK")
            self.assertTrue(95 <= int(cli1(others[0], "TTL", doomed)) <= 100)
            self.assertEqual(cli1(others[1], "SET", doomed, "y", "KEEPTTL"), "OK")
            self.assertTrue(95 <= int(cli1(writer, "TTL", doomed)) <= 100)

            # DEL through another node: gone everywhere.
            self.assertEqual(cli1(others[0], "DEL", key, key + ":new", "cli:missing"), "2")
            for reader in nodes:
                self.assertEqual(cli1(reader, "GET", key), "", "GET %s after DEL through %r" % (key, reader))
                self.assertEqual(cli1(reader, "EXISTS", key), "0")
                self.assertEqual(cli1(reader, "TYPE", key), "none")
        print("SET/GET/INCR/EXPIRE/TTL/DEL round trips through each of the 3 nodes agree on every node")

    def test_info_replication_and_keyspace(self):
        cluster, nodes = self.cluster, self.nodes
        self.assertEqual(cli1(nodes[0], "MSET", *[x for i in range(50) for x in ("info:%d" % i, "v")]), "OK")

        def replication_views():
            views = {}
            for node in nodes:
                info = parse_info(cli(node, "INFO", "replication"))
                self.assertIn(info.get("role"), ("master", "slave"), "%r: %s" % (node, info))
                self.assertRegex(info.get("master_repl_offset", ""), r"^\d+$", "%r: %s" % (node, info))
                slaves = int(info["connected_slaves"])
                lines = [info.get("slave%d" % i) for i in range(slaves)]
                for line in lines:
                    self.assertRegex(line or "", SLAVE_LINE, "%r: %s" % (node, info))
                shards = {}
                for s in range(SHARDS):
                    line = info.get("shard%d" % s)
                    self.assertIsNotNone(line, "%r has no shard%d line: %s" % (node, s, info))
                    m = SHARD_LINE.match(line)
                    self.assertIsNotNone(m, "%r shard%d: %r" % (node, s, line))
                    role, leader, term, applied, commit, last = m.groups()
                    self.assertLessEqual(int(applied), int(commit), line)
                    self.assertLessEqual(int(commit), int(last), line)
                    shards[s] = (role, int(leader), int(term))
                leading = sum(1 for role, _, _ in shards.values() if role == "leader")
                self.assertEqual(int(info["leading_shards"]), leading, "%r: %s" % (node, info))
                self.assertEqual(info["role"], "master" if leading else "slave", "%r: %s" % (node, info))
                if leading:
                    others = sorted(int(SLAVE_LINE.match(l).group(3)) for l in lines)
                    self.assertEqual(others, sorted(n.id for n in nodes if n is not node),
                                     "%r: %s" % (node, info))
                views[node.id] = (info, shards)
            return views

        def agreed():
            """Every shard has one leader: the one node calling itself
            leader, named by all nodes and by the admin API."""
            views = replication_views()
            admin = {p["partition"]: p["leader"] for p in cluster.partitions(1) if p["topic"] == "__kv"}
            for s in range(SHARDS):
                named = set(shards[s][1] for _, shards in views.values())
                claiming = [nid for nid, (_, shards) in views.items() if shards[s][0] == "leader"]
                if len(named) != 1 or claiming != list(named) or admin.get(s) != claiming[0]:
                    return None
            return views
        views = cluster.wait_for(agreed, 15, "INFO replication of every node to agree on each shard's leader")
        roles = {nid: info["role"] for nid, (info, _) in views.items()}
        self.assertIn("master", roles.values(), roles)
        for nid, (info, _) in views.items():
            print("node %d: role:%s leading_shards:%s connected_slaves:%s master_repl_offset:%s"
                  % (nid, info["role"], info["leading_shards"], info["connected_slaves"],
                     info["master_repl_offset"]))

        # --- INFO keyspace and DBSIZE agree once every node applied everything
        def keyspace_agrees():
            size = int(cli1(nodes[0], "DBSIZE"))
            counts = []
            for node in nodes:
                db0 = parse_info(cli(node, "INFO", "keyspace")).get("db0", "")
                m = re.match(r"keys=(\d+),", db0)
                counts.append(int(m.group(1)) if m else None)
            return size > 0 and all(c == size for c in counts) and (size, counts)
        size, _ = cluster.wait_for(keyspace_agrees, 15, "INFO keyspace of every node to count DBSIZE keys")
        print("DBSIZE %d; INFO keyspace db0 keys=%d on every node" % (size, size))

    def test_commands_from_stdin_on_one_connection(self):
        """redis-cli runs the lines of its stdin on one connection."""
        nodes = self.nodes
        script = "\n".join([
            "SET cli:stdin 41",
            "GET",               # wrong arity
            "INCR cli:stdin",
            "NOSUCHCOMMAND a b",
            "SET cli:stdin:text hello",
            "INCR cli:stdin:text",  # not an integer
            "GET cli:stdin",
            "PING",
        ]) + "\n"
        out = cli(nodes[1], stdin=script).splitlines()
        expected = ["OK", "ERR wrong number of arguments for 'get' command", "42",
                    "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' 'b' ", "OK",
                    "ERR value is not an integer or out of range", "42", "PONG"]
        self.assertEqual([l for l in out if l != ""], expected, out)

    def test_inline_commands_pipelined(self):
        """Inline commands (and the PUT / READ / DELETE aliases) in one send."""
        nodes = self.nodes
        for node in nodes:
            c = RawConnection(node.redis_port)
            try:
                key = "inline-%d" % node.id
                c.send(b"PING\r\nECHO  spaced\r\n\r\nSET %s \"two words\"\r\nGET %s\r\n" % (key.encode(), key.encode()))
                replies = [c.reply() for _ in range(4)]
                self.assertEqual(replies, ["PONG", b"spaced", "OK", b"two words"], node)
                c.send(b"PUT %s v\r\nREAD %s\r\nDELETE %s\r\nREAD %s\r\n" % ((key.encode(),) * 4))
                replies = [c.reply() for _ in range(4)]
                self.assertEqual(replies, ["OK", b"v", 1, None], "inline PUT/READ/DELETE/READ through %r" % node)
            finally:
                c.close()
        print("inline PUT / READ / DELETE / READ pipelined in one send answered OK, v, 1, nil on every node")

    def test_config_set_appendfsync_sets_every_shards_flush_policy(self):
        """CONFIG SET appendfsync through any node changes the flush policy of every shard's log,
        cluster-wide: one client's sync SETs to one shard cost the nodes no fsyncs with `no`, about one
        per replica and second with `everysec`, and one on every replica each with `always` (the
        default). A value Redis would refuse is refused and the connection stays usable."""
        nodes = self.nodes
        for node in nodes:
            self.assertEqual(cli(node, "CONFIG", "GET", "appendfsync"), "appendfsync\nalways\n", node)
            self.assertEqual(cli(node, "CONFIG", "GET", "appendonly"), "appendonly\nyes\n", node)

        def fsyncs():
            return sum(sum(fjord_cluster.metric_samples(n.get("/metrics").text)["fjord_storage_fsyncs_total"])
                       for n in nodes)

        def set_everywhere(value):
            self.assertEqual(cli1(nodes[1], "CONFIG", "SET", "appendfsync", value), "OK")
            self.cluster.wait_for(
                lambda: all(cli(n, "CONFIG", "GET", "appendfsync") == "appendfsync\n%s\n" % value for n in nodes),
                10, "every node to report appendfsync %s" % value)

        keys = ["{appendfsync}:%d" % i for i in range(200)]  # one shard: three replica logs
        c = RawConnection(nodes[0].redis_port)
        try:
            reply = c.call("CONFIG", "SET", "appendfsync", "sometimes")
            self.assertEqual(reply[0], "err", reply)
            self.assertIn("must be one of the following: always, everysec, no", reply[1])
            self.assertEqual(c.call("PING"), "PONG")
            configs_of = {"no": {"flush.policy": "never"},  # flush.ms goes: it would be a stale setting
                          "everysec": {"flush.policy": "interval", "flush.ms": "1000"},
                          "always": {"flush.policy": "every_append"}}
            for value in ("no", "everysec", "always"):
                set_everywhere(value)
                self.assertEqual(nodes[2].get("/topics/__kv").json()["configs"], configs_of[value], value)
                before, started = fsyncs(), time.monotonic()
                for key in keys:
                    self.assertEqual(c.call("SET", key, value), "OK")
                spent, elapsed = fsyncs() - before, time.monotonic() - started
                print("appendfsync %s: %d fsyncs over the nodes for 200 sync SETs in %.2f s" % (value, spent, elapsed))
                if value == "always":
                    self.assertGreaterEqual(spent, len(keys), value)
                else:
                    # `everysec`: each of the three logs once a second, plus the
                    # logs the `no` phase left unsynced; `no`: none of them.
                    most = 0 if value == "no" else 3 * (math.ceil(elapsed) + 2)
                    self.assertLessEqual(spent, most + 2, value)  # +2: the controller's own log, if it moved
            for key in keys:
                self.assertEqual(c.call("GET", key), b"always")
        finally:
            c.close()
            set_everywhere("always")

    def test_errors_keep_the_connection_usable(self):
        nodes = self.nodes
        c = RawConnection(nodes[2].redis_port)
        try:
            # Several commands in one send: each error answered in its place.
            c.send(b"*1\r\n$3\r\nGET\r\n*1\r\n$4\r\nPING\r\n")
            self.assertEqual(c.reply(), ("err", "ERR wrong number of arguments for 'get' command"))
            self.assertEqual(c.reply(), "PONG")
            self.assertEqual(c.call("SET", "k", "v", "EX"), ("err", "ERR syntax error"))
            reply = c.call("FROBNICATE", "x")
            self.assertEqual(reply[0], "err", reply)
            self.assertTrue(reply[1].startswith("ERR unknown command 'FROBNICATE'"), reply)
            self.assertEqual(c.call("PING"), "PONG")
            self.assertEqual(c.call("SET", "errs:text", "abc"), "OK")
            self.assertEqual(c.call("INCR", "errs:text"), ("err", "ERR value is not an integer or out of range"))
            self.assertEqual(c.call("GET", "errs:text"), b"abc")
            self.assertEqual(c.call("INCRBY", "errs:n", "x"), ("err", "ERR value is not an integer or out of range"))
            self.assertEqual(c.call("SET", "errs:n", "9223372036854775807"), "OK")
            self.assertEqual(c.call("INCR", "errs:n")[0], "err")
            self.assertEqual(c.call("GET", "errs:n"), b"9223372036854775807")

            # Values above --redis-max-value-bytes are refused, in every write command.
            limit_error = ("err", "ERR value is larger than the maximum of %d bytes" % MAX_VALUE)
            big = b"x" * (MAX_VALUE + 1)
            self.assertEqual(c.call("SET", "errs:big", big), limit_error)
            self.assertEqual(c.call("GET", "errs:big"), None)
            self.assertEqual(c.call("MSET", "errs:a", "1", "errs:big", big), limit_error)
            self.assertEqual(c.call("SETNX", "errs:big", big), limit_error)
            self.assertEqual(c.call("GETSET", "errs:big", big), limit_error)
            self.assertEqual(c.call("SET", "errs:big", b"y" * MAX_VALUE), "OK")  # exactly the limit
            self.assertEqual(c.call("APPEND", "errs:big", "z"), limit_error)
            self.assertEqual(c.call("STRLEN", "errs:big"), MAX_VALUE)
            self.assertEqual(c.call("PING"), "PONG")
            # The same through the other nodes (the limit is checked on the shard's leader).
            for node in nodes[:2]:
                other = RawConnection(node.redis_port)
                try:
                    self.assertEqual(other.call("SET", "errs:big:%d" % node.id, big), limit_error, node)
                    self.assertEqual(other.call("GET", "errs:big"), b"y" * MAX_VALUE, node)
                finally:
                    other.close()
        finally:
            c.close()
        print("bad arity, unknown command, syntax error, INCR of a non-integer and a %d-byte value (limit %d) "
              "answered with errors; the connection kept working" % (MAX_VALUE + 1, MAX_VALUE))

    def test_protocol_error_closes_the_connection(self):
        """A protocol error is answered, then the connection closed."""
        nodes = self.nodes
        c = RawConnection(nodes[0].redis_port)
        try:
            self.assertEqual(c.call("PING"), "PONG")
            c.send(b"*1\r\n$x\r\nPING\r\n")
            reply = c.reply()
            self.assertEqual(reply[0], "err", reply)
            self.assertTrue(c.closed_by_server(), "the connection stayed open after a protocol error")
            print("protocol error answered %r, then the connection was closed" % (reply[1],))
        finally:
            c.close()
        # The node still serves new connections.
        self.assertEqual(cli1(nodes[0], "PING"), "PONG")

    def test_mass_insertion_with_pipe(self):
        """`redis-cli --pipe`: more commands in one send than a connection
        keeps in flight (1024), then the ECHO redis-cli waits for."""
        nodes = self.nodes
        for count in (1000, 5000):
            proto = "".join("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                            % (len("pipe:%d" % i), "pipe:%d" % i, len("v%d" % i), "v%d" % i) for i in range(count))
            started = time.monotonic()
            try:
                out = cli(nodes[0], "--pipe", stdin=proto)
            except subprocess.TimeoutExpired:
                self.fail("redis-cli --pipe of %d SETs got no answer to its final ECHO within %d s"
                          % (count, CLI_TIMEOUT))
            elapsed = time.monotonic() - started
            self.assertIn("errors: 0, replies: %d" % count, out, out)
            for reader in nodes:
                some = ["pipe:%d" % i for i in range(0, count, 97)] + ["pipe:%d" % (count - 1)]
                got = cli(reader, "MGET", *some).splitlines()
                self.assertEqual(got, ["v" + k.split(":")[1] for k in some], reader)
            print("redis-cli --pipe: %d SETs in %.3f s, spread over %d shards"
                  % (count, elapsed, len(set(shard_of("pipe:%d" % i) for i in range(count)))))


class ServerModesTest(unittest.TestCase):
    """--redis-write-mode and --redis-read-mode are where every connection
    starts; WRITEMODE and READMODE without an argument name the
    connection's current mode, and READWRITE returns to the server's."""

    def test_server_flags_set_each_connections_modes(self):
        if shutil.which("redis-cli") is None:
            raise unittest.SkipTest("redis-cli is not installed")
        flags = ["--redis-write-mode", "async", "--redis-read-mode", "stale"]
        cluster, _ = start_kv_cluster(1, extra_args=flags)
        try:
            node = cluster.node(1)
            self.assertEqual(cli1(node, "WRITEMODE"), "async")
            self.assertEqual(cli1(node, "READMODE"), "stale")
            info = parse_info(cli(node, "INFO", "server"))
            self.assertEqual((info.get("fjord_write_mode"), info.get("fjord_read_mode")), ("async", "stale"))
            conn = RawConnection(node.redis_port)
            try:
                for command, reply in ((("READMODE", "LEASE"), "+OK"), (("READMODE",), "+lease"),
                                       (("WRITEMODE", "SYNC"), "+OK"), (("WRITEMODE",), "+sync"),
                                       (("READWRITE",), "+OK"), (("READMODE",), "+stale"),
                                       (("SET", "modes:k", "v"), "+OK")):
                    conn.command(*command)
                    self.assertEqual(conn._line().decode(), reply, command)
                conn.command("GET", "modes:k")
                self.assertEqual((conn._line(), conn._line()), (b"$1", b"v"))
                conn.command("READMODE", "LEASE", "extra")
                self.assertIn("wrong number of arguments", conn._line().decode())
            finally:
                conn.close()
        finally:
            cluster.close()

    def test_default_modes(self):
        if shutil.which("redis-cli") is None:
            raise unittest.SkipTest("redis-cli is not installed")
        cluster, _ = start_kv_cluster(1)
        try:
            self.assertEqual(cli1(cluster.node(1), "WRITEMODE"), "sync")
            self.assertEqual(cli1(cluster.node(1), "READMODE"), "linearizable")
        finally:
            cluster.close()


if __name__ == "__main__":
    fjord_cluster.main()
