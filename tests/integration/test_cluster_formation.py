#!/usr/bin/python3
"""Three fresh nodes form a cluster: one controller leader that every node
agrees on, every node alive and serving, and the admin API, the metrics and
`fjord cluster status` all show it.

Usage: test_cluster_formation.py FJORD_BIN [unittest options]"""

import os
import re
import signal
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster


class ClusterFormationTest(unittest.TestCase):
    def test_three_nodes_form_a_cluster(self):
        with Cluster(3) as cluster:
            started = time.monotonic()
            # The same controller leader on every node, all three nodes alive,
            # serving and registered (their addresses known everywhere), no
            # leaderless partition.
            leader = cluster.wait_settled(timeout=15)
            print("\ncluster settled with controller leader %d after %.2f s"
                  % (leader, time.monotonic() - started))

            # The key-value shards are created once the controller has a
            # leader, so they may still be electing theirs.
            cluster.wait_for(lambda: all(cluster.status(n.id)["leaderless_partitions"] == 0 for n in cluster), 15,
                             "every partition to have a leader, as every node sees it")

            # /cluster/status: identical node table on every node.
            tables = []
            for node in cluster:
                s = cluster.status(node.id)
                self.assertEqual(s["controller_leader"], leader, "node %d" % node.id)
                self.assertEqual(s["leaderless_partitions"], 0)
                self.assertGreaterEqual(s["partitions"], 1)
                tables.append({n["id"]: (n["rpc_addr"], n["alive"], n["serving"]) for n in s["nodes"]})
            for table in tables[1:]:
                self.assertEqual(table, tables[0])
            for node in cluster:
                s = cluster.status(node.id)
                self.assertEqual({n["id"]: (n["rpc_addr"], n["kafka_addr"], n["redis_addr"], n["admin_addr"])
                                  for n in s["nodes"]}, expected_addresses(cluster))

            # /cluster/nodes agrees with /cluster/status.
            for node in cluster:
                nodes = node.json("/cluster/nodes")
                self.assertEqual(sorted(n["id"] for n in nodes), [1, 2, 3])

            # /health on every node.
            for node in cluster:
                reply = node.get("/health")
                self.assertEqual(reply.status, 200, reply)
                self.assertEqual(reply.json(), {"status": "ok", "node": node.id})

            # The controller partition: led by the controller leader, all three in sync.
            def controller_row_settled():
                for node in cluster:
                    p = cluster.partition(node.id, "__controller", 0)
                    if p is None or p["leader"] != leader or sorted(p["replicas"]) != [1, 2, 3]:
                        return False
                p = cluster.partition(leader, "__controller", 0)
                return sorted(p["isr"]) == [1, 2, 3] and len(p["replica_status"]) == 3
            cluster.wait_for(controller_row_settled, 5, "every node to show __controller led by %d" % leader)

            # `fjord cluster status` through a node that does not lead.
            follower = next(n for n in cluster if n.id != leader)
            result = cluster.cli("cluster", "status", "--admin", follower.admin, timeout=30)
            self.assertEqual(result.returncode, 0, result.stderr)
            print(result.stdout)
            lines = result.stdout.splitlines()
            self.assertIn("controller leader: %d" % leader, result.stdout)
            for node in cluster:
                rows = [l for l in lines if l.split()[:1] == [str(node.id)] and node.rpc_addr in l]
                self.assertEqual(len(rows), 1, "one row for node %d in:\n%s" % (node.id, result.stdout))
                self.assertEqual(rows[0].split()[1:3], ["yes", "yes"], rows[0])
            controller_rows = [l.split() for l in lines if l.startswith("__controller")]
            self.assertEqual(len(controller_rows), 1, result.stdout)
            self.assertEqual(controller_rows[0][1:3], ["0", str(leader)], controller_rows[0])

            # /metrics: Prometheus text with the Raft term and storage fsyncs.
            for node in cluster:
                reply = node.get("/metrics")
                self.assertEqual(reply.status, 200)
                samples = fjord_cluster.metric_samples(reply.text)
                self.assertIn("fjord_raft_term", samples, "node %d metrics" % node.id)
                self.assertIn("fjord_storage_fsyncs_total", samples, "node %d metrics" % node.id)
                self.assertGreaterEqual(max(samples["fjord_raft_term"]), 1)
                self.assertGreaterEqual(max(samples["fjord_storage_fsyncs_total"]), 1)


    def test_a_stalled_event_loop_is_measured_and_logged(self):
        """Every tick records how late it ran (fjord_event_loop_lag_seconds).
        A node stopped for 400 ms (SIGSTOP, then SIGCONT: the stall a long GC
        pause or a blocking call would cause) records a tick more than 250 ms
        late and logs the stall, since it exceeds the election timeout."""

        def lag(node):
            text = node.get("/metrics").text
            count = float(re.search(r"^fjord_event_loop_lag_seconds_count (\S+)$", text, re.M).group(1))
            within = float(re.search(r'^fjord_event_loop_lag_seconds_bucket\{le="0.25"\} (\S+)$', text,
                                     re.M).group(1))
            return count, count - within

        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            node = cluster.node(2)
            ticks = lag(node)[0]
            cluster.wait_for(lambda: lag(node)[0] >= ticks + 10, 5, "ten more ticks measured")

            def stalls():
                return [l for l in node.log_text().splitlines() if "the event loop was busy for" in l]

            ticks, late = lag(node)
            logged = len(stalls())
            def state():
                with open("/proc/%d/stat" % node.proc.pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0]

            os.kill(node.proc.pid, signal.SIGSTOP)
            try:
                # A stop takes effect once the process is scheduled to take the
                # signal, which a busy machine may delay: the stall counts from then.
                cluster.wait_for(lambda: state() == "T", 5, "node 2 stopped")
                time.sleep(0.4)  # the length of the injected stall, not a wait for a condition
            finally:
                os.kill(node.proc.pid, signal.SIGCONT)
            cluster.wait_for(lambda: lag(node)[1] > late, 5, "a tick over 250 ms late recorded")
            cluster.wait_for(lambda: len(stalls()) > logged, 5, "the stall logged")
            # The longest of the stalls logged since (a busy machine may add shorter ones).
            line = max(stalls()[logged:], key=lambda l: int(re.search(r"busy for (\d+) ms", l).group(1)))
            busy_ms = int(re.search(r"busy for (\d+) ms", line).group(1))
            self.assertGreaterEqual(busy_ms, 300, line)
            print("\na 400 ms SIGSTOP was seen as: %s" % line.split("] ", 1)[-1])

    def test_the_controller_log_is_compacted_and_a_restarted_node_restores_the_metadata(self):
        """With a snapshot of the metadata every 5 controller entries, every
        node writes one and compacts its controller log; a node killed and
        restarted restores the metadata from its snapshot and the log after it."""
        with Cluster(3, extra_args=["--controller-snapshot-every", "5"]) as cluster:
            cluster.wait_settled(timeout=15)
            names = ["snap%d" % i for i in range(12)]
            for name in names:
                cluster.create_topic(name, 1, 3)
            for node in cluster:
                path = os.path.join(node.data_dir, "__controller-0", "raft-snapshot")
                cluster.wait_for(lambda: os.path.exists(path), 15, "node %d to snapshot the metadata" % node.id)
            victim = next(n.id for n in cluster if n.id != cluster.wait_settled(timeout=5))
            # Its controller log now starts at its last snapshot: the topics
            # created before it exist on restart only through the snapshot.
            self.assertIn("__controller-0: snapshot at index", cluster.node(victim).log_text(), cluster.log_tails())
            cluster.kill(victim)
            cluster.restart(victim)
            cluster.wait_up(victim)

            def knows_every_topic():
                topics = {p["topic"] for p in cluster.partitions(victim)}
                return set(names) <= topics
            cluster.wait_for(knows_every_topic, 15, "restarted node %d to list the %d topics" % (victim, len(names)))
            print("\nnode %d restored the metadata of %d topics from its controller snapshot"
                  % (victim, len(names)))

            # Down while the controller's log moves two snapshots on, the node
            # can only catch up through the leader's snapshot (InstallSnapshot),
            # and opens the partitions of the topics it missed.
            # A leader does not compact below a follower it still counts as
            # active, so topics are created until its log has moved on.
            leader = cluster.node(cluster.wait_settled(timeout=5))
            victim = next(n.id for n in cluster if n.id != leader.id)
            cluster.kill(victim)

            def leader_snapshots():
                return leader.log_text().count("__controller-0: snapshot at index")
            snapshots_at_kill = leader_snapshots()
            missed = []
            while leader_snapshots() < snapshots_at_kill + 2 and len(missed) < 60:
                missed.append("late%d" % len(missed))
                cluster.create_topic(missed[-1], 1, 3)
            self.assertGreaterEqual(leader_snapshots(), snapshots_at_kill + 2,
                                    "node %d took no two snapshots over %d topics" % (leader.id, len(missed)))
            names += missed
            cluster.restart(victim)
            cluster.wait_up(victim)
            cluster.wait_for(knows_every_topic, 15, "node %d to list the topics created while it was down" % victim)

            def restarted_log():
                return cluster.node(victim).log_text().rsplit("start #", 1)[1]  # since its last start
            # The metadata lists the topics before the node has opened all their replicas.
            cluster.wait_for(lambda: "%s-0: replica opened" % missed[-1] in restarted_log(), 15,
                             "node %d to open the partitions of the topics it missed" % victim)
            self.assertIn("__controller-0: restored from a snapshot at index", restarted_log(), cluster.log_tails())
            print("node %d caught up on %d topics through the leader's snapshot" % (victim, len(missed)))

def expected_addresses(cluster):
    return {n.id: (n.rpc_addr, n.kafka_addr, n.redis_addr, n.admin) for n in cluster}


if __name__ == "__main__":
    fjord_cluster.main()
