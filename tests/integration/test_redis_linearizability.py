#!/usr/bin/python3
"""Linearizability of GET / SET / INCR through crashes and pauses. Six
client threads, each with its own redis-py connection (1 s timeout) to a
random node, run random GET, SET (integer strings only, so that INCR never
fails) and INCR on 4 keys in 4 shards for about 24 s; four of them read
linearizably (ReadIndex), two with READMODE lease. Mid-way the node leading
the most of those shards is killed with SIGKILL and later restarted; then the
node leading the most of them is paused (SIGSTOP) for 2 s and resumed, so
that a deposed leader comes back. Every operation is recorded with its
call and return times: -TRYAGAIN and refused connections mean the command
did not run (dropped); timeouts and other errors leave its outcome unknown.
The history must be linearizable (tests/integration/linearizability.py, Wing
& Gong with memoization), and operations on the victim's shards must have
completed while it was down.

Usage: test_redis_linearizability.py FJORD_BIN [unittest options]"""

import collections
import random
import signal
import threading
import time
import unittest

import redis

import fjord_cluster
from fjord_cluster import Cluster
from linearizability import Op, check
from redis_support import KV, SHARDS, client, shard_of, wait_kv_ready

CLIENTS = 6
LEASE_CLIENTS = (4, 5)
CLIENT_TIMEOUT_S = 1.0
RUN_S = 24.0
KILL_AT_S = 6.0
RESTART_AT_S = 12.0
PAUSE_AT_S = 16.0
PAUSE_S = 2.0
CHECK_TIMEOUT_S = 120


def pick_keys(count):
    """`count` keys in distinct shards."""
    keys, shards = [], set()
    i = 0
    while len(keys) < count:
        key = "lin:%d" % i
        if shard_of(key) not in shards:
            shards.add(shard_of(key))
            keys.append(key)
        i += 1
    return keys


class Client(threading.Thread):
    def __init__(self, cid, cluster, keys, seed):
        super().__init__(name="client-%d" % cid, daemon=True)
        self.cid = cid
        self.cluster = cluster
        self.keys = keys
        self.rng = random.Random(seed)
        self.lease = cid in LEASE_CLIENTS
        self.history = []
        self.outcomes = collections.Counter()
        self.bad = []  # replies no correct server gives (INCR of a non-integer)
        self.stop = threading.Event()
        self.error = None
        self.r = None
        self.node = None

    def connect(self):
        if self.r is not None:
            self.r.close()
        nodes = [n for n in self.cluster.nodes.values()]
        self.node = self.rng.choice(nodes)
        self.r = client(self.node, socket_timeout=CLIENT_TIMEOUT_S, single_connection_client=True)
        if self.lease:
            self.r.execute_command("READMODE", "LEASE")

    def run(self):
        try:
            while not self.stop.is_set():
                if self.r is None:
                    try:
                        self.connect()
                    except (redis.ConnectionError, redis.TimeoutError):
                        self.r = None
                        self.outcomes["connect failed"] += 1
                        self.stop.wait(0.05)  # a dead node refuses at once: do not spin
                        continue
                self.one_op()
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            if self.r is not None:
                self.r.close()

    def one_op(self):
        key = self.rng.choice(self.keys)
        roll = self.rng.random()
        kind = "get" if roll < 0.4 else "set" if roll < 0.7 else "incr"
        arg = str(self.rng.randrange(1_000_000)) if kind == "set" else None
        call = time.monotonic()
        try:
            if kind == "get":
                v = self.r.get(key)
                output = None if v is None else v.decode()
            elif kind == "set":
                if self.r.set(key, arg) is not True:
                    raise AssertionError("SET %s %s did not answer OK" % (key, arg))
                output = None
            else:
                output = self.r.incr(key)
            ret = time.monotonic()
        except redis.ResponseError as e:
            text = str(e)
            if text.startswith("TRYAGAIN"):
                self.outcomes["TRYAGAIN"] += 1
                return  # not run
            if "not an integer" in text:
                self.bad.append("%s %s at %.3f: %s" % (kind, key, call, text))
            self.outcomes["other error"] += 1
            self.history.append(Op(self.cid, kind, key, arg, None, call, None))
            return
        except (redis.ConnectionError, redis.TimeoutError) as e:
            refused = isinstance(e, redis.ConnectionError) and "connecting to" in str(e)
            self.outcomes["refused" if refused else type(e).__name__] += 1
            if not refused:
                self.history.append(Op(self.cid, kind, key, arg, None, call, None))
            self.r.close()
            self.r = None  # reconnect, to a random node
            return
        self.outcomes["ok"] += 1
        self.history.append(Op(self.cid, kind, key, arg, output, call, ret))


