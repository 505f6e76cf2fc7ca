#!/usr/bin/python3
"""Redis writes through the crash of the node leading the most key-value
shards. One writer thread per node (redis-py, a 0.5 s socket timeout) SETs
distinct keys spread over every shard, retrying each key (same value) on
-TRYAGAIN, timeouts and connection errors until it is acknowledged.

Sync writes (the default): the victim is killed with SIGKILL; writes to
every shard it led resume through the surviving nodes within 2 s of the
kill, and afterwards every acknowledged write is readable. The victim is
restarted and catches up: it is back in the ISR of every `__kv` partition,
its INFO shard lines reach each leader's commit index, and its stale reads
hold the acknowledged writes.

Async writes (WRITEMODE async on every connection): the same crash; the
writes acknowledged but lost (acknowledged before they were replicated) are
counted and printed, not failed on. The victim is restarted and catches up.

Usage: test_redis_failover.py FJORD_BIN [unittest options]"""

import collections
import signal
import threading
import time
import unittest

import redis

import fjord_cluster
from fjord_cluster import Cluster
from redis_support import KV, SHARDS, client, shard_of, wait_kv_ready

RESUME_LIMIT_S = 2.0
CLIENT_TIMEOUT_S = 0.5
PATIENT_TIMEOUT_S = 30
ASYNC_BATCH = 20        # async writes are pipelined this many at a time
BEFORE_KILL = 1500      # acknowledged writes (over all writers) before the kill
AFTER_RESUME = 1500     # acknowledged writes after writes resumed on every affected shard
READ_BATCH = 500


class Writer(threading.Thread):
    """SETs <tag>:<seq> = v<seq> through one node, `batch` keys at a time (a
    pipeline when batch > 1), each batch retried until acknowledged.
    Records (attempt start, ack time, key) of every acknowledged write and
    counts the failed attempts by kind."""

    def __init__(self, tag, node, async_writes, batch=1, timeout=CLIENT_TIMEOUT_S):
        super().__init__(name="writer-%s" % tag, daemon=True)
        self.tag = tag
        self.node = node
        self.batch = batch
        self.r = client(node, socket_timeout=timeout, async_writes=async_writes)
        self.lock = threading.Lock()
        self.acked = []  # (attempt start, ack time, key)
        self.failures = collections.Counter()
        self.stop = threading.Event()
        self.error = None

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def write(self, seqs):
        if self.batch == 1:
            return [self.r.set("%s:%d" % (self.tag, seqs[0]), "v%d" % seqs[0])]
        pipe = self.r.pipeline(transaction=False)
        for seq in seqs:
            pipe.set("%s:%d" % (self.tag, seq), "v%d" % seq)
        return pipe.execute()

    def run(self):
        try:
            seq = 0
            while not self.stop.is_set():
                seqs = list(range(seq, seq + self.batch))
                while not self.stop.is_set():
                    start = time.monotonic()
                    try:
                        replies = self.write(seqs)
                    except redis.ResponseError as e:
                        text = str(e)
                        kind = "TRYAGAIN" if text.startswith("TRYAGAIN") else "ERR " + text[:60]
                        with self.lock:
                            self.failures[kind] += 1
                        self.stop.wait(0.01)
                        continue
                    except (redis.ConnectionError, redis.TimeoutError) as e:
                        with self.lock:
                            self.failures[type(e).__name__] += 1
                        self.stop.wait(0.02)  # a dead node refuses at once: do not spin
                        continue
                    if replies != [True] * len(seqs):
                        raise AssertionError("SETs %s:%s answered %r" % (self.tag, seqs, replies))
                    now = time.monotonic()
                    with self.lock:
                        self.acked.extend((start, now, "%s:%d" % (self.tag, q)) for q in seqs)
                    seq += self.batch
                    break
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.r.close()

    def longest_gap_after(self, t):
        """The longest time without an acknowledgement from the last one
        before `t` on (None without one after `t`)."""
        with self.lock:
            times = sorted(set(a for _, a, _ in self.acked))
        before = [a for a in times if a <= t]
        after = [a for a in times if a > t]
        if not after:
            return None
        marks = [before[-1] if before else t] + after
        return max(b - a for a, b in zip(marks, marks[1:]))


