#!/usr/bin/python3
"""kafka-python against a real 3-node cluster: KafkaAdminClient creates a
topic; KafkaProducer(acks='all') and a KafkaConsumer with manual assignment
(no group) round-trip 5,000 messages, checked for content and order.

fjord's partition logs hold Raft control batches (the membership entry at
offset 0, each leader's no-op). Kafka clients must not hand control batches
to applications, but kafka-python 2.0.2 (Debian 12's) does (dpkp/kafka-python
issue 1853, fixed upstream in 2.1): they arrive as records with a 4-byte key
(control record version 0, type) and an empty or binary value. The round
trip recognises and counts them; test_only_produced_records_reach_the_application
states the stricter expectation on its own.

Usage: test_kafka_python.py FJORD_BIN [unittest options]"""

import struct
import time
import unittest

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

import fjord_cluster
from fjord_cluster import Cluster

PARTITIONS = 3
MESSAGES = 5000
KEYS = 50


def is_control_record(record):
    """A Kafka control record as a client that does not skip control batches
    returns it: key = int16 version 0, int16 type; timestamp 0."""
    return (record.key is not None and len(record.key) == 4 and struct.unpack(">hh", record.key)[0] == 0
            and record.headers == [])


class KafkaPythonTest(unittest.TestCase):
    def start(self, cluster, topic):
        """Creates `topic` with KafkaAdminClient; returns the bootstrap list."""
        cluster.wait_settled(timeout=20)
        bootstrap = [n.kafka_addr for n in cluster]
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
        try:
            response = admin.create_topics([NewTopic(topic, PARTITIONS, 3)], timeout_ms=15000)
            self.assertEqual([(t[0], t[1]) for t in response.topic_errors], [(topic, 0)], response)
            with self.assertRaises(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, PARTITIONS, 3)], timeout_ms=15000)
            self.assertIn(topic, admin.list_topics())
        finally:
            admin.close()
        leaders = cluster.wait_partition_leaders(topic, PARTITIONS, timeout=20, full_isr=3)
        print("\n%s leaders (admin API): %s" % (topic, leaders))
        return bootstrap

    def produce(self, bootstrap, topic, count):
        """Sends `count` messages with acks=all; returns {partition: [(offset, seq)]}
        as the producer was told."""
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, retries=5,
                                 request_timeout_ms=20000)
        try:
            started = time.monotonic()
            futures = [producer.send(topic, key=b"k%d" % (seq % KEYS), value=b"v%06d" % seq,
                                     headers=[("seq", b"%d" % seq)]) for seq in range(count)]
            producer.flush(timeout=60)
            metas = [f.get(timeout=30) for f in futures]
            produce_s = time.monotonic() - started
        finally:
            producer.close(timeout=10)
        print("KafkaProducer (acks=all): %d messages in %.2f s (%.0f/s)" % (count, produce_s, count / produce_s))
        delivered = {}
        for seq, meta in enumerate(metas):
            self.assertEqual(meta.topic, topic)
            delivered.setdefault(meta.partition, []).append((meta.offset, seq))
        self.assertEqual(sorted(delivered), list(range(PARTITIONS)), "keys spread over every partition")
        return delivered

    def consume(self, bootstrap, topic, until_offsets):
        """Reads every partition from the beginning with manual assignment
        (no group) until each reaches until_offsets[p]; returns
        ({partition: [records]}, {partition: end offset})."""
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                 auto_offset_reset="earliest", fetch_max_wait_ms=100)
        try:
            partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            got = {p: [] for p in range(PARTITIONS)}
            count = 0
            started = time.monotonic()
            deadline = started + 60

            def done():
                return all(got[p] and got[p][-1].offset >= until_offsets[p] for p in got)
            while not done() and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=500, max_records=2000).items():
                    got[tp.partition].extend(records)
                    count += len(records)
            consume_s = time.monotonic() - started
            ends = {tp.partition: o for tp, o in consumer.end_offsets(partitions).items()}
        finally:
            consumer.close()
        print("KafkaConsumer: %d records in %.2f s (%.0f/s); end offsets %s"
              % (count, consume_s, count / consume_s, ends))
        return got, ends

    def check_partition(self, p, records, delivered):
        seqs = []
        for r in records:
            seq = int(r.value[1:])
            self.assertEqual(r.value, b"v%06d" % seq)
            self.assertEqual(r.key, b"k%d" % (seq % KEYS))
            self.assertEqual(r.headers, [("seq", b"%d" % seq)])
            seqs.append(seq)
        self.assertEqual([(r.offset, s) for r, s in zip(records, seqs)], delivered,
                         "partition %d differs from what the producer was told" % p)
        self.assertEqual(seqs, sorted(seqs), "partition %d out of production order" % p)
        return seqs

    def test_round_trip(self):
        topic = "kafka-python-rt"
        with Cluster(3) as cluster:
            bootstrap = self.start(cluster, topic)
            delivered = self.produce(bootstrap, topic, MESSAGES)
            got, ends = self.consume(bootstrap, topic, {p: d[-1][0] for p, d in delivered.items()})

            all_seqs = []
            controls = 0
            for p in range(PARTITIONS):
                produced_offsets = set(o for o, _ in delivered[p])
                data = []
                for r in got[p]:
                    if r.offset in produced_offsets:
                        data.append(r)
                    else:
                        self.assertTrue(is_control_record(r), "partition %d: unexpected record %r" % (p, r))
                        controls += 1
                all_seqs.extend(self.check_partition(p, data, delivered[p]))
                # The end offset is one past the last record.
                self.assertEqual(ends[p], got[p][-1].offset + 1)
            self.assertEqual(sorted(all_seqs), list(range(MESSAGES)), "every message exactly once")
            print("kafka-python 2.0.2 returned %d Raft control records besides the %d messages" % (controls, MESSAGES))
            self.check_request_metrics(cluster)

    def check_request_metrics(self, cluster):
        """Every node times the Kafka requests it answers, by API."""
        counts, infs = {}, {}
        for node in cluster:
            for line in node.get("/metrics").text.splitlines():
                if not line.startswith("fjord_request_seconds") or 'protocol="kafka"' not in line:
                    continue
                name_and_labels, value = line.rsplit(" ", 1)
                api = name_and_labels.split('api="', 1)[1].split('"', 1)[0]
                if name_and_labels.startswith("fjord_request_seconds_count"):
                    counts[api] = counts.get(api, 0) + float(value)
                elif 'le="+Inf"' in name_and_labels:
                    infs[api] = infs.get(api, 0) + float(value)
        print("Kafka requests timed, by API: %r" % counts)
        for api in ("Produce", "Fetch", "Metadata"):
            self.assertGreaterEqual(counts.get(api, 0), 1, "no %s request timed" % api)
        self.assertEqual(counts, infs, "every timed request falls in the +Inf bucket")

    def test_any_broker_takes_alter_configs(self):
        """kafka-python sends AlterConfigs to whichever broker is least loaded:
        every node must take it (a non-controller forwards it to the
        controller's leader), not answer NOT_CONTROLLER."""
        from kafka.protocol.admin import AlterConfigsRequest_v0
        topic = "kp-configs"
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = self.start(cluster, topic)
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=20000)
            try:
                for node in cluster:
                    value = str(3600000 + node.id)
                    request = AlterConfigsRequest_v0(resources=[(2, topic, [("retention.ms", value)])],
                                                     validate_only=False)
                    future = admin._send_request_to_node(node.id, request)
                    admin._wait_for_futures([future])
                    self.assertEqual(future.value.resources, [(0, None, 2, topic)],
                                     "AlterConfigs through node %d" % node.id)
                    # Committed on the controller; the node that describes it may apply it a moment later.
                    def retention_ms():
                        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
                        entries = {e[0]: e[1] for e in described[0].resources[0][4]}
                        return entries["retention.ms"] == value
                    cluster.wait_for(retention_ms, 5, "retention.ms = %s after AlterConfigs through node %d"
                                     % (value, node.id))
            finally:
                admin.close()
            print("\nAlterConfigs answered with no error by each of the 3 nodes")

    # Kafka clients must skip control batches; kafka-python 2.0.2 does not
    # (fixed upstream in 2.1). fjord keeps them in Fetch, as Kafka does with
    # transaction markers: dropping them would leave consumers short of the
    # high watermark after a trailing one (kcat -e would never see the end).
    @unittest.expectedFailure
    def test_only_produced_records_reach_the_application(self):
        """A consumer sees exactly the produced records: no control records
        (which kafka-python 2.0.2 does not filter itself)."""
        topic = "kafka-python-strict"
        with Cluster(3) as cluster:
            bootstrap = self.start(cluster, topic)
            delivered = self.produce(bootstrap, topic, 300)
            got, _ = self.consume(bootstrap, topic, {p: d[-1][0] for p, d in delivered.items()})
            for p in range(PARTITIONS):
                extra = [(r.offset, r.key, r.value[:16]) for r in got[p]
                         if r.offset not in set(o for o, _ in delivered[p])]
                self.assertEqual(extra, [], "partition %d: records nobody produced reach the application" % p)
                self.check_partition(p, got[p], delivered[p])


if __name__ == "__main__":
    fjord_cluster.main()
