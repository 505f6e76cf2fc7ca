#!/usr/bin/python3
"""confluent_kafka (librdkafka) against a real 3-node cluster: AdminClient
creates a 6-partition topic with replication factor 3; an acks=all producer
sends 100,000 messages without a delivery error; a consumer with manual
assignment reads every one back in order per partition; DescribeConfigs and
AlterConfigs on the topic.

Usage: test_kafka_confluent.py FJORD_BIN [unittest options]"""

import time
import unittest

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

import fjord_cluster
from fjord_cluster import Cluster

PARTITIONS = 6
MESSAGES = 100000
KEYS = 600


def value_of(seq):
    return b"seq=%08d;payload" % seq


def seq_of(value):
    return int(value[4:12])


class ConfluentTest(unittest.TestCase):
    def test_admin_produce_consume(self):
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = ",".join(n.kafka_addr for n in cluster)
            topic = "confluent-rt"
            errors = []
            admin = AdminClient({"bootstrap.servers": bootstrap, "error_cb": errors.append})

            # CreateTopics: the future answers None on success.
            futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3)],
                                          operation_timeout=15, request_timeout=20)
            self.assertEqual(sorted(futures), [topic])
            self.assertIsNone(futures[topic].result(timeout=30))

            # Creating it again fails with TOPIC_ALREADY_EXISTS.
            again = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=3)],
                                        request_timeout=20)
            with self.assertRaises(KafkaException) as raised:
                again[topic].result(timeout=30)
            self.assertEqual(raised.exception.args[0].code(), KafkaError.TOPIC_ALREADY_EXISTS)

            def described():
                md = admin.list_topics(topic, timeout=5)
                t = md.topics[topic]
                if t.error is not None or len(t.partitions) != PARTITIONS:
                    return None
                for p in t.partitions.values():
                    if p.leader == -1 or sorted(p.replicas) != [1, 2, 3] or sorted(p.isrs) != [1, 2, 3]:
                        return None
                return {pid: p.leader for pid, p in t.partitions.items()}
            leaders = cluster.wait_for(described, 20, "metadata to show 6 partitions with 3 replicas in sync")
            print("\n%s leaders (client metadata): %s" % (topic, leaders))

            # --- produce -------------------------------------------------
            delivered = {}
            failures = []

            def on_delivery(err, msg):
                if err is not None:
                    failures.append((err, msg.key()))
                else:
                    delivered.setdefault(msg.partition(), []).append((msg.offset(), seq_of(msg.value())))

            producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                                 "queue.buffering.max.messages": 200000, "message.timeout.ms": 60000,
                                 "error_cb": errors.append})
            started = time.monotonic()
            for seq in range(MESSAGES):
                key = b"key-%d" % (seq % KEYS)
                while True:
                    try:
                        producer.produce(topic, value=value_of(seq), key=key, on_delivery=on_delivery)
                        break
                    except BufferError:
                        producer.poll(0.05)  # queue full: serve delivery reports
                if seq % 1000 == 0:
                    producer.poll(0)
            remaining = producer.flush(90)
            produce_s = time.monotonic() - started
            self.assertEqual(remaining, 0, "messages still queued after flush")
            print("producer (acks=all): %d messages in %.2f s (%.0f/s), %d delivery errors"
                  % (MESSAGES, produce_s, MESSAGES / produce_s, len(failures)))
            self.assertEqual(failures, [], "delivery errors")
            self.assertEqual(sum(len(v) for v in delivered.values()), MESSAGES)
            self.assertEqual(len(delivered), PARTITIONS, "keys spread over every partition")

            # --- consume with manual assignment ---------------------------
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-it-unused",
                                 "enable.auto.commit": False, "enable.auto.offset.store": False,
                                 "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
                                 "error_cb": lambda e: None})
            try:
                consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
                consumed = {}
                count = 0
                started = time.monotonic()
                deadline = started + 90
                while count < MESSAGES and time.monotonic() < deadline:
                    for msg in consumer.consume(num_messages=5000, timeout=0.5):
                        if msg.error() is not None:
                            if msg.error().code() == KafkaError._PARTITION_EOF:
                                continue
                            self.fail("consumer error: %s" % msg.error())
                        consumed.setdefault(msg.partition(), []).append((msg.offset(), msg.key(), msg.value()))
                        count += 1
                consume_s = time.monotonic() - started
                print("consumer: %d messages in %.2f s (%.0f/s)" % (count, consume_s, count / consume_s))
            finally:
                consumer.close()

            self.assertEqual(count, MESSAGES, "consumed %d of %d messages" % (count, MESSAGES))
            all_seqs = []
            for p in range(PARTITIONS):
                got = consumed.get(p, [])
                # Exactly what the producer was told it delivered, at the same offsets, in order.
                self.assertEqual([(o, s) for o, _, v in got for s in [seq_of(v)]], delivered[p],
                                 "partition %d differs from the delivery reports" % p)
                seqs = []
                for offset, key, value in got:
                    seq = seq_of(value)
                    self.assertEqual(value, value_of(seq))
                    self.assertEqual(key, b"key-%d" % (seq % KEYS))
                    seqs.append(seq)
                self.assertEqual(seqs, sorted(seqs), "partition %d out of production order" % p)
                all_seqs.extend(seqs)
            self.assertEqual(sorted(all_seqs), list(range(MESSAGES)), "every message exactly once")
            print("per partition: %s" % {p: len(v) for p, v in sorted(consumed.items())})

            # --- configs ----------------------------------------------------
            resource = ConfigResource(ConfigResource.Type.TOPIC, topic)

            def describe():
                fs = admin.describe_configs([resource], request_timeout=20)
                return fs[resource].result(timeout=30)
            configs = describe()
            self.assertIn("retention.ms", configs)
            self.assertIn("min.insync.replicas", configs)
            print("retention.ms = %s (default %s)" % (configs["retention.ms"].value, configs["retention.ms"].is_default))

            # confluent_kafka 1.7 has AlterConfigs (replaces the topic's
            # dynamic configs) but no IncrementalAlterConfigs (2.2 added it).
            resource.set_config("retention.ms", "3600000")
            resource.set_config("max.message.bytes", "500000")
            fs = admin.alter_configs([resource], request_timeout=20)
            self.assertIsNone(fs[resource].result(timeout=30))
            configs = describe()
            self.assertEqual(configs["retention.ms"].value, "3600000")
            self.assertFalse(configs["retention.ms"].is_default)
            self.assertEqual(configs["max.message.bytes"].value, "500000")

            # AlterConfigs is not incremental: what it leaves out returns to the default.
            resource = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"retention.ms": "7200000"})
            self.assertIsNone(admin.alter_configs([resource], request_timeout=20)[resource].result(timeout=30))
            configs = describe()
            self.assertEqual(configs["retention.ms"].value, "7200000")
            self.assertTrue(configs["max.message.bytes"].is_default, configs["max.message.bytes"])

            # An unknown config name is refused.
            bad = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"no.such.config": "1"})
            with self.assertRaises(KafkaException):
                admin.alter_configs([bad], request_timeout=20)[bad].result(timeout=30)

            self.assertEqual([e for e in errors if e.code() != KafkaError._TRANSPORT], [],
                             "client errors other than transport ones")
            # Drop the clients before the cluster stops, so that they do not
            # log reconnection attempts to nodes that are gone.
            del producer, admin


if __name__ == "__main__":
    fjord_cluster.main()
