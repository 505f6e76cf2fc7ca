#!/usr/bin/python3
"""A connection's pipelined writes to one key apply in the order sent, also
while the key's shard changes leader under them. One connection pipelines
APPEND k "<n>," with n counting up, 200 per round trip, through a node; a
second thread moves the shard's leadership from node to node every 100 ms
(and the balancer moves it back). Writes that find no leader wait and are
retried; a write retried that way must not land after a later write of the
same pipeline. At the end the key holds a strictly increasing sequence that
contains every acknowledged n.

Usage: test_redis_pipeline_order.py FJORD_BIN [unittest options]"""

import threading
import time
import unittest


import fjord_cluster
from redis_support import KV, client, shard_of, start_kv_cluster

KEY = "order:log"
ROUND = 200        # APPENDs per pipeline round trip
RUN_S = 6.0        # how long the writer runs
MOVE_EVERY_S = 0.1


class PipelineOrderTest(unittest.TestCase):
    def test_pipelined_writes_keep_their_order_across_leader_changes(self):
        cluster, _ = start_kv_cluster(3)
        try:
            self.check_order(cluster)
        finally:
            cluster.close()

    def check_order(self, cluster):
        shard = shard_of(KEY)
        stop = threading.Event()
        moves = []

        def move_leadership():
            while not stop.is_set():
                p = cluster.partition(1, KV, shard)
                leader = p["leader"] if p else 0
                if leader > 0:
                    target = leader % 3 + 1
                    path = "/cluster/partitions/%s/%d/transfer-leadership?to=%d" % (KV, shard, target)
                    try:
                        if cluster.node(leader).post(path).status == 200:
                            moves.append(target)
                    except OSError:
                        pass  # the node is busy handing over; try again on the next round
                stop.wait(MOVE_EVERY_S)

        mover = threading.Thread(target=move_leadership, daemon=True)
        mover.start()
        r = client(cluster.node(1), single_connection_client=True)
        acked, errors = [], {}
        n = 0
        try:
            deadline = time.monotonic() + RUN_S
            while time.monotonic() < deadline:
                pipe = r.pipeline(transaction=False)
                for i in range(n, n + ROUND):
                    pipe.append(KEY, "%d," % i)
                for i, result in zip(range(n, n + ROUND), pipe.execute(raise_on_error=False)):
                    if isinstance(result, int):
                        acked.append(i)
                    else:
                        kind = str(result).split(" ")[0]
                        errors[kind] = errors.get(kind, 0) + 1
                n += ROUND
        finally:
            stop.set()
            mover.join(timeout=10)
        value = r.get(KEY).decode()
        applied = [int(x) for x in value.split(",") if x]
        print("\n%d appends sent, %d acknowledged, %d applied, %d leadership moves, errors %r"
              % (n, len(acked), len(applied), len(moves), errors))
        self.assertGreaterEqual(len(moves), 5, "the shard's leader should have moved several times")
        out_of_order = [(a, b) for a, b in zip(applied, applied[1:]) if b <= a]
        self.assertEqual(out_of_order, [], "writes applied out of the order sent (pairs shown)")
        self.assertEqual(sorted(set(acked) - set(applied)), [], "acknowledged appends missing")


if __name__ == "__main__":
    fjord_cluster.main()
