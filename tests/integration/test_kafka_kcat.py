#!/usr/bin/python3
"""kcat against a real 3-node cluster: `kcat -L` shows every broker and, per
partition, the leader, replicas and ISR; `kcat -P` / `kcat -C -e` round-trip
10,000 keyed messages with headers, checked for content and per-partition
order.

Usage: test_kafka_kcat.py FJORD_BIN [unittest options]"""

import json
import subprocess
import tempfile
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster

KCAT = "/usr/bin/kcat"
MESSAGES = 10000
KEYS = 97  # distinct keys, spread over the partitions by kcat's partitioner
SEP = "\x1f"  # field separator of the consumer's -f format; in no key or value


def kcat(args, timeout=60, input_text=None):
    return subprocess.run([KCAT] + list(args), input=input_text, capture_output=True, text=True, timeout=timeout)


def kcat_metadata(bootstrap, topic=None):
    """`kcat -L -J` parsed; raises ValueError if kcat fails."""
    args = ["-b", bootstrap, "-L", "-J", "-m", "5"]
    if topic is not None:
        args += ["-t", topic]
    r = kcat(args, timeout=30)
    if r.returncode != 0:
        raise ValueError("kcat -L exited %d: %s" % (r.returncode, r.stderr.strip()))
    return json.loads(r.stdout)


def partitions_fully_replicated(meta, topic, partitions, rf):
    """{partition: (leader, replicas, isr)} when kcat sees every partition of
    `topic` with a leader and `rf` replicas all in the ISR; else None."""
    topics = [t for t in meta["topics"] if t["topic"] == topic]
    if len(topics) != 1 or topics[0].get("error"):
        return None
    seen = {}
    for p in topics[0]["partitions"]:
        if p.get("error"):
            return None
        replicas = sorted(r["id"] for r in p["replicas"])
        isr = sorted(r["id"] for r in p["isrs"])
        if p["leader"] == -1 or len(replicas) != rf or isr != replicas or p["leader"] not in replicas:
            return None
        seen[p["partition"]] = (p["leader"], replicas, isr)
    return seen if sorted(seen) == list(range(partitions)) else None