class RedisLinearizabilityTest(unittest.TestCase):
    def test_get_set_incr_through_crash_and_pause(self):
        keys = pick_keys(4)
        key_shards = {k: shard_of(k) for k in keys}
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            wait_kv_ready(cluster)
            cluster.wait_preferred_leaders(KV, SHARDS, timeout=30)
            print("\nkeys and their shards: %s" % key_shards)

            clients = [Client(i, cluster, keys, seed=1000 + i) for i in range(CLIENTS)]
            started = time.monotonic()
            for c in clients:
                c.start()
            stop = threading.Event()

            def at(offset):  # pacing the schedule, not synchronisation
                stop.wait(max(0.0, started + offset - time.monotonic()))

            def leader_of_most():
                leaders = cluster.topic_leaders(next(n.id for n in cluster.running_nodes()), KV)
                count = collections.Counter(leaders[s] for s in key_shards.values())
                victim = max(sorted(count), key=lambda n: count[n])
                return victim, sorted(s for s in key_shards.values() if leaders[s] == victim)

            try:
                at(KILL_AT_S)
                victim, victim_shards = leader_of_most()
                cluster.kill(victim, signal.SIGKILL)
                killed_at = time.monotonic()
                print("%.1f s: killed node %d, leader of the keys' shards %s" % (killed_at - started, victim,
                                                                                 victim_shards))
                at(RESTART_AT_S)
                cluster.restart(victim)
                restarted_at = time.monotonic()
                cluster.wait_up(victim, timeout=15)
                print("%.1f s: restarted node %d" % (restarted_at - started, victim))

                at(PAUSE_AT_S)
                paused, paused_shards = leader_of_most()
                cluster.kill(paused, signal.SIGSTOP)
                paused_at = time.monotonic()
                try:
                    at(PAUSE_AT_S + PAUSE_S)
                finally:
                    cluster.kill(paused, signal.SIGCONT)
                print("%.1f s: paused node %d (leader of the keys' shards %s) for %.1f s"
                      % (paused_at - started, paused, paused_shards, time.monotonic() - paused_at))
                at(RUN_S)
            finally:
                for c in clients:
                    c.stop.set()
                for c in clients:
                    c.join(10)
            self.assertEqual([c.name for c in clients if c.is_alive()], [], "client threads did not stop")
            self.assertEqual([c.error for c in clients if c.error], [])
            self.assertEqual([b for c in clients for b in c.bad], [], "INCR found a non-integer value")

            history = [op for c in clients for op in c.history]
            outcomes = sum((c.outcomes for c in clients), collections.Counter())
            kinds = collections.Counter((op.kind, "ok" if op.ret is not None else "unknown") for op in history)
            print("%d ops recorded over %.1f s: %s; outcomes %s"
                  % (len(history), RUN_S, dict(sorted(kinds.items())), dict(outcomes)))

            # The victim's shards stayed available while it was down.
            during = [op for op in history if op.ret is not None and shard_of(op.key) in victim_shards
                      and op.call > killed_at + 2.0 and op.ret < restarted_at]
            self.assertGreater(len(during), 0, "no operation on shards %s completed between 2 s after the kill of "
                               "node %d and its restart" % (victim_shards, victim))
            after = [op for op in history if op.ret is not None and op.call > paused_at + PAUSE_S + 2.0]
            self.assertGreater(len(after), 0, "no operation completed in the last seconds after the pause")
            print("%d ops on shards %s completed while node %d was down (from 2 s after the kill); %d ops in the "
                  "last %.1f s" % (len(during), victim_shards, victim, len(after), RUN_S - PAUSE_AT_S - PAUSE_S - 2))

            checked_at = time.monotonic()
            result = check(history, timeout_s=CHECK_TIMEOUT_S)
            check_s = time.monotonic() - checked_at
            print("linearizability check: ok=%s in %.2f s (%d ops searched over %d keys)"
                  % (result.ok, check_s, result.ops_checked, result.keys_checked))
            self.assertFalse(result.unknown, "the checker gave no verdict within %d s: %s"
                             % (CHECK_TIMEOUT_S, result.detail))
            self.assertTrue(result.ok, "history of key %r is not linearizable:\n%s\n%s"
                            % (result.key, result.detail, cluster.log_tails()))


if __name__ == "__main__":
    fjord_cluster.main()
