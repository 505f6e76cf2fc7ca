#!/usr/bin/python3
"""A follower brought back by snapshots of the key-value shards. With
--kv-snapshot-every 2000, node 3 is killed (SIGKILL) after some keys were
written; 100,000 SETs (pipelined), some DELs and overwrites of the earlier
keys go through node 1 while it is down, so that every shard's leader
snapshots and compacts its log past what node 3 holds. Node 3 is restarted:
it catches up (its INFO shard lines reach each leader's commit index), its
log shows it installed a snapshot of every shard, and its READONLY (stale)
reads of a sample (1,000 random keys, the last 100 written, the deleted and
the overwritten ones) and its key count are right. Finally node 1 is killed:
the state node 3 restored serves linearizable reads and writes.

Usage: test_redis_snapshot.py FJORD_BIN [unittest options]"""

import random
import re
import signal
import time
import unittest

import redis

import fjord_cluster
from fjord_cluster import Cluster
from redis_support import KV, SHARDS, client, wait_kv_ready

SNAPSHOT_EVERY = 2000
BEFORE = 2000      # keys written before node 3 is killed
WRITES = 100000    # SETs while it is down
BATCH = 500
DELETED = 300      # of the BEFORE keys, deleted while node 3 is down
OVERWRITTEN = 300  # of the BEFORE keys, written again while node 3 is down
RESTORED = re.compile(r"(__kv-\d+): restored from a snapshot at index (\d+)")
SNAPSHOT = re.compile(r"(__kv-\d+): snapshot at index (\d+)")


def shard_lines(r):
    info = r.info("replication")
    return {s: info["shard%d" % s] for s in range(SHARDS)}


def pipelined_sets(r, items):
    pipe = r.pipeline(transaction=False)
    for n, (k, v) in enumerate(items, 1):
        pipe.set(k, v)
        if n % BATCH == 0 or n == len(items):
            replies = pipe.execute()
            assert replies == [True] * len(replies), replies


