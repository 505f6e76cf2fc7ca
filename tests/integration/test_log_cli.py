#!/usr/bin/python3
"""`fjord log append` and `fjord log read` against a real cluster: values
round-trip in order through any node, and survive a crash of the
partition's leader (nothing acknowledged is lost, order is kept), also as
seen through the crashed node once it is back.

Usage: test_log_cli.py FJORD_BIN [unittest options]"""

import signal
import subprocess
import threading
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster

TOPIC = "journal"


def make_values(prefix, count):
    # Spaces and non-ASCII on purpose: `log read` prints "offset term value".
    return ["%s-%03d%s" % (prefix, i, [" with spaces", " ünïcødé ☃", "", "\t tab"][i % 4]) for i in range(count)]


class LogCliTest(unittest.TestCase):
    def append(self, cluster, via, values):
        result = cluster.cli("log", "append", "--bootstrap", cluster.node(via).kafka_addr, "--topic", TOPIC, *values)
        self.assertEqual(result.returncode, 0, "append via node %d: %s" % (via, result.stderr))
        offsets = [int(line) for line in result.stdout.splitlines()]
        self.assertEqual(len(offsets), len(values), result.stdout)
        return offsets

    def read(self, cluster, via):
        """[(offset, term, value)] as `fjord log read` through node `via` prints them."""
        result = cluster.cli("log", "read", "--bootstrap", cluster.node(via).kafka_addr, "--topic", TOPIC)
        self.assertEqual(result.returncode, 0, "read via node %d: %s" % (via, result.stderr))
        entries = []
        for line in result.stdout.split("\n")[:-1]:
            offset, term, value = line.split(" ", 2)
            entries.append((int(offset), int(term), value))
        return entries

    def assert_log(self, entries, acked, via):
        """`entries` hold every acknowledged (offset, value) pair, in offset
        order, with non-decreasing terms. Anything else must be an earlier copy
        of an acknowledged value: an append whose answer was lost in a leader
        crash, retried by the CLI, and committed twice (counted, reported)."""
        pairs = [(o, v) for o, _, v in entries]
        missing = [a for a in acked if a not in pairs]
        self.assertEqual(missing, [], "acknowledged entries missing from the log read through node %d" % via)
        acked_values = {v for _, v in acked}
        extra = [p for p in pairs if p not in acked]
        self.assertTrue(all(v in acked_values for _, v in extra), "unknown entries %s via node %d" % (extra, via))
        if extra:
            print("log read via node %d: %d duplicate(s) from retried appends: %s" % (via, len(extra), extra))
        self.assertEqual([p for p in pairs if p in acked], acked, "log order through node %d" % via)
        terms = [t for _, t, _ in entries]
        self.assertEqual(terms, sorted(terms), "terms go back in the log read through node %d" % via)

    def test_reading_an_unknown_topic_fails_without_creating_it(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            result = cluster.cli("log", "read", "--bootstrap", cluster.node(2).kafka_addr, "--topic", "nowhere")
            self.assertNotEqual(result.returncode, 0)
            self.assertIn("topic nowhere does not exist", result.stderr)
            self.assertEqual(cluster.node(1).get("/topics/nowhere").status, 404)

    def test_append_read_and_leader_crash(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)

            # 50 values through node 1, read back through nodes 2 and 3.
            first = make_values("first", 50)
            started = time.monotonic()
            offsets = self.append(cluster, 1, first)
            print("\nappended %d values via node 1 in %.2f s, offsets %d..%d"
                  % (len(first), time.monotonic() - started, offsets[0], offsets[-1]))
            self.assertEqual(offsets, sorted(set(offsets)), "offsets must increase")
            acked = list(zip(offsets, first))
            for via in (2, 3):
                entries = self.read(cluster, via)
                self.assert_log(entries, acked, via)
            print("terms of the first batch: %s" % sorted(set(t for _, t, _ in entries)))

            # Crash the partition's leader while an append through a survivor runs.
            leader = cluster.wait_preferred_leaders(TOPIC, 1, timeout=10)[0]
            survivors = [n.id for n in cluster if n.id != leader]
            second = make_values("second", 30)
            appender = fjord_cluster.start_fjord(
                ["log", "append", "--bootstrap", cluster.node(survivors[0]).kafka_addr, "--topic", TOPIC] + second,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            acked_lines = []
            reader = threading.Thread(target=lambda: acked_lines.extend(appender.stdout), daemon=True)
            reader.start()
            try:
                cluster.wait_for(lambda: len(acked_lines) >= 5, 20, "5 values of the second batch to be acked")
                killed_at = time.monotonic()
                cluster.kill(leader, signal.SIGKILL)
                print("killed leader %d after %d acks of the second batch" % (leader, len(acked_lines)))
                code = appender.wait(timeout=40)
            finally:
                if appender.poll() is None:
                    appender.kill()
                    appender.wait()
            reader.join(timeout=10)
            appender.stdout.close()
            stderr = appender.stderr.read()
            appender.stderr.close()
            print("second batch done %.2f s after the kill" % (time.monotonic() - killed_at))
            self.assertEqual(code, 0, "append via node %d during failover: %s" % (survivors[0], stderr))
            second_offsets = [int(line) for line in acked_lines]
            self.assertEqual(len(second_offsets), len(second))
            acked += list(zip(second_offsets, second))

            # More values after the failover, through the other survivor.
            third = make_values("third", 20)
            acked += list(zip(self.append(cluster, survivors[1], third), third))

            all_offsets = [o for o, _ in acked]
            self.assertEqual(all_offsets, sorted(set(all_offsets)), "acked offsets must increase")
            for via in survivors:
                self.assert_log(self.read(cluster, via), acked, via)

            # The crashed node comes back, catches up, and serves the whole log.
            cluster.restart(leader)
            cluster.wait_up(leader)

            def caught_up():
                # (The controller hands the leadership back to node `leader`,
                # the preferred replica, as soon as it can: it may lead already.)
                now = cluster.partition(survivors[0], TOPIC, 0)["leader"]
                if now == -1:
                    return None
                p = cluster.partition(now, TOPIC, 0)
                if p["leader"] != now:
                    return None
                mine = [r for r in p["replica_status"] if r["node"] == leader]
                return leader in p["isr"] and len(mine) == 1 and mine[0]["lag"] == 0 and now
            now = cluster.wait_for(caught_up, 15, "node %d back in the ISR of %s/0 with lag 0" % (leader, TOPIC))
            print("node %d caught up after its restart (partition led by node %d)" % (leader, now))
            self.assert_log(self.read(cluster, leader), acked, leader)

            # Reads are served by the leader: make the restarted node lead, so
            # that the log read through it comes from its own copy.
            # (It may lead already, or be getting the leadership back as the
            # preferred replica at the same time.)
            def leads():
                current = cluster.partition(leader, TOPIC, 0)["leader"]
                if current == leader:
                    return True
                if current != -1:
                    cluster.node(current).post("/cluster/partitions/%s/0/transfer-leadership?to=%d"
                                               % (TOPIC, leader))
                return False
            cluster.wait_for(leads, 10, "node %d to lead %s/0" % (leader, TOPIC), interval=0.05)
            self.assert_log(self.read(cluster, leader), acked, leader)
            print("all %d acknowledged values read back in order through every node" % len(acked))


if __name__ == "__main__":
    fjord_cluster.main()
