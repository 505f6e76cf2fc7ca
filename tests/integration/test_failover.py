#!/usr/bin/python3
"""Crash failover: kill -9 a leader, a new one is elected within 2 s; the
crashed node comes back on the same data dir and ports and catches up.

Usage: test_failover.py FJORD_BIN [unittest options]"""

import signal
import time
import unittest

import fjord_cluster
from fjord_cluster import Cluster

FAILOVER_LIMIT_S = 2.0


def node_alive_everywhere(cluster, node_id):
    for node in cluster.running_nodes():
        entries = [n for n in cluster.status(node.id)["nodes"] if n["id"] == node_id]
        if len(entries) != 1 or not entries[0]["alive"]:
            return False
    return True


class FailoverTest(unittest.TestCase):
    def test_controller_leader_crash_and_rejoin(self):
        with Cluster(3) as cluster:
            old = cluster.wait_settled(timeout=15)
            survivors = [n.id for n in cluster if n.id != old]

            killed_at = time.monotonic()
            cluster.kill(old, signal.SIGKILL)
            new = cluster.wait_for(
                lambda: cluster.agreed_controller_leader(survivors, exclude=(old,)),
                FAILOVER_LIMIT_S + 8, "nodes %s to agree on a controller leader other than %d" % (survivors, old))
            elapsed = time.monotonic() - killed_at
            print("\ncontroller failover: node %d killed, nodes %s agree on node %d after %.3f s"
                  % (old, survivors, new, elapsed))
            self.assertLessEqual(elapsed, FAILOVER_LIMIT_S,
                                 "controller failover took %.3f s\n%s" % (elapsed, cluster.log_tails()))

            # Let the controller log grow while the old leader is down, so
            # that it has something to catch up on.
            cluster.create_topic("while-down", 1, 2)

            def old_lags():
                p = cluster.partition(new, "__controller", 0)
                mine = [r for r in p["replica_status"] if r["node"] == old]
                return len(mine) == 1 and mine[0]["lag"] > 0 and mine[0]["lag"]
            lag = cluster.wait_for(old_lags, 5, "leader %d to show node %d lagging on __controller" % (new, old))
            print("node %d lags %d entries behind on __controller while down" % (old, lag))

            restarted_at = time.monotonic()
            cluster.restart(old)
            # Same data dir and ports: a node that cannot bind exits, which fails this at once.
            cluster.wait_up(old, timeout=10)
            cluster.wait_for(lambda: node_alive_everywhere(cluster, old), 10,
                             "every node to see node %d alive again" % old)

            def caught_up():
                leader = cluster.agreed_controller_leader()
                if leader is None:
                    return None
                p = cluster.partition(leader, "__controller", 0)
                mine = [r for r in p["replica_status"] if r["node"] == old]
                if old in p["isr"] and len(mine) == 1 and mine[0]["in_sync"] and mine[0]["lag"] == 0:
                    return leader, mine[0]["match"]
                return None
            leader, match = cluster.wait_for(caught_up, 15, "node %d in the ISR of __controller with lag 0" % old)
            print("node %d rejoined and caught up to %d %.3f s after restart; controller leader %d"
                  % (old, match, time.monotonic() - restarted_at, leader))

            # The restarted node knows the topic created while it was down.
            cluster.wait_for(lambda: cluster.node(old).get("/topics/while-down").status == 200, 10,
                             "node %d to know topic while-down" % old)

    def test_partition_leader_crash(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=15)
            cluster.create_topic("orders", 3, 3)
            cluster.wait_partition_leaders("orders", 3, timeout=15)
            # Leaderships move to the preferred replicas shortly after
            # creation; wait for that, so that the leader killed is the leader.
            leaders = cluster.wait_preferred_leaders("orders", 3, timeout=15)
            print("\npartition leaders of orders: %s" % leaders)
            victim = leaders[0]

            killed_at = time.monotonic()
            cluster.kill(victim, signal.SIGKILL)

            def new_leader_of_0():
                seen = set()
                for node in cluster.running_nodes():
                    p = cluster.partition(node.id, "orders", 0)
                    if p is None:
                        return None
                    seen.add(p["leader"])
                if len(seen) != 1:
                    return None
                leader = seen.pop()
                return leader if leader not in (-1, victim) and cluster.node(leader).running() else None
            new = cluster.wait_for(new_leader_of_0, FAILOVER_LIMIT_S + 8,
                                   "a new leader of orders/0 after node %d was killed" % victim)
            elapsed = time.monotonic() - killed_at
            print("orders/0 failover: node %d killed, node %d leads after %.3f s" % (victim, new, elapsed))
            self.assertLessEqual(elapsed, FAILOVER_LIMIT_S,
                                 "partition failover took %.3f s\n%s" % (elapsed, cluster.log_tails()))
            # The other partitions also end up with live leaders.
            cluster.wait_partition_leaders("orders", 3, timeout=FAILOVER_LIMIT_S + 8, exclude=(victim,))


if __name__ == "__main__":
    fjord_cluster.main()