class RedisSnapshotTest(unittest.TestCase):
    def test_follower_restored_from_snapshots(self):
        with Cluster(3, extra_args=["--kv-snapshot-every", str(SNAPSHOT_EVERY)]) as cluster:
            cluster.wait_settled(timeout=20)
            wait_kv_ready(cluster)
            cluster.wait_preferred_leaders(KV, SHARDS, timeout=30)
            n1, n3 = cluster.node(1), cluster.node(3)
            r1 = client(n1)
            expected = {"probe": b"x"}

            early = [("early:%05d" % i, "e%d" % i) for i in range(BEFORE)]
            pipelined_sets(r1, early)
            expected.update((k, v.encode()) for k, v in early)
            # Node 3 holds them all before it stops.
            r3 = client(n3)
            cluster.wait_for(lambda: all(int(l["applied"]) >= int(l["commit"]) > 0
                                         for l in shard_lines(r3).values()), 10, "node 3 to apply the early keys")
            held = {s: int(l["last"]) for s, l in shard_lines(r3).items()}
            r3.close()

            cluster.kill(3, signal.SIGKILL)
            cluster.wait_partition_leaders(KV, SHARDS, timeout=20, exclude=(3,))

            # --- while node 3 is down ---------------------------------
            started = time.monotonic()
            items = [("snap:%06d" % i, "value-%d" % i) for i in range(WRITES)]
            pipelined_sets(r1, items)
            write_s = time.monotonic() - started
            expected.update((k, v.encode()) for k, v in items)
            deleted = [k for k, _ in early[:DELETED]]
            for lo in range(0, len(deleted), 100):
                self.assertEqual(r1.delete(*deleted[lo:lo + 100]), len(deleted[lo:lo + 100]))
            for k in deleted:
                expected[k] = None
            rewritten = [(k, "rewritten-" + k) for k, _ in early[DELETED:DELETED + OVERWRITTEN]]
            pipelined_sets(r1, rewritten)
            expected.update((k, v.encode()) for k, v in rewritten)
            print("\n%d pipelined SETs through node 1 with node 3 down in %.3f s (%.0f/s); %d DELs and %d "
                  "overwrites of keys node 3 held" % (WRITES, write_s, WRITES / write_s, DELETED, OVERWRITTEN))

            # Every shard's leader snapshotted past what node 3 holds.
            snapshotted = {}
            for node in (cluster.node(1), cluster.node(2)):
                for shard, index in SNAPSHOT.findall(node.log_text()):
                    snapshotted[shard] = max(snapshotted.get(shard, 0), int(index))
            self.assertEqual(sorted(snapshotted), sorted("__kv-%d" % s for s in range(SHARDS)), snapshotted)
            for s in range(SHARDS):
                self.assertGreater(snapshotted["__kv-%d" % s], held[s], "shard %d" % s)
            print("the leaders' logs show snapshots of every shard, up to indexes %d..%d (node 3 held up to %d..%d)"
                  % (min(snapshotted.values()), max(snapshotted.values()), min(held.values()), max(held.values())))

            # Each shard's commit index as its leader reports it (no more writes until node 3 caught up).
            commits = {}
            for node in (cluster.node(1), cluster.node(2)):
                r = client(node)
                for s, line in shard_lines(r).items():
                    if line["role"] == "leader":
                        commits[s] = int(line["commit"])
                r.close()
            self.assertEqual(sorted(commits), list(range(SHARDS)), commits)

            # --- node 3 comes back -------------------------------------
            restarted_at = time.monotonic()
            cluster.restart(3)
            cluster.wait_up(3, timeout=15)
            r3 = client(n3)

            def caught_up():
                lines = shard_lines(r3)
                return all(int(lines[s]["applied"]) >= c for s, c in commits.items())
            cluster.wait_for(caught_up, 60, "node 3's INFO shard lines to reach each leader's commit index")
            caught_s = time.monotonic() - restarted_at

            log = n3.log_text()
            since_restart = log[log.rindex("===== start #2 of node 3 ====="):]
            restored = {}
            for shard, index in RESTORED.findall(since_restart):
                restored[shard] = max(restored.get(shard, 0), int(index))
            self.assertEqual(sorted(restored), sorted("__kv-%d" % s for s in range(SHARDS)),
                             "node 3's log does not show it restored every shard from a snapshot: %s" % restored)
            for s in range(SHARDS):
                self.assertGreater(restored["__kv-%d" % s], held[s], "shard %d" % s)
            print("node 3 caught up %.3f s after its restart; its log shows it restored all %d shards from "
                  "snapshots (at indexes %d..%d)" % (caught_s, len(restored), min(restored.values()),
                                                     max(restored.values())))

            # --- node 3's own state: READONLY reads ----------------------
            rng = random.Random(20261122)
            sample = rng.sample([k for k, _ in items], 1000) + [k for k, _ in items[-100:]]
            untouched = [k for k, _ in early[DELETED + OVERWRITTEN:]]
            sample += deleted + [k for k, _ in rewritten] + rng.sample(untouched, 100)
            stale = client(n3, single_connection_client=True)
            try:
                self.assertIs(stale.execute_command("READONLY"), True)
                got = []
                for lo in range(0, len(sample), BATCH):
                    got.extend(stale.mget(sample[lo:lo + BATCH]))
            finally:
                stale.close()
            wrong = [(k, expected[k], v) for k, v in zip(sample, got) if v != expected[k]]
            self.assertEqual(wrong[:10], [], "node 3's READONLY reads differ on %d of %d sampled keys"
                             % (len(wrong), len(sample)))
            live = sum(1 for v in expected.values() if v is not None)
            db0 = r3.info("keyspace").get("db0", {})
            self.assertEqual(db0.get("keys"), live, "node 3's INFO keyspace: %s" % db0)
            print("node 3's READONLY reads of %d sampled keys (1000 random, the last 100, %d deleted, %d overwritten, "
                  "100 older) are right; INFO keyspace counts %d keys" % (len(sample), DELETED, OVERWRITTEN, live))

            # --- the restored state serves the cluster --------------------
            r3.close()
            r1.close()
            # Node 3 takes back the shards it prefers to lead, then node 1 stops.
            cluster.wait_preferred_leaders(KV, SHARDS, timeout=30)
            cluster.kill(1, signal.SIGKILL)
            leaders = cluster.wait_partition_leaders(KV, SHARDS, timeout=20, exclude=(1,))
            led_by_3 = sorted(p for p, l in leaders.items() if l == 3)
            self.assertTrue(led_by_3, leaders)
            r3 = client(n3)

            def read_sample():
                try:
                    return [v for lo in range(0, len(sample), BATCH) for v in r3.mget(sample[lo:lo + BATCH])]
                except redis.ResponseError as e:
                    if str(e).startswith("TRYAGAIN"):
                        return None
                    raise
            got = cluster.wait_for(read_sample, 20, "linearizable reads through node 3 with node 1 down")
            wrong = [(k, expected[k], v) for k, v in zip(sample, got) if v != expected[k]]
            self.assertEqual(wrong[:10], [], "with node 1 down, reads through node 3 differ on %d of %d keys"
                             % (len(wrong), len(sample)))
            self.assertIs(r3.set("after", "restore"), True)
            self.assertEqual(client(cluster.node(2)).get("after"), b"restore")
            r3.close()
            print("with node 1 killed, node 3 leads shards %s; linearizable reads of the sample through it are "
                  "right and it takes writes" % led_by_3)


if __name__ == "__main__":
    fjord_cluster.main()
