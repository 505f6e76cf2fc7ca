#!/usr/bin/python3
"""Retention by size on a replicated topic: whole old segments go on every
replica, the log start offset advances, and a consumer from the beginning
gets exactly the retained suffix.

Usage: test_kafka_retention.py FJORD_BIN [unittest options]"""

import os
import unittest

import fjord_cluster
from fjord_cluster import Cluster

from confluent_kafka import Consumer, Producer, TopicPartition


def watermarks(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "retention-test"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)
    finally:
        consumer.close()


def segment_files(cluster, node_id, topic):
    directory = os.path.join(cluster.node(node_id).data_dir, topic + "-0")
    return sorted(f for f in os.listdir(directory) if f.endswith(".log"))


class RetentionTest(unittest.TestCase):
    def test_size_retention_drops_whole_segments_everywhere(self):
        with Cluster(3) as cluster:
            controller = cluster.wait_settled(timeout=15)
            reply = cluster.node(controller).post("/topics", {
                "name": "ret", "partitions": 1, "replication_factor": 3,
                "configs": {"segment.bytes": "4000", "retention.bytes": "12000"}})
            self.assertEqual(reply.status, 201, reply)
            cluster.wait_partition_leaders("ret", 1, full_isr=3)
            bootstrap = cluster.node(1).kafka_addr
            producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                                 "batch.num.messages": 5})
            values = ["value-%05d-%s" % (i, "x" * 40) for i in range(2000)]
            for v in values:
                producer.produce("ret", v.encode(), partition=0)
                producer.poll(0)
            self.assertEqual(producer.flush(30), 0)

            low, high = cluster.wait_for(lambda: (lambda w: w if w[0] > 0 else None)(watermarks(bootstrap, "ret")),
                                         15, "the log start offset of ret-0 to advance")
            print("\nretention: ret-0 now spans offsets %d..%d" % (low, high))
            # Size retention keeps about retention.bytes plus the active segment.
            for node in cluster:
                cluster.wait_for(lambda: len(segment_files(cluster, node.id, "ret")) <= 6, 10,
                                 "node %d to drop its old segments" % node.id)

            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "retention-reader",
                                 "enable.auto.commit": False, "auto.offset.reset": "earliest"})
            consumer.assign([TopicPartition("ret", 0, 0)])
            got = []
            while True:
                m = consumer.poll(2.0)
                if m is None:
                    break
                if m.error():
                    continue  # offset 0 is below the log start: the consumer resets to the earliest
                got.append(m.value().decode())
            consumer.close()
            self.assertGreater(len(got), 0)
            self.assertLess(len(got), len(values))
            self.assertEqual(got, values[len(values) - len(got):], "the retained messages are a suffix, in order")


if __name__ == "__main__":
    fjord_cluster.main()