class KcatTest(unittest.TestCase):
    def test_consumer_reaches_the_end_past_a_trailing_control_batch(self):
        """A leader change appends a no-op control batch after the last
        record; a consumer must still reach the high watermark (kcat -e)."""
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            cluster.create_topic("trailing", 1, 3)
            cluster.wait_partition_leaders("trailing", 1, full_isr=3)
            bootstrap = cluster.node(1).kafka_addr
            produced = kcat(["-b", bootstrap, "-P", "-t", "trailing"], input_text="a\nb\nc\n")
            self.assertEqual(produced.returncode, 0, produced.stderr)
            leader = cluster.partition(1, "trailing", 0)["leader"]
            target = next(n.id for n in cluster if n.id != leader)
            moved = cluster.node(1).post("/cluster/partitions/trailing/0/transfer-leadership?to=%d" % target)
            self.assertEqual(moved.status, 200, moved)
            consumed = kcat(["-b", bootstrap, "-C", "-t", "trailing", "-o", "beginning", "-e", "-q"], timeout=30)
            self.assertEqual(consumed.returncode, 0, consumed.stderr)
            self.assertEqual(consumed.stdout.split(), ["a", "b", "c"])

    def test_fsync_mode_filesystem(self):
        """--fsync-mode filesystem: where the data directory is on ext4 or xfs, the nodes say they
        share one syncfs per round and 6 partitions round-trip 20,000 acks=all records with kcat;
        elsewhere a node refuses to start and names the file system."""
        fs_type = subprocess.run(["stat", "-f", "-c", "%t", tempfile.gettempdir()], capture_output=True,
                                 text=True, check=True).stdout.strip()
        if fs_type not in ("ef53", "58465342"):  # ext2/3/4, xfs
            with Cluster(1, extra_args=["--fsync-mode", "filesystem"]) as cluster:
                node = cluster.node(1)
                cluster.wait_for(lambda: node.proc.poll() is not None, 15, "the node to refuse to start")
                self.assertNotEqual(node.proc.returncode, 0)
                self.assertIn("shared syncs are only trusted on ext4 and xfs", node.log_text())
            print("\n%s is not ext4 or xfs (type 0x%s): the node refused, as it should" %
                  (tempfile.gettempdir(), fs_type))
            return
        with Cluster(3, extra_args=["--fsync-mode", "filesystem"]) as cluster:
            cluster.wait_settled(timeout=15)
            for node in cluster:
                self.assertIn("a round of fsyncs is one syncfs of the file system holding", node.log_text())
            cluster.create_topic("shared-syncs", 6, 3)
            cluster.wait_partition_leaders("shared-syncs", 6, full_isr=3)
            bootstrap = cluster.node(1).kafka_addr
            lines = ["%d|record-%d" % (i % KEYS, i) for i in range(20000)]
            produced = kcat(["-b", bootstrap, "-P", "-t", "shared-syncs", "-K", "|", "-X", "acks=all"],
                            input_text="\n".join(lines) + "\n", timeout=120)
            self.assertEqual(produced.returncode, 0, produced.stderr)
            consumed = kcat(["-b", bootstrap, "-C", "-t", "shared-syncs", "-o", "beginning", "-e", "-q",
                             "-f", "%k|%s %p\\n"], timeout=60)
            self.assertEqual(consumed.returncode, 0, consumed.stderr)
            got = consumed.stdout.split()
            records = sorted(r for r in got[0::2])
            self.assertEqual(records, sorted(lines), "the records read back differ from those produced")
            self.assertEqual(len(set(got[1::2])), 6, "records in %s partitions, not 6" % len(set(got[1::2])))
            print("\n20,000 acks=all records over 6 partitions round-tripped with shared syncs")

    def test_metadata_and_round_trip(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = ",".join(n.kafka_addr for n in cluster)

            # Brokers: exactly the three nodes, each advertised at its own listener.
            meta = kcat_metadata(bootstrap)
            brokers = {b["id"]: b["name"] for b in meta["brokers"]}
            self.assertEqual(brokers, {n.id: n.kafka_addr for n in cluster}, meta)
            self.assertIn(meta["controllerid"], brokers)

            # An auto-created topic (Metadata for an unknown topic creates it):
            # one partition, replication factor 3, all in sync.
            auto = cluster.wait_for(
                lambda: partitions_fully_replicated(kcat_metadata(bootstrap, "kcat-auto"), "kcat-auto", 1, 3),
                20, "kcat -L to show kcat-auto with a leader and 3 replicas in sync")
            print("\nkcat-auto as kcat sees it: %s" % auto)
            self.assertEqual(auto[0][1], [1, 2, 3])

            # A 3-partition topic: kcat agrees with the admin API on each
            # partition's leader, replicas and ISR once leadership settles.
            topic = "kcat-rt"
            cluster.create_topic(topic, 3, 3)
            admin_leaders = cluster.wait_preferred_leaders(topic, 3, timeout=20)

            def kcat_matches_admin():
                seen = partitions_fully_replicated(kcat_metadata(bootstrap, topic), topic, 3, 3)
                if seen is None:
                    return None
                if {p: v[0] for p, v in seen.items()} != admin_leaders:
                    return None
                for p in cluster.partitions(1):
                    if p["topic"] == topic and sorted(p["replicas"]) != seen[p["partition"]][1]:
                        return None
                return seen
            seen = cluster.wait_for(kcat_matches_admin, 15, "kcat -L to agree with the admin API on %s" % topic)
            print("%s as kcat sees it: %s" % (topic, seen))
            self.assertEqual(sorted(v[0] for v in seen.values()), [1, 2, 3], "one preferred leader per node")

            # Produce in two kcat runs with different headers; keys spread
            # the messages over the partitions.
            half = MESSAGES // 2
            runs = [(0, half, ["-H", "run=first", "-H", "trace=a b=c"]), (half, MESSAGES, ["-H", "run=second"])]
            started = time.monotonic()
            for lo, hi, headers in runs:
                data = "".join("key-%d|value %d: payload, with spaces\n" % (i % KEYS, i) for i in range(lo, hi))
                r = kcat(["-b", bootstrap, "-P", "-t", topic, "-K", "|", "-X", "acks=all"] + headers,
                         input_text=data, timeout=90)
                self.assertEqual(r.returncode, 0, "kcat -P exited %d: %s" % (r.returncode, r.stderr))
                self.assertNotIn("failed", r.stderr.lower(), r.stderr)
            produce_s = time.monotonic() - started

            started = time.monotonic()
            fmt = SEP.join(["%p", "%o", "%k", "%s", "%h"]) + "\n"
            r = kcat(["-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", fmt], timeout=90)
            consume_s = time.monotonic() - started
            self.assertEqual(r.returncode, 0, "kcat -C exited %d: %s" % (r.returncode, r.stderr))
            print("kcat: produced %d messages in %.2f s (%.0f/s), consumed them in %.2f s (%.0f/s)"
                  % (MESSAGES, produce_s, MESSAGES / produce_s, consume_s, MESSAGES / consume_s))

            lines = r.stdout.split("\n")
            self.assertEqual(lines[-1], "", "output ends with a newline")
            lines = lines[:-1]
            self.assertEqual(len(lines), MESSAGES, "consumed %d messages, expected %d" % (len(lines), MESSAGES))

            per_partition = {}
            partition_of_key = {}
            for line in lines:
                fields = line.split(SEP)
                self.assertEqual(len(fields), 5, repr(line))
                partition, offset, key, value, headers = fields
                partition = int(partition)
                seq = int(value.split(":")[0].split(" ")[1])
                self.assertEqual(value, "value %d: payload, with spaces" % seq)
                self.assertEqual(key, "key-%d" % (seq % KEYS))
                expected_headers = "run=first,trace=a b=c" if seq < half else "run=second"
                self.assertEqual(headers, expected_headers, "headers of message %d" % seq)
                # The partitioner is deterministic: a key always lands on one partition.
                self.assertEqual(partition_of_key.setdefault(key, partition), partition, "key %s" % key)
                per_partition.setdefault(partition, []).append((int(offset), seq))

            self.assertEqual(sorted(per_partition), [0, 1, 2], "every partition got messages")
            all_seqs = []
            for partition, entries in sorted(per_partition.items()):
                offsets = [o for o, _ in entries]
                seqs = [s for _, s in entries]
                self.assertEqual(offsets, sorted(set(offsets)), "offsets increase in partition %d" % partition)
                self.assertEqual(seqs, sorted(seqs), "partition %d keeps the production order" % partition)
                all_seqs.extend(seqs)
                print("partition %d: %d messages, offsets %d..%d" % (partition, len(seqs), offsets[0], offsets[-1]))
            self.assertEqual(sorted(all_seqs), list(range(MESSAGES)), "every message exactly once")

            # A consumer bootstrapped from a single node reads the same.
            r = kcat(["-b", cluster.node(2).kafka_addr, "-C", "-t", topic, "-o", "beginning", "-e",
                      "-f", "%p" + SEP + "%s\n"], timeout=90)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(r.stdout.splitlines()), MESSAGES)


if __name__ == "__main__":
    fjord_cluster.main()