class RedisFailoverTest(unittest.TestCase):
    def test_shard_leader_crash_under_writes(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            wait_kv_ready(cluster)
            leaders = cluster.wait_preferred_leaders(KV, SHARDS, timeout=30)
            print("\n%s leaders: %s" % (KV, leaders))

            sync_victim = self.crash_under_writes(cluster, "sync", async_writes=False)
            self.restart_and_catch_up(cluster, sync_victim)

            cluster.wait_preferred_leaders(KV, SHARDS, timeout=30)
            async_victim = self.crash_under_writes(cluster, "async", async_writes=True)
            self.restart_and_catch_up(cluster, async_victim)

    def crash_under_writes(self, cluster, label, async_writes):
        """Runs the writers, kills the node leading the most shards, checks
        (sync) or counts (async) the acknowledged writes; returns the victim."""
        # Async writes are pipelined: more of them are acknowledged but not yet replicated at any moment.
        batch = ASYNC_BATCH if async_writes else 1
        writers = [Writer("%s-w%d" % (label, n.id), n, async_writes, batch) for n in cluster]
        # Clients that wait for every answer (no timeout of their own): how long they stall.
        patient = [Writer("%s-p%d" % (label, n.id), n, async_writes, batch, timeout=PATIENT_TIMEOUT_S)
                   for n in cluster]
        for w in writers + patient:
            w.start()
        try:
            total = lambda: sum(w.acked_count() for w in writers)
            cluster.wait_for(lambda: any(w.error for w in writers) or total() >= BEFORE_KILL, 30,
                             "%d acknowledged %s writes before the kill" % (BEFORE_KILL, label))
            self.assertEqual([w.error for w in writers if w.error], [])

            # The victim: the node leading the most shards, as another node's admin API reports it.
            current = cluster.topic_leaders(1, KV)
            by_leader = collections.Counter(current.values())
            victim = max(sorted(by_leader), key=lambda n: by_leader[n])
            affected = sorted(p for p, l in current.items() if l == victim)
            survivors = [w for w in writers if w.node.id != victim]
            acked_before = total()
            killed_at = time.monotonic()
            cluster.kill(victim, signal.SIGKILL)
            print("[%s] killed node %d, leader of shards %s, after %d acknowledged writes"
                  % (label, victim, affected, acked_before))

            watcher = next(n.id for n in cluster if n.id != victim)

            def new_leaders():
                now = cluster.topic_leaders(watcher, KV)
                chosen = {p: now[p] for p in affected}
                return all(l not in (-1, victim) for l in chosen.values()) and chosen
            chosen = cluster.wait_for(new_leaders, 30, "new leaders of shards %s" % affected, interval=0.005)
            print("[%s] node %d's admin API names new leaders %s %.3f s after the kill"
                  % (label, watcher, chosen, time.monotonic() - killed_at))

            def resumed():
                """{shard: seconds from the kill to the first acknowledged write
                to it that a surviving node's writer started after the kill}."""
                if any(w.error for w in writers):
                    return {"error": [w.error for w in writers if w.error]}
                firsts = {}
                for w in survivors:
                    with w.lock:
                        for start, acked, key in reversed(w.acked):
                            if start <= killed_at:
                                break
                            s = shard_of(key)
                            if s in affected:
                                firsts[s] = min(firsts.get(s, acked), acked)
                return ({s: t - killed_at for s, t in firsts.items()} if sorted(firsts) == affected else None)
            resume = cluster.wait_for(resumed, 30, "%s writes to shards %s to resume" % (label, affected))
            self.assertNotIn("error", resume)
            worst = max(resume.values())
            print("[%s] writes resumed through the surviving nodes: first acknowledged write per shard after "
                  "%s s (worst %.3f s)" % (label, {s: round(t, 3) for s, t in sorted(resume.items())}, worst))
            if not async_writes:
                self.assertLessEqual(worst, RESUME_LIMIT_S, "sync writes resumed only after %.3f s\n%s"
                                     % (worst, cluster.log_tails()))

            def patient_resumed():
                for w in patient:
                    if w.node.id != victim:
                        with w.lock:
                            if not any(start > killed_at for start, _, _ in w.acked):
                                return False
                return True
            cluster.wait_for(patient_resumed, PATIENT_TIMEOUT_S + 10,
                             "a write started after the kill to be acknowledged to each patient client")

            target = total() + AFTER_RESUME
            cluster.wait_for(lambda: any(w.error for w in writers) or total() >= target, 60,
                             "%d more acknowledged %s writes after the failover" % (AFTER_RESUME, label))
        finally:
            for w in writers + patient:
                w.stop.set()
            for w in writers + patient:
                w.join(30)
        self.assertEqual([w.name for w in writers + patient if w.is_alive()], [], "writer threads did not stop")
        self.assertEqual([w.error for w in writers + patient if w.error], [])
        gaps = {w.node.id: w.longest_gap_after(killed_at) for w in patient if w.node.id != victim}
        print("[%s] clients with a %g s timeout writing through the survivors: longest time without an "
              "acknowledgement after the kill %s s"
              % (label, PATIENT_TIMEOUT_S, {n: g if g is None else round(g, 3) for n, g in gaps.items()}))
        failures = sum((w.failures for w in writers + patient), collections.Counter())
        acked = [(start, t, key) for w in writers + patient for start, t, key in w.acked]
        print("[%s] %d writes acknowledged; failed attempts (each retried): %s"
              % (label, len(acked), dict(failures.most_common(6))))

        # --- every acknowledged write, read back through a survivor --------
        survivor = next(n for n in cluster if n.id != victim)
        reader = client(survivor, socket_timeout=10)
        try:
            if async_writes:
                # A sync write to every shard after the async ones: once it is
                # acknowledged, everything its leader accepted before is committed.
                for s in range(SHARDS):
                    key = next(k for k in ("barrier:%d:%d" % (s, i) for i in range(10000)) if shard_of(k) == s)
                    cluster.wait_for(lambda: self.sync_set(reader, key), 30, "a sync write to shard %d" % s)
            values = {}
            keys = [key for _, _, key in acked]
            for lo in range(0, len(keys), READ_BATCH):
                batch = keys[lo:lo + READ_BATCH]
                for key, v in zip(batch, reader.mget(batch)):
                    values[key] = v
        finally:
            reader.close()
        self.assertEqual(len(values), len(set(keys)), "the acknowledged writes could not all be read")
        lost = [(start, t, key) for start, t, key in acked if values[key] != b"v" + key.rsplit(":", 1)[1].encode()]
        lost_on = collections.Counter(shard_of(key) for _, _, key in lost)
        if async_writes:
            before_kill = sum(1 for _, t, _ in lost if t <= killed_at)
            print("[%s] acknowledged but lost: %d of %d acknowledged writes (%d acknowledged before the kill); "
                  "by shard %s (shards the victim led: %s)"
                  % (label, len(lost), len(acked), before_kill, dict(sorted(lost_on.items())), affected))
        else:
            self.assertEqual(lost[:10], [], "%d acknowledged sync writes are missing (by shard %s)"
                             % (len(lost), dict(lost_on)))
            print("[%s] all %d acknowledged writes read back through %r" % (label, len(acked), survivor))
        # What the survivors hold for the last acknowledged keys, for the victim's catch-up check.
        latest = [key for _, _, key in sorted(acked, key=lambda a: a[1])[-2000:]]
        self.expected = [(key, values[key]) for key in latest]
        return victim

    @staticmethod
    def sync_set(r, key):
        try:
            return r.set(key, "x") is True
        except redis.ResponseError as e:
            if str(e).startswith("TRYAGAIN"):
                return False
            raise

    def restart_and_catch_up(self, cluster, victim):
        restarted_at = time.monotonic()
        cluster.restart(victim)
        cluster.wait_up(victim, timeout=15)
        cluster.wait_partition_leaders(KV, SHARDS, timeout=30, full_isr=3)
        in_isr_s = time.monotonic() - restarted_at

        # Each shard's commit index as its leader reports it now (no writes run).
        commits = {}
        for node in cluster:
            r = client(node, socket_timeout=5)
            info = r.info("replication")
            r.close()
            for s in range(SHARDS):
                line = info["shard%d" % s]
                if line["role"] == "leader":
                    commits[s] = int(line["commit"])
        self.assertEqual(sorted(commits), list(range(SHARDS)), commits)

        r = client(cluster.node(victim), socket_timeout=5)

        def caught_up():
            info = r.info("replication")
            behind = {s: (int(info["shard%d" % s]["applied"]), c) for s, c in commits.items()
                      if int(info["shard%d" % s]["applied"]) < c}
            return not behind or None
        cluster.wait_for(caught_up, 30, "node %d's INFO shard lines to reach each leader's commit index" % victim)
        caught_s = time.monotonic() - restarted_at

        # Its stale reads of the last acknowledged keys give what the survivors gave.
        stale = client(cluster.node(victim), socket_timeout=5, single_connection_client=True)
        try:
            self.assertIs(stale.execute_command("READONLY"), True)
            keys = [key for key, _ in self.expected]
            got = []
            for lo in range(0, len(keys), READ_BATCH):
                got.extend(stale.mget(keys[lo:lo + READ_BATCH]))
        finally:
            stale.close()
            r.close()
        differ = [(key, want, have) for (key, want), have in zip(self.expected, got) if want != have]
        self.assertEqual(differ[:10], [], "node %d's stale reads differ from the survivors' on %d of the last %d "
                         "acknowledged keys" % (victim, len(differ), len(keys)))
        print("node %d restarted: back in the ISR of every %s partition after %.3f s, applied up to each leader's "
              "commit index after %.3f s; its stale reads of the last %d acknowledged keys match the survivors'"
              % (victim, KV, in_isr_s, caught_s, len(keys)))
        for p in cluster.partitions(victim):
            if p["topic"] == KV:
                self.assertIn(victim, p["isr"], p)


if __name__ == "__main__":
    fjord_cluster.main()
