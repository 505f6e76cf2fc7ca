#!/usr/bin/python3
"""Graceful shutdown and leadership transfer: a node stopped with SIGTERM
hands its leaderships to in-sync replicas before it exits, so that the rest
of the cluster has live leaders at once; an admin request moves a leader.

Usage: test_graceful_shutdown.py FJORD_BIN [unittest options]"""

import signal
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster

TOPIC = "events"
PARTITIONS = 3
# The nodes gossip every 100 ms; a handed-over leadership must be visible
# everywhere well within this after the old leader exits.
AFTER_EXIT_LIMIT_S = 0.5


def leaders_everywhere(cluster, dead, expected):
    """{(topic, partition): leader} if every running node reports, for each of
    the `expected` partitions (the controller and the key-value shards
    included), a running leader other than `dead`, all nodes agreeing; else
    None."""
    agreed = None
    for node in cluster.running_nodes():
        view = {}
        for p in cluster.partitions(node.id):
            leader = p["leader"]
            if leader in (-1, dead) or not cluster.node(leader).running():
                return None
            view[(p["topic"], p["partition"])] = leader
        if len(view) != expected or (agreed is not None and view != agreed):
            return None
        agreed = view
    return agreed


class GracefulShutdownTest(unittest.TestCase):
    def test_sigterm_hands_over_leaderships(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            cluster.create_topic(TOPIC, PARTITIONS, 3)
            cluster.wait_partition_leaders(TOPIC, PARTITIONS, timeout=15, full_isr=3)
            # Once each partition is led by its preferred replica, no
            # leadership moves by itself: every node leads one partition.
            leaders = cluster.wait_preferred_leaders(TOPIC, PARTITIONS, timeout=15)
            controller = cluster.wait_settled(timeout=5)
            print("\ncontroller leader %d, partition leaders %s" % (controller, leaders))
            victim = controller
            # The controller, its partition, and its share of the key-value shards.
            led = sum(1 for p in cluster.partitions(victim) if p["leader"] == victim)
            self.assertGreaterEqual(led, 2, "node %d should lead the controller and a partition" % victim)

            expected = len(cluster.partitions(victim))
            term_sent = time.monotonic()
            cluster.kill(victim, signal.SIGTERM)
            code = cluster.wait_exit(victim, timeout=15)
            exited = time.monotonic()
            print("node %d (%d leaderships) exited with %d %.3f s after SIGTERM"
                  % (victim, led, code, exited - term_sent))
            log = cluster.node(victim).log_text()
            self.assertEqual(code, 0, cluster.log_tails())
            self.assertIn("node %d: leads no group any more" % victim, log, cluster.log_tails())
            self.assertNotIn("still leads", log)

            after = cluster.wait_for(lambda: leaders_everywhere(cluster, victim, expected), AFTER_EXIT_LIMIT_S,
                                     "the other nodes to report live leaders (not %d) for every partition "
                                     "within %.1f s of its exit" % (victim, AFTER_EXIT_LIMIT_S),
                                     interval=0.02)
            print("%.3f s after exit every partition has a live leader: %s"
                  % (time.monotonic() - exited, sorted(after.items())))

    def test_a_whole_cluster_stopping_at_once_does_not_wait_for_hand_overs(self):
        """Every node gets SIGTERM at the same moment (as `fjord dev-cluster`
        or an orchestrator stopping everything does). A node whose groups
        have no replica left that serves or may serve again stops at once,
        saying so, instead of waiting out the hand-over deadline (5 s)."""
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            cluster.create_topic(TOPIC, PARTITIONS, 3)
            cluster.wait_partition_leaders(TOPIC, PARTITIONS, timeout=15, full_isr=3)
            for node in cluster:
                cluster.kill(node.id, signal.SIGTERM)
            for node in cluster:
                code = cluster.wait_exit(node.id, timeout=15)
                log = node.log_text()
                self.assertEqual(code, 0, cluster.log_tails())
                self.assertNotIn("no in-sync replica took over", log, cluster.log_tails())
                self.assertTrue("leads no group any more" in log or "gone or stopping too" in log,
                                cluster.log_tails())
            print("\nall three nodes stopped together without waiting for hand-overs")

    def test_transfer_leadership(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            cluster.create_topic(TOPIC, 1, 3)
            # Start from the stable state: the preferred replica leads.
            preferred = cluster.wait_preferred_leaders(TOPIC, 1, timeout=15)[0]
            term_before = cluster.partition(preferred, TOPIC, 0)["term"]
            target = next(n.id for n in cluster if n.id != preferred)
            via = next(n for n in cluster if n.id not in (preferred, target))
            path = "/cluster/partitions/%s/0/transfer-leadership?to=%d" % (TOPIC, target)

            # Asked through a node that neither leads nor is the target (it
            # may pass the request on, or answer 421 with the leader's address).
            started = time.monotonic()
            reply = via.post(path)
            if reply.status == 421:
                self.assertEqual(reply.json()["leader"], preferred, reply)
                reply = fjord_cluster.http_post(reply.json()["leader_admin_addr"], path, b"")
            self.assertEqual(reply.status, 200, reply)
            self.assertEqual(reply.json(), {"topic": TOPIC, "partition": 0, "leader": target})

            def target_leads():
                p = cluster.partition(target, TOPIC, 0)
                return p["leader"] == target and p["term"] > term_before and p["term"]
            term = cluster.wait_for(target_leads, 5, "node %d to lead %s/0 after the transfer" % (target, TOPIC))
            print("\ntransfer of %s/0 from %d to %d: node %d leads in term %d (was %d) after %.3f s"
                  % (TOPIC, preferred, target, target, term, term_before, time.monotonic() - started))

            # The leadership returns to the preferred replica by itself (the
            # nodes rebalance every 2 s).
            back = time.monotonic()
            self.assertEqual(cluster.wait_preferred_leaders(TOPIC, 1, timeout=10)[0], preferred)
            print("back to the preferred replica %d after %.2f s" % (preferred, time.monotonic() - back))

            # The controller's leadership moves the same way (and stays).
            controller = cluster.wait_settled(timeout=5)
            other = next(n.id for n in cluster if n.id != controller)
            reply = cluster.node(controller).post("/cluster/partitions/__controller/0/transfer-leadership?to=%d"
                                                  % other)
            self.assertEqual(reply.status, 200, reply)
            self.assertEqual(cluster.wait_settled(timeout=5), other)

            # A transfer to a node that holds no replica is refused, and nothing moves.
            reply = cluster.node(preferred).post("/cluster/partitions/%s/0/transfer-leadership?to=9" % TOPIC)
            print("transfer to node 9: %r" % reply)
            self.assertGreaterEqual(reply.status, 400, reply)
            self.assertLess(reply.status, 500, reply)
            p = cluster.partition(preferred, TOPIC, 0)
            self.assertEqual(p["leader"], preferred)


if __name__ == "__main__":
    fjord_cluster.main()
