#!/usr/bin/python3
"""Bad input on one node's Kafka listener of a real 3-node cluster: garbage
bytes, a 2 GiB size prefix, an unknown API key and an unsupported version
close only that connection; a Produce whose record batch fails its CRC
answers CORRUPT_MESSAGE (2) and appends nothing. After each, the node keeps
serving: an open connection still answers, and kcat produces and consumes
through it.

The requests are encoded here by hand (Kafka's classic request header,
Produce v3 with a v2 record batch and its CRC-32C), so that single bytes
can be broken on purpose.

Usage: test_kafka_bad_input.py FJORD_BIN [unittest options]"""

import socket
import struct
import subprocess
import time
import unittest
import uuid

import fjord_cluster
from fjord_cluster import Cluster, crc32c

KCAT = "/usr/bin/kcat"
TOPIC = "bad-input"
API_PRODUCE = 0
API_API_VERSIONS = 18
CORRUPT_MESSAGE = 2
UNSUPPORTED_VERSION = 35
IO_TIMEOUT = 10.0


# --- Kafka wire encoding ---------------------------------------------------

def varint(n):
    """Zigzag varint, as record fields use."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while True:
        byte = z & 0x7F
        z >>= 7
        if z:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def string(s):
    data = s.encode()
    return struct.pack(">h", len(data)) + data


def record_batch(values, timestamp_ms):
    """A v2 record batch (no compression, no producer id) of keyless records."""
    records = b""
    for delta, value in enumerate(values):
        body = (b"\x00" + varint(0) + varint(delta) + varint(-1) + varint(len(value)) + value + varint(0))
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp_ms, timestamp_ms, -1, -1, -1,
                            len(values)) + records
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


# Offsets of fields in a record batch (from its first byte).
CRC_FIELD = 8 + 4 + 4 + 1


def request(api_key, version, correlation_id, body, client_id="fjord-it", tagged_header=False):
    """A size-prefixed request with header v1 (v2 with `tagged_header`: no tagged fields)."""
    payload = (struct.pack(">hhi", api_key, version, correlation_id) + string(client_id)
               + (b"\x00" if tagged_header else b"") + body)
    return struct.pack(">i", len(payload)) + payload


def produce_v3(topic, partition, records, acks=-1, timeout_ms=10000):
    return (struct.pack(">h", -1) + struct.pack(">hi", acks, timeout_ms) + struct.pack(">i", 1) + string(topic)
            + struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(records)) + records)


def parse_produce_v3_response(body):
    """[(topic, partition, error_code, base_offset)]"""
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from(fmt, body, pos)
        pos += struct.calcsize(fmt)
        return values
    out = []
    (topics,) = take(">i")
    for _ in range(topics):
        (n,) = take(">h")
        name = body[pos:pos + n].decode()
        pos += n
        (parts,) = take(">i")
        for _ in range(parts):
            index, error, base_offset, _log_append_time = take(">ihqq")
            out.append((name, index, error, base_offset))
    take(">i")  # throttle_time_ms
    if pos != len(body):
        raise ValueError("%d bytes left after a Produce v3 response" % (len(body) - pos))
    return out


class Connection:
    def __init__(self, address):
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=IO_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_correlation = 1

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def call(self, api_key, version, body, tagged_header=False):
        """Sends one request and returns the response body (after the correlation id)."""
        correlation = self.next_correlation
        self.next_correlation += 1
        self.send(request(api_key, version, correlation, body, tagged_header=tagged_header))
        (size,) = struct.unpack(">i", self.read_exactly(4))
        response = self.read_exactly(size)
        (got,) = struct.unpack_from(">i", response)
        if got != correlation:
            raise AssertionError("correlation id %d in the answer to %d" % (got, correlation))
        return response[4:]

    def read_exactly(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("connection closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def api_versions(self):
        """ApiVersions v0: {api_key: (min, max)}."""
        body = self.call(API_API_VERSIONS, 0, b"")
        error, count = struct.unpack_from(">hi", body)
        if error != 0:
            raise AssertionError("ApiVersions answered error %d" % error)
        return {k: (lo, hi) for k, lo, hi in (struct.unpack_from(">hhh", body, 6 + 6 * i) for i in range(count))}

    def closed_by_peer(self):
        """Reads until the peer closes; returns the bytes it sent first (the
        read times out after IO_TIMEOUT if it never closes)."""
        data = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            if not chunk:
                return data
            data += chunk


def kcat(args, input_text=None, timeout=60):
    return subprocess.run([KCAT] + list(args), input=input_text, capture_output=True, text=True, timeout=timeout)


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(3)
        cls.cluster.__enter__()
        cls.addClassCleanup(cls.cluster.__exit__, None, None, None)
        cls.cluster.wait_settled(timeout=20)
        cls.cluster.create_topic(TOPIC, 1, 3)
        # The node under test leads the partition, so that produces and
        # fetches go through it.
        cls.target = cls.cluster.node(cls.cluster.wait_preferred_leaders(TOPIC, 1, timeout=20)[0])

    def setUp(self):
        self.witness = Connection(self.target.kafka_addr)  # open across the bad input
        self.assertIn(API_PRODUCE, self.witness.api_versions())
        self.log_length = len(self.target.log_text())

    def tearDown(self):
        self.witness.close()

    def new_log_lines(self):
        return self.target.log_text()[self.log_length:]

    def assert_still_serving(self):
        """The node runs, its other connection answers, a new one answers,
        and kcat produces and consumes through it."""
        self.assertTrue(self.target.running(), "%r exited\n%s" % (self.target, self.cluster.log_tails()))
        self.assertIn(API_PRODUCE, self.witness.api_versions())
        fresh = Connection(self.target.kafka_addr)
        try:
            self.assertIn(API_PRODUCE, fresh.api_versions())
        finally:
            fresh.close()
        marker = "after-%s-%s" % (self._testMethodName, uuid.uuid4().hex)
        r = kcat(["-b", self.target.kafka_addr, "-P", "-t", TOPIC, "-p", "0", "-X", "acks=all"], marker + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = kcat(["-b", self.target.kafka_addr, "-C", "-t", TOPIC, "-p", "0", "-o", "beginning", "-e", "-f", "%s\n"])
        self.assertEqual(r.returncode, 0, r.stderr)
        values = r.stdout.splitlines()
        self.assertIn(marker, values)
        self.assertFalse([v for v in values if v.startswith("corrupt-")], "a corrupt batch was stored: %s" % values)

    def expect_closed(self, data, what):
        conn = Connection(self.target.kafka_addr)
        try:
            started = time.monotonic()
            conn.send(data)
            answer = conn.closed_by_peer()
            print("\n%s: closed after %.3f s" % (what, time.monotonic() - started))
            self.assertEqual(answer, b"", "%s was answered with %r before the close" % (what, answer[:64]))
        finally:
            conn.close()

    def wait_log(self, text):
        return self.cluster.wait_for(lambda: text in self.new_log_lines(), 5,
                                     "%r in the log of %r" % (text, self.target))

    def test_garbage_bytes(self):
        # An HTTP request: its first four bytes read as a size of ~1.2 GB.
        self.expect_closed(b"GET / HTTP/1.1\r\nHost: fjord\r\n\r\n", "an HTTP request")
        self.wait_log("is outside 8..")
        # A plausible size followed by noise: a header that does not parse.
        noise = bytes((i * 73 + 41) % 256 for i in range(60))
        self.expect_closed(struct.pack(">i", len(noise)) + b"\x00\x03\x00\x05\x00\x00\x00\x01\x7f\xff" + noise[10:],
                           "a garbage header")
        self.wait_log("malformed request header")
        # A size below the smallest header.
        self.expect_closed(struct.pack(">i", 3) + b"abc", "a 3-byte request")
        self.assert_still_serving()

    def test_2gib_size_prefix(self):
        for size in (0x80000000, 0x7FFFFFFF, 0xFFFFFFFF):
            self.expect_closed(struct.pack(">I", size) + b"\x00" * 64, "size prefix %#x" % size)
            self.wait_log("request size %d is outside" % size)
        self.assert_still_serving()

    def test_unknown_api_key(self):
        self.expect_closed(request(9999, 0, 7, b""), "API key 9999")
        self.wait_log("(key 9999)")
        # A known API at a version it does not parse (Produce v2) is refused the same way.
        self.expect_closed(request(API_PRODUCE, 2, 8, b"\x00" * 16), "Produce v2")
        # ApiVersions at a version the broker does not know answers
        # UNSUPPORTED_VERSION (v0 body) with the versions it does support.
        # (Its request header is v2 from ApiVersions v3 on: an empty tagged
        # field section follows the client id; the v3+ body is compact.)
        conn = Connection(self.target.kafka_addr)
        try:
            body = conn.call(API_API_VERSIONS, 99, b"\x06fjord\x021\x00", tagged_header=True)
            (error,) = struct.unpack_from(">h", body)
            self.assertEqual(error, UNSUPPORTED_VERSION)
        finally:
            conn.close()
        self.assert_still_serving()

    def test_corrupt_crc(self):
        conn = Connection(self.target.kafka_addr)
        try:
            def hw():
                return self.cluster.partition(self.target.id, TOPIC, 0)["high_watermark"]

            def produce(records):
                [(topic, partition, error, base)] = parse_produce_v3_response(
                    conn.call(API_PRODUCE, 3, produce_v3(TOPIC, 0, records)))
                self.assertEqual((topic, partition), (TOPIC, 0))
                return error, base

            now_ms = int(time.time() * 1000)
            # The encoder is right: a valid batch is appended at the high watermark.
            before = hw()
            error, base = produce(record_batch([b"valid-1", b"valid-2"], now_ms))
            self.assertEqual((error, base), (0, before))
            self.cluster.wait_for(lambda: hw() == before + 2, 5, "the high watermark to pass the valid batch")

            before = hw()
            good = record_batch([b"corrupt-1", b"corrupt-2", b"corrupt-3"], now_ms)
            flipped_value = bytearray(good)
            flipped_value[-3] ^= 0x01  # inside the last record's value
            flipped_crc = bytearray(good)
            flipped_crc[CRC_FIELD] ^= 0x80
            for name, bad in (("a flipped value byte", flipped_value), ("a flipped CRC byte", flipped_crc)):
                error, base = produce(bytes(bad))
                print("\nProduce with %s: error %d, base offset %d" % (name, error, base))
                self.assertEqual(error, CORRUPT_MESSAGE, "Produce with %s" % name)
                self.assertEqual(base, -1)
                self.assertEqual(hw(), before, "the high watermark moved after a Produce with %s" % name)

            # Nothing was appended: the next valid batch lands where the
            # corrupt ones would have.
            error, base = produce(record_batch([b"valid-3"], now_ms))
            self.assertEqual((error, base), (0, before))
            self.assertIn(API_PRODUCE, conn.api_versions())  # the connection stayed open
        finally:
            conn.close()
        self.assert_still_serving()


if __name__ == "__main__":
    fjord_cluster.main()
