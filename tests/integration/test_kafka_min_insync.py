#!/usr/bin/python3
"""min.insync.replicas through the Kafka API of a real 3-node cluster (with
--replica-lag-time-ms 1500): a topic created with min.insync.replicas=3;
once a killed node has dropped out of its ISR, an acks=all produce fails
with NOT_ENOUGH_REPLICAS and appends nothing, while acks=1 succeeds (and
acks=all on a topic with the default min.insync.replicas=1 too); when the
node is back in the ISR, acks=all succeeds again.

fjord drops a follower from the ISR when it has not caught up with the
leader's log for the lag time, so a dead follower of an idle partition
stays in the ISR (Kafka drops a follower that stops fetching, idle or not).
test_acks_all_needs_min_insync_replicas therefore writes once with acks=1
after the kill; test_idle_partition_drops_a_dead_follower_from_the_isr
states Kafka's behaviour on its own.

Usage: test_kafka_min_insync.py FJORD_BIN [unittest options]"""

import signal
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import fjord_cluster
from fjord_cluster import Cluster

LAG_TIME_MS = 1500
STRICT = "min-isr-3"
RELAXED = "min-isr-default"


def produce_one(bootstrap, topic, value, acks):
    """Produces one message to partition 0 with no client retries; returns
    (error or None, offset) from its delivery report."""
    reports = []
    producer = Producer({"bootstrap.servers": bootstrap, "acks": acks, "retries": 0,
                         "enable.idempotence": False, "message.timeout.ms": 5000,
                         "request.timeout.ms": 4000, "log_level": 3})
    producer.produce(topic, value=value, partition=0, on_delivery=lambda err, msg: reports.append((err, msg.offset())))
    remaining = producer.flush(15)
    del producer
    if remaining or len(reports) != 1:
        raise AssertionError("no delivery report for %r to %s (acks=%s)" % (value, topic, acks))
    return reports[0]


def partition_view(cluster, node_id, topic):
    return cluster.partition(node_id, topic, 0)


