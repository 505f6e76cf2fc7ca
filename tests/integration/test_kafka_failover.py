#!/usr/bin/python3
"""Kafka production through a partition leader's crash: a confluent_kafka
producer (acks=all, retrying) sends a numbered sequence continuously; the
leader of one of its partitions is killed with SIGKILL; production to that
partition resumes within 2 s; nothing acknowledged is lost and each
partition keeps the production order (duplicates from client retries are
counted and printed, not failed on). The killed node then rejoins the ISR of
every partition.

Usage: test_kafka_failover.py FJORD_BIN [unittest options]"""

import collections
import signal
import threading
import time
import unittest

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient

import fjord_cluster
from fjord_cluster import Cluster

PARTITIONS = 3
RESUME_LIMIT_S = 2.0
RATE = 3000            # messages per second offered, over all partitions
BEFORE_KILL = 2000     # acknowledged messages before the kill
AFTER_RESUME = 4000    # acknowledged messages after production resumed


class SequenceProducer(threading.Thread):
    """Produces "seq=N" to partition N % PARTITIONS at RATE messages per
    second, recording when each message was handed to the client and each
    delivery report (time, partition, offset, error)."""

    def __init__(self, bootstrap, topic):
        super().__init__(name="sequence-producer", daemon=True)
        self.topic = topic
        self.producer = Producer({
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "retries": 2147483647,
            "max.in.flight.requests.per.connection": 1,  # the client keeps the order across retries
            "message.timeout.ms": 60000,
            "linger.ms": 2,
            "retry.backoff.ms": 20,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "topic.metadata.refresh.fast.interval.ms": 50,
            "log_level": 3,
        })
        self.lock = threading.Lock()
        self.produced_at = {}  # seq -> monotonic time of produce()
        self.acked = []        # (time, partition, offset, seq) in delivery order
        self.failed = []       # (seq, error)
        self.next_seq = 0
        self.stop = threading.Event()
        self.error = None

    def on_delivery(self, err, msg):
        now = time.monotonic()
        seq = int(msg.value()[4:])
        with self.lock:
            if err is not None:
                self.failed.append((seq, err))
            else:
                self.acked.append((now, msg.partition(), msg.offset(), seq))

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def run(self):
        try:
            started = time.monotonic()
            while not self.stop.is_set():
                due = int((time.monotonic() - started) * RATE)
                while self.next_seq < due and not self.stop.is_set():
                    seq = self.next_seq
                    with self.lock:
                        self.produced_at[seq] = time.monotonic()
                    try:
                        self.producer.produce(self.topic, value=b"seq=%d" % seq, key=b"%d" % seq,
                                              partition=seq % PARTITIONS, on_delivery=self.on_delivery)
                    except BufferError:
                        with self.lock:
                            del self.produced_at[seq]
                        break
                    self.next_seq += 1
                # Serves delivery reports; also paces the loop.
                self.producer.poll(0.002)
            self.producer.flush(30)
        except BaseException as e:  # reported by the test
            self.error = e


