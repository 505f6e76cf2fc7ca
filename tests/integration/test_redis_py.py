#!/usr/bin/python3
"""redis-py against a 3-node cluster: 10,000 SETs through node 1 (pipelined
in batches of 500, and some one at a time) read back linearizably through
nodes 2 and 3 with MGET; a pipeline of mixed SET / INCR / GET / DEL answers
each command in its place; MSET / MGET across shards; SCAN (scan_iter) walks
every key exactly once; KEYS and DBSIZE count them; CLIENT SETNAME /
GETNAME; WAIT 2 after a write; READONLY (stale) reads on a follower of a
key's shard eventually see a write made through its leader.

Usage: test_redis_py.py FJORD_BIN [unittest options]"""

import collections
import socket
import threading
import time
import unittest

import redis

import fjord_cluster
from redis_support import SHARDS, client, shard_of, start_kv_cluster

KEYS = 10000
PIPELINED = 9500  # the rest are SET one at a time
BATCH = 500


def value_of(i):
    return "value-%d-%s" % (i, "x" * (i % 37))


class RedisPyTest(unittest.TestCase):
    """One cluster for all the tests of this file (each uses its own keys)."""

    @classmethod
    def setUpClass(cls):
        cls.cluster, ready_s = start_kv_cluster(3)
        cls.n1, cls.n2, cls.n3 = cls.cluster.node(1), cls.cluster.node(2), cls.cluster.node(3)
        cls.r1, cls.r2, cls.r3 = client(cls.n1), client(cls.n2), client(cls.n3)
        print("\nkey-value shards ready %.3f s after the cluster settled" % ready_s)

    @classmethod
    def tearDownClass(cls):
        for r in (cls.r1, cls.r2, cls.r3):
            r.close()
        cls.cluster.close()

    def test_10000_sets_read_back_scanned_and_counted(self):
        """10,000 SETs through node 1, read back through nodes 2 and 3; SCAN,
        KEYS and DBSIZE see each of them once."""
        r1, r2, r3, n1, n2, n3 = self.r1, self.r2, self.r3, self.n1, self.n2, self.n3
        keys = ["key:%05d" % i for i in range(KEYS)]
        started = time.monotonic()
        pipe = r1.pipeline(transaction=False)
        for i in range(PIPELINED):
            pipe.set(keys[i], value_of(i))
            if (i + 1) % BATCH == 0 or i + 1 == PIPELINED:
                replies = pipe.execute()
                self.assertEqual(replies, [True] * len(replies), "pipelined SETs ending at %d" % i)
        pipelined_s = time.monotonic() - started
        started = time.monotonic()
        for i in range(PIPELINED, KEYS):
            self.assertIs(r1.set(keys[i], value_of(i)), True)
        single_s = time.monotonic() - started
        print("%d pipelined SETs (batches of %d) through node 1 in %.3f s (%.0f/s); %d single SETs in %.3f s "
              "(%.0f/s)" % (PIPELINED, BATCH, pipelined_s, PIPELINED / pipelined_s, KEYS - PIPELINED, single_s,
                            (KEYS - PIPELINED) / single_s))
        per_shard = collections.Counter(shard_of(k) for k in keys)
        self.assertEqual(len(per_shard), SHARDS, per_shard)

        # Read back linearizably (the default read mode) through nodes 2 and 3.
        for r, node in ((r2, n2), (r3, n3)):
            started = time.monotonic()
            wrong = []
            for lo in range(0, KEYS, BATCH):
                got = r.mget(keys[lo:lo + BATCH])
                for i, v in zip(range(lo, lo + BATCH), got):
                    if v != value_of(i).encode():
                        wrong.append((keys[i], v))
            self.assertEqual(wrong[:10], [], "%d keys read through %r differ" % (len(wrong), node))
            print("all %d keys read back through %r with MGET in %.3f s" % (KEYS, node, time.monotonic() - started))

        # SCAN walks every shard and returns each key once; KEYS and DBSIZE count them.
        expected = set(keys)
        for r, node in ((r1, n1), (r2, n2), (r3, n3)):
            started = time.monotonic()
            everything = collections.Counter(k.decode() for k in r.scan_iter(count=1000))
            scan_s = time.monotonic() - started
            twice = [k for k, c in everything.items() if c > 1]
            self.assertEqual(twice, [], "SCAN through %r returned keys more than once" % node)
            seen = {k for k in everything if k.startswith("key:")}
            missing = expected - seen
            self.assertEqual(len(missing), 0, "SCAN through %r missed %d keys, e.g. %s"
                             % (node, len(missing), sorted(missing)[:5]))
            self.assertEqual(seen - expected, set(), node)
            matched = collections.Counter(k.decode() for k in r.scan_iter(match="key:0001*", count=100))
            self.assertEqual(set(matched), {k for k in keys if k.startswith("key:0001")}, node)
            self.assertEqual(max(matched.values()), 1, node)
            self.assertEqual(len(r.keys("key:*")), KEYS, node)
            self.assertEqual(sorted(k.decode() for k in r.keys("key:0000*")), keys[:10], node)
            dbsize = r.dbsize()
            self.assertEqual(dbsize, len(everything), node)
            print("through %r: SCAN returned %d keys once each (%.3f s), KEYS key:* %d, DBSIZE %d"
                  % (node, len(everything), scan_s, KEYS, dbsize))
        # A small COUNT walks every shard too.
        small = collections.Counter(k.decode() for k in r2.scan_iter(match="key:000*", count=3))
        self.assertEqual(set(small), set(keys[:100]))
        self.assertEqual(max(small.values()), 1)

    def test_mset_mget_across_shards(self):
        r1, r2, r3 = self.r1, self.r2, self.r3
        pairs = {"multi:%d" % i: "m%d" % i for i in range(64)}
        self.assertGreater(len(set(shard_of(k) for k in pairs)), 8)
        self.assertIs(r2.mset(pairs), True)
        names = sorted(pairs) + ["multi:missing"]
        for r in (r1, r3):
            self.assertEqual(r.mget(names), [pairs[k].encode() for k in sorted(pairs)] + [None])
        self.assertEqual(r3.exists(*names), len(pairs))
        self.assertEqual(r1.delete(*names), len(pairs))
        self.assertEqual(r2.mget(names), [None] * len(names))
        self.assertEqual(r2.exists(*names), 0)

    def test_client_setname_getname(self):
        named = client(self.n2, single_connection_client=True)
        other = client(self.n2, single_connection_client=True)
        try:
            self.assertIsNone(named.client_getname())
            self.assertIs(named.client_setname("fjord-it"), True)
            self.assertEqual(named.client_getname(), "fjord-it")
            self.assertIsNone(other.client_getname())  # per connection
            with self.assertRaises(redis.ResponseError):
                named.client_setname("has space")
            self.assertEqual(named.client_getname(), "fjord-it")
        finally:
            named.close()
            other.close()

    def test_wait_for_two_replicas(self):
        for node in (self.n1, self.n2, self.n3):
            w = client(node, single_connection_client=True)
            try:
                self.assertIs(w.set("wait:%d" % node.id, "v"), True)
                started = time.monotonic()
                acked = w.execute_command("WAIT", 2, 2000)
                wait_s = time.monotonic() - started
                self.assertEqual(acked, 2, "WAIT 2 2000 through %r" % node)
                self.assertLess(wait_s, 1.5, "WAIT 2 through %r took %.3f s" % (node, wait_s))
                print("WAIT 2 2000 after a SET through %r answered %d in %.3f s" % (node, acked, wait_s))
            finally:
                w.close()

    def shard_leader(self, key):
        """The id of the node leading `key`'s shard, as the nodes' INFO names it."""
        shard = shard_of(key)

        def named():
            for node in (self.n1, self.n2, self.n3):
                info = client(node).info("replication").get("shard%d" % shard)
                if isinstance(info, dict) and int(info.get("leader", 0)) > 0:
                    return int(info["leader"])
            return None
        return self.cluster.wait_for(named, 10, "a node to name the leader of shard %d" % shard)

    def test_wait_through_a_node_that_does_not_lead_the_shard_asks_the_leader(self):
        """A node that does not lead the key's shard hears of the followers'
        progress only by gossip (every 100 ms); WAIT there asks the leader.
        Right after a sync SET the leader knows a majority holds it, so WAIT
        1 with a 1 ms timeout answers at least 1 every time."""
        key = "wait:far"
        leader = self.shard_leader(key)
        others = [n for n in (self.n1, self.n2, self.n3) if n.id != leader]
        for node in others:
            w = client(node, single_connection_client=True)
            try:
                answers = []
                for i in range(20):
                    self.assertIs(w.set(key, str(i)), True)
                    answers.append(w.execute_command("WAIT", 1, 1))
                self.assertTrue(all(a >= 1 for a in answers),
                                "WAIT 1 1 through %r (leader is node %d): %r" % (node, leader, answers))
            finally:
                w.close()
        print("WAIT through nodes %s asked node %d, the shard's leader" % ([n.id for n in others], leader))

    def test_readonly_stale_reads_on_a_follower(self):
        info = self.r3.info("replication")
        follower_shards = [s for s in range(SHARDS) if info["shard%d" % s]["role"] == "follower"]
        self.assertTrue(follower_shards, info)
        key = next(k for k in ("stale:%d" % i for i in range(1000)) if shard_of(k) in follower_shards)
        stale = client(self.n3, single_connection_client=True)
        try:
            self.assertIs(stale.execute_command("READONLY"), True)
            self.assertIsNone(stale.get(key))
            for round_ in range(3):
                value = "round-%d" % round_
                self.assertIs(self.r1.set(key, value), True)
                written = time.monotonic()
                self.cluster.wait_for(lambda: stale.get(key) == value.encode(), 10,
                                      "a READONLY read on node 3 (a follower of %s's shard) to see %s" % (key, value))
                print("READONLY GET on node 3, a follower of shard %d, saw write %d after %.3f s"
                      % (shard_of(key), round_, time.monotonic() - written))
            # READWRITE: back to linearizable reads, which see a write at once.
            self.assertIs(stale.execute_command("READWRITE"), True)
            self.assertIs(self.r2.set(key, "final"), True)
            self.assertEqual(stale.get(key), b"final")
        finally:
            stale.close()

    def test_kafka_clients_cannot_touch_the_shards(self):
        """The `__kv` topic is internal: Kafka's produce, delete and create-partitions are refused."""
        from confluent_kafka import KafkaError, Producer
        from confluent_kafka.admin import AdminClient, NewPartitions
        self.assertTrue(client(self.n1).set("guarded", "yes"))
        admin = AdminClient({"bootstrap.servers": self.n1.kafka_addr})
        for future in admin.delete_topics(["__kv"], operation_timeout=10).values():
            with self.assertRaises(Exception) as refused:
                future.result(timeout=30)
            self.assertIn("Invalid topic", str(refused.exception))
        for future in admin.create_partitions([NewPartitions("__kv", 32)]).values():
            with self.assertRaises(Exception):
                future.result(timeout=30)
        errors = []
        producer = Producer({"bootstrap.servers": self.n1.kafka_addr, "message.send.max.retries": 0})
        producer.produce("__kv", b"garbage", partition=0, on_delivery=lambda err, msg: errors.append(err))
        producer.flush(30)
        self.assertEqual(len(errors), 1)
        self.assertIsNotNone(errors[0], "a produce into a key-value shard was accepted")
        self.assertEqual(errors[0].code(), KafkaError.TOPIC_EXCEPTION)
        self.assertEqual(client(self.n2).get("guarded"), b"yes")
        print("\nKafka delete, create-partitions and produce on __kv refused; the store is intact")

    def test_pipeline_answers_in_order(self):
        """A pipeline (no transaction) of SET / INCR / GET / DEL: each command
        sees the ones before it on its connection, and only those."""
        for r, node in ((self.r1, self.n1), (self.r2, self.n2), (self.r3, self.n3)):
            k = "pipe:counter:%d" % node.id
            other = "pipe:other:%d" % node.id
            pipe = r.pipeline(transaction=False)
            pipe.set(k, "1").incr(k).get(k).set(other, "a").incr(k).get(other).get(k)
            pipe.incrby(k, 10).get(k).delete(k).get(k).incr(k).get(k).exists(k, other)
            got = pipe.execute()
            expected = [True, 2, b"2", True, 3, b"a", b"3", 13, b"13", 1, None, 1, b"1", 2]
            self.assertEqual(got, expected, "pipeline of mixed SET/INCR/GET/DEL through %r" % node)
        print("pipelines of SET/INCR/GET/DEL through every node answered in order")

    def test_a_client_that_does_not_read_cannot_make_the_node_buffer_its_answers(self):
        """20,000 lease GETs of a 10 KB value, sent without reading: 200 MB of
        answers. The node stops reading the connection once 1 MiB of answers
        waits to be written (another 1 MiB may be in the write under way), so
        the most it holds for the connection (INFO clients'
        fjord_max_output_buffer) stays near 2 MiB, not 200 MB (nor the 10 MB
        that 1,024 waiting answers would hold); then every answer arrives
        once the client reads. Sent to the key's shard leader, which answers
        lease reads at once."""
        key = "flow:big"
        value = b"v" * 10000
        leader = self.shard_leader(key)
        node = next(n for n in (self.n1, self.n2, self.n3) if n.id == leader)
        observer = client(node)
        self.assertIs(observer.set(key, value), True)
        count = 20000
        request = b"GET %s\r\n" % key.encode()
        answer = b"$%d\r\n%s\r\n" % (len(value), value)
        held_bound = 2 * (1 << 20) + 64 * 1024

        def rss_kb():
            with open("/proc/%d/status" % node.proc.pid) as f:
                return int(next(line for line in f if line.startswith("VmRSS")).split()[1])

        # ASan's allocator keeps freed memory in quarantine, so a sanitized
        # node's RSS grows with all of its traffic: there only the node's own
        # count is checked.
        with open("/proc/%d/maps" % node.proc.pid) as f:
            sanitized = any("libasan" in line for line in f)
        rss_bound_kb = 8 * 1024
        self.assertTrue(observer.config_resetstat())
        sock = socket.create_connection(("127.0.0.1", node.redis_port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        try:
            sock.sendall(b"READMODE LEASE\r\n")
            before = rss_kb()
            sender = threading.Thread(target=lambda: sock.sendall(request * count))
            sender.start()
            # Watched for 3 s while the client reads nothing: without the
            # limit the node buffers all 200 MB in well under that.
            grown = held = 0
            watch_until = time.monotonic() + 3
            while time.monotonic() < watch_until:
                grown = max(grown, rss_kb() - before)
                held = observer.info("clients")["fjord_max_output_buffer"]
                self.assertLess(held, held_bound, "the node held %d bytes of answers for one connection" % held)
                if not sanitized:
                    self.assertLess(grown, rss_bound_kb, "the node grew by %d KB while answers waited" % grown)
                time.sleep(0.05)
            self.assertGreater(held, 1 << 20, "the client's answers never filled the limit")
            expected = len(b"+OK\r\n") + count * len(answer)
            got = 0
            sock.settimeout(30)
            while got < expected:
                try:
                    chunk = sock.recv(1 << 20)
                except socket.timeout:
                    self.fail("no answer for 30 s after %d of %d bytes (the node held at most %d)\n%s"
                              % (got, expected, held, self.cluster.log_tails()))
                self.assertTrue(chunk, "the node closed the connection after %d of %d bytes" % (got, expected))
                got += len(chunk)
            sender.join(timeout=30)
            self.assertEqual(got, expected)
            print("200 MB of answers to a client that did not read: the node held at most %d bytes for it "
                  "and grew by %d KB" % (held, grown))
        finally:
            sock.close()

    def test_lease_read_pipelines_answer_in_order(self):
        """With READMODE LEASE, reads the leader can answer at once are
        written straight out; in a pipeline they still come back in order
        with the writes around them, each seeing the writes before it. The
        nodes' counters show that some reads did take that way."""
        def answered_at_once():
            total = 0
            for n in (self.n1, self.n2, self.n3):
                c = client(n)
                try:
                    total += int(c.info("stats")["fjord_reads_answered_at_once"])
                finally:
                    c.close()
            return total
        before = answered_at_once()
        for node in (self.n1, self.n2, self.n3):
            r = client(node)
            try:
                k = "lease:pipe:%d" % node.id
                far = ["lease:far:%d:%d" % (node.id, i) for i in range(8)]  # on several shards
                r.set(k, "0")
                for f in far:
                    r.set(f, f)
                # The pipeline's own connection reads by lease (a pool may hand it another).
                pipe = r.pipeline(transaction=False)
                pipe.execute_command("READMODE", "LEASE")
                expected = [b"OK"]
                for n in range(1, 60):
                    pipe.get(k)
                    expected.append(str(n - 1).encode())
                    pipe.get(far[n % len(far)])
                    expected.append(far[n % len(far)].encode())
                    if n % 3 == 0:
                        pipe.get(k)
                        expected.append(str(n - 1).encode())
                    pipe.set(k, str(n))
                    expected.append(True)
                pipe.get(k).get("lease:missing:%d" % node.id)
                expected += [b"59", None]
                self.assertEqual(pipe.execute(), expected, "lease-read pipeline through %r" % node)
            finally:
                r.close()
        at_once = answered_at_once() - before
        self.assertGreater(at_once, 0, "no read of the pipelines was answered at once")
        c = client(self.n1)
        try:
            c.config_resetstat()
            self.assertEqual(int(c.info("stats")["fjord_reads_answered_at_once"]), 0, "after CONFIG RESETSTAT")
        finally:
            c.close()
        print("pipelines of lease reads and writes through every node answered in order; "
              "%d of their reads were answered at once" % at_once)


if __name__ == "__main__":
    fjord_cluster.main()