class MinInsyncTest(unittest.TestCase):
    def test_acks_all_needs_min_insync_replicas(self):
        with Cluster(3, replica_lag_time_ms=LAG_TIME_MS) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = ",".join(n.kafka_addr for n in cluster)
            admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
            futures = admin.create_topics([NewTopic(STRICT, 1, 3, config={"min.insync.replicas": "3"}),
                                           NewTopic(RELAXED, 1, 3)], request_timeout=20)
            for topic, future in futures.items():
                self.assertIsNone(future.result(timeout=30), topic)
            resource = ConfigResource(ConfigResource.Type.TOPIC, STRICT)
            configs = admin.describe_configs([resource], request_timeout=20)[resource].result(timeout=30)
            self.assertEqual(configs["min.insync.replicas"].value, "3")
            del admin

            strict_leader = cluster.wait_preferred_leaders(STRICT, 1, timeout=20)[0]
            relaxed_leader = cluster.wait_preferred_leaders(RELAXED, 1, timeout=20)[0]
            # With all three in sync, acks=all works on both topics.
            self.assertEqual(produce_one(bootstrap, STRICT, b"all-in-sync", "all")[0], None)
            self.assertEqual(produce_one(bootstrap, RELAXED, b"all-in-sync", "all")[0], None)

            # Kill a node that leads neither partition, so that both keep their leader.
            victim = next(n.id for n in cluster if n.id not in (strict_leader, relaxed_leader))
            killed_at = time.monotonic()
            cluster.kill(victim, signal.SIGKILL)
            survivors = sorted(n.id for n in cluster if n.id != victim)
            # Something for the dead follower to fall behind on (see the module comment).
            self.assertIsNone(produce_one(bootstrap, STRICT, b"while-degraded", "1")[0])
            self.assertIsNone(produce_one(bootstrap, RELAXED, b"while-degraded", "1")[0])

            def isr_shrunk():
                p = partition_view(cluster, strict_leader, STRICT)
                return p["leader"] == strict_leader and sorted(p["isr"]) == survivors and p
            p = cluster.wait_for(isr_shrunk, LAG_TIME_MS / 1000 + 10,
                                 "the ISR of %s/0 to shrink to %s" % (STRICT, survivors))
            print("\nnode %d killed; ISR of %s/0 is %s after %.3f s (lag time %d ms)"
                  % (victim, STRICT, p["isr"], time.monotonic() - killed_at, LAG_TIME_MS))
            hw_before = p["high_watermark"]
            cluster.wait_for(lambda: sorted(partition_view(cluster, relaxed_leader, RELAXED)["isr"]) == survivors,
                             10, "the ISR of %s/0 to shrink to %s" % (RELAXED, survivors))

            err, _ = produce_one(bootstrap, STRICT, b"rejected", "all")
            self.assertIsNotNone(err, "acks=all succeeded with 2 of 3 required replicas in sync")
            print("acks=all with ISR %s and min.insync.replicas=3: %s" % (survivors, err))
            self.assertEqual(err.code(), KafkaError.NOT_ENOUGH_REPLICAS, str(err))
            self.assertEqual(err.code(), 19)

            err, offset = produce_one(bootstrap, STRICT, b"acks-1", "1")
            self.assertIsNone(err, "acks=1 failed: %s" % err)
            err, _ = produce_one(bootstrap, RELAXED, b"relaxed", "all")
            self.assertIsNone(err, "acks=all with the default min.insync.replicas=1 failed: %s" % err)
            # Nothing of the rejected request was appended: the acks=1 message
            # sits right after the high watermark seen before the rejection.
            self.assertEqual(offset, hw_before, "acks=1 message at %d, high watermark was %d" % (offset, hw_before))

            # Back in the ISR, acks=all works again.
            restarted_at = time.monotonic()
            cluster.restart(victim)
            cluster.wait_up(victim, timeout=15)

            def isr_full():
                p = partition_view(cluster, strict_leader, STRICT)
                return sorted(p["isr"]) == [1, 2, 3]
            cluster.wait_for(isr_full, 20, "node %d back in the ISR of %s/0" % (victim, STRICT))
            print("node %d back in the ISR %.3f s after restart" % (victim, time.monotonic() - restarted_at))
            self.assertIsNone(produce_one(bootstrap, STRICT, b"back-in-sync", "all")[0])

            self.assertEqual(self.read_partition(bootstrap, STRICT), [b"all-in-sync", b"while-degraded", b"acks-1", b"back-in-sync"])

    def test_idle_partition_drops_a_dead_follower_from_the_isr(self):
        """Kafka: a follower that stops fetching leaves the ISR after the lag
        time, whether or not anything was written; acks=all on a topic with
        min.insync.replicas=3 then fails instead of being acknowledged with
        only two live replicas."""
        with Cluster(3, replica_lag_time_ms=LAG_TIME_MS) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = ",".join(n.kafka_addr for n in cluster)
            admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
            future = admin.create_topics([NewTopic(STRICT, 1, 3, config={"min.insync.replicas": "3"})],
                                         request_timeout=20)[STRICT]
            self.assertIsNone(future.result(timeout=30))
            del admin
            leader = cluster.wait_preferred_leaders(STRICT, 1, timeout=20)[0]
            self.assertIsNone(produce_one(bootstrap, STRICT, b"all-in-sync", "all")[0])

            victim = next(n.id for n in cluster if n.id != leader)
            killed_at = time.monotonic()
            cluster.kill(victim, signal.SIGKILL)
            survivors = sorted(n.id for n in cluster if n.id != victim)

            def reported_dead():
                return all(not n["alive"] for n in cluster.status(leader)["nodes"] if n["id"] == victim)
            cluster.wait_for(reported_dead, 10, "node %d to report node %d dead" % (leader, victim))
            print("\nnode %d killed; reported dead after %.3f s" % (victim, time.monotonic() - killed_at))
            try:
                cluster.wait_for(lambda: sorted(partition_view(cluster, leader, STRICT)["isr"]) == survivors,
                                 LAG_TIME_MS / 1000 + 5, "the ISR of the idle partition %s/0 to shrink to %s"
                                 % (STRICT, survivors))
                shrunk = True
            except fjord_cluster.WaitTimeout:
                shrunk = False
            if not shrunk:
                p = partition_view(cluster, leader, STRICT)
                err, offset = produce_one(bootstrap, STRICT, b"should-be-rejected", "all")
                self.fail("%.1f s after node %d was killed (lag time %d ms) the idle partition's ISR is still %s "
                          "(replica_status %s); acks=all with min.insync.replicas=3 answered %s at offset %s"
                          % (time.monotonic() - killed_at, victim, LAG_TIME_MS, p["isr"], p["replica_status"],
                             err, offset))
            err, _ = produce_one(bootstrap, STRICT, b"should-be-rejected", "all")
            self.assertIsNotNone(err)
            self.assertEqual(err.code(), KafkaError.NOT_ENOUGH_REPLICAS, str(err))

    def read_partition(self, bootstrap, topic):
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-it-unused",
                             "enable.auto.commit": False, "enable.partition.eof": True, "log_level": 3})
        try:
            consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
            values = []
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        return values
                    self.fail("consumer error: %s" % msg.error())
                values.append(msg.value())
            self.fail("did not reach the end of %s/0; read %r" % (topic, values))
        finally:
            consumer.close()


if __name__ == "__main__":
    fjord_cluster.main()