class KafkaFailoverTest(unittest.TestCase):
    def test_partition_leader_crash_under_load(self):
        topic = "failover-seq"
        with Cluster(3) as cluster:
            cluster.wait_settled(timeout=20)
            bootstrap = ",".join(n.kafka_addr for n in cluster)
            cluster.create_topic(topic, PARTITIONS, 3)
            cluster.wait_partition_leaders(topic, PARTITIONS, timeout=20, full_isr=3)
            # Leaderships move to the preferred replicas shortly after
            # creation; wait for that, so that the leader killed stays the leader.
            leaders = cluster.wait_preferred_leaders(topic, PARTITIONS, timeout=20)
            print("\n%s leaders: %s" % (topic, leaders))

            producer = SequenceProducer(bootstrap, topic)
            watcher = AdminClient({"bootstrap.servers": cluster.node(
                next(n.id for n in cluster if n.id != leaders[0])).kafka_addr, "log_level": 3})
            producer.start()
            try:
                cluster.wait_for(lambda: producer.error or producer.acked_count() >= BEFORE_KILL, 30,
                                 "%d acknowledged messages before the kill" % BEFORE_KILL)
                self.assertIsNone(producer.error)

                # The victim: the leader of partition 0, as the admin API of another node reports it.
                other = next(n.id for n in cluster if n.id != leaders[0])
                current = cluster.topic_leaders(other, topic)
                victim = current[0]
                affected = sorted(p for p, leader in current.items() if leader == victim)
                acked_before = producer.acked_count()
                killed_at = time.monotonic()
                cluster.kill(victim, signal.SIGKILL)
                print("killed node %d, leader of partitions %s, after %d acknowledged messages"
                      % (victim, affected, acked_before))

                # When the Kafka metadata of a survivor names new leaders
                # (the rest of the resume time is the client's).
                def new_leaders_in_metadata():
                    partitions = watcher.list_topics(topic, timeout=2).topics[topic].partitions
                    leaders = {p: partitions[p].leader for p in affected}
                    return all(l not in (-1, victim) for l in leaders.values()) and leaders
                new_leaders = cluster.wait_for(new_leaders_in_metadata, 30, "new leaders in the Kafka metadata")
                print("Kafka metadata from node %d names new leaders %s after %.3f s"
                      % (other, new_leaders, time.monotonic() - killed_at))

                def resumed():
                    """{partition: seconds from the kill to the first delivery of
                    a message handed to the client after the kill}, once every
                    affected partition has one."""
                    with producer.lock:
                        firsts = {}
                        for t, p, _, seq in producer.acked:
                            if p in affected and p not in firsts and producer.produced_at[seq] > killed_at:
                                firsts[p] = t - killed_at
                    if producer.error:
                        return {"error": producer.error}
                    return firsts if sorted(firsts) == affected else None
                resume = cluster.wait_for(resumed, 30, "production to partitions %s to resume" % affected)
                self.assertNotIn("error", resume)
                with producer.lock:
                    first_any = min((t - killed_at for t, p, _, _ in producer.acked if p in affected
                                     and t > killed_at), default=None)
                print("production resumed after the kill: %s s per partition (first delivery of any "
                      "message to them after %.3f s)" % ({p: round(s, 3) for p, s in resume.items()}, first_any))
                self.assertLessEqual(max(resume.values()), RESUME_LIMIT_S,
                                     "production resumed only after %.3f s\n%s"
                                     % (max(resume.values()), cluster.log_tails()))

                target = producer.acked_count() + AFTER_RESUME
                cluster.wait_for(lambda: producer.error or producer.acked_count() >= target, 60,
                                 "%d more acknowledged messages after the failover" % AFTER_RESUME)
            finally:
                producer.stop.set()
                producer.join(60)
            self.assertFalse(producer.is_alive(), "producer thread did not stop")
            self.assertIsNone(producer.error)
            produced = producer.next_seq
            acked = producer.acked
            failed = producer.failed
            del producer, watcher  # the clients, before nodes stop: no reconnection noise
            print("produced %d messages, %d acknowledged, %d failed (%s)"
                  % (produced, len(acked), len(failed), collections.Counter(str(e) for _, e in failed).most_common(3)))

            # --- read everything back --------------------------------------
            logs = self.read_all(bootstrap, topic)
            seen_total = sum(len(v) for v in logs.values())
            duplicates = 0
            for p in range(PARTITIONS):
                seqs = [seq for _, seq in logs[p]]
                for seq in seqs:
                    self.assertEqual(seq % PARTITIONS, p, "message %d in partition %d" % (seq, p))
                counts = collections.Counter(seqs)
                dups = sum(c - 1 for c in counts.values())
                duplicates += dups
                first_pos = {}
                for i, seq in enumerate(seqs):
                    first_pos.setdefault(seq, i)
                acked_here = sorted(seq for _, q, _, seq in acked if q == p)
                missing = [seq for seq in acked_here if seq not in first_pos]
                self.assertEqual(missing, [], "partition %d lost %d acknowledged messages, first %s"
                                 % (p, len(missing), missing[:10]))
                positions = [first_pos[seq] for seq in acked_here]
                disorder = [(acked_here[i], acked_here[i + 1]) for i in range(len(positions) - 1)
                            if positions[i] > positions[i + 1]]
                self.assertEqual(disorder, [], "partition %d: acknowledged messages out of production order"
                                 % p)
                # The offset each delivery report gave holds that message.
                offsets = dict(logs[p])
                wrong = [(o, seq, offsets.get(o)) for _, q, o, seq in acked if q == p and offsets.get(o) != seq]
                self.assertEqual(wrong, [], "partition %d: delivery reports name offsets holding other messages"
                                 % p)
                print("partition %d: %d records, %d acknowledged messages all present in order, %d duplicates, "
                      "%d unacknowledged present" % (p, len(seqs), len(acked_here), dups,
                                                     len(set(counts) - set(acked_here))))
            print("read back %d records; %d duplicates from client retries" % (seen_total, duplicates))

            # --- the killed node rejoins ----------------------------------
            restarted_at = time.monotonic()
            cluster.restart(victim)
            cluster.wait_up(victim, timeout=15)
            cluster.wait_partition_leaders(topic, PARTITIONS, timeout=30, full_isr=3)
            back = cluster.wait_preferred_leaders(topic, PARTITIONS, timeout=30)
            print("node %d back in the ISR of every partition %.3f s after restart; leaders %s"
                  % (victim, time.monotonic() - restarted_at, back))
            for node in cluster:
                for p in cluster.partitions(node.id):
                    if p["topic"] == topic:
                        self.assertIn(victim, p["isr"], "%r: %s" % (node, p))

    def read_all(self, bootstrap, topic):
        """{partition: [(offset, seq)]} of every record, read with manual
        assignment up to the end of every partition."""
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "fjord-it-unused",
                             "enable.auto.commit": False, "enable.auto.offset.store": False,
                             "enable.partition.eof": True, "fetch.wait.max.ms": 100, "log_level": 3})
        try:
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
            logs = {p: [] for p in range(PARTITIONS)}
            at_end = set()
            deadline = time.monotonic() + 60
            while len(at_end) < PARTITIONS and time.monotonic() < deadline:
                for msg in consumer.consume(num_messages=5000, timeout=0.5):
                    err = msg.error()
                    if err is not None:
                        if err.code() == KafkaError._PARTITION_EOF:
                            at_end.add(msg.partition())
                            continue
                        self.fail("consumer error: %s" % err)
                    value = msg.value()
                    self.assertTrue(value.startswith(b"seq="), value)
                    seq = int(value[4:])
                    self.assertEqual(msg.key(), b"%d" % seq)
                    logs[msg.partition()].append((msg.offset(), seq))
                    at_end.discard(msg.partition())
            self.assertEqual(len(at_end), PARTITIONS, "did not reach the end of every partition")
            return logs
        finally:
            consumer.close()


if __name__ == "__main__":
    fjord_cluster.main()
