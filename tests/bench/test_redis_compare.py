#!/usr/bin/python3
"""Unit tests of bench/redis_compare.py's own logic, without servers: the
parsing of redis-benchmark's CSV, the percentile, the CRC-32C that picks the
shard it measures on (it must agree with fjord's, or the benchmark would
measure a forwarded path), the port search and the ratio report.

Usage: test_redis_compare.py [unittest options]"""

import contextlib
import importlib.util
import io
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

from fjord_cluster import crc32c as fjord_crc32c  # noqa: E402  (the tests' copy, checked against fjord)


def load_bench():
    spec = importlib.util.spec_from_file_location("redis_compare", os.path.join(REPO, "bench", "redis_compare.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = load_bench()

REDIS_BENCHMARK_CSV = '''"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","229568.33","3.301","1.424","3.279","4.095","5.863","20.607"
"GET","1104972.38","0.431","0.120","0.431","0.711","1.079","3.215"
'''


class ParsingTest(unittest.TestCase):
    def test_redis_benchmark_csv_gives_one_cell_per_test(self):
        cells = bench.parse_benchmark_csv(REDIS_BENCHMARK_CSV)
        self.assertEqual(set(cells), {"SET", "GET"})
        self.assertAlmostEqual(cells["SET"].rps, 229568.33)
        self.assertAlmostEqual(cells["SET"].p50_ms, 3.279)
        self.assertAlmostEqual(cells["GET"].p99_ms, 1.079)

    def test_lines_that_are_not_csv_rows_are_ignored(self):
        text = "WARNING: could not fetch server CONFIG\n" + REDIS_BENCHMARK_CSV + "\n"
        self.assertEqual(set(bench.parse_benchmark_csv(text)), {"SET", "GET"})
        self.assertEqual(bench.parse_benchmark_csv(""), {})


class PercentileTest(unittest.TestCase):
    def test_nearest_rank(self):
        values = list(range(1, 101))
        self.assertEqual(bench.percentile(values, 50), 50)
        self.assertEqual(bench.percentile(values, 99), 99)
        self.assertEqual(bench.percentile(values, 100), 100)
        self.assertEqual(bench.percentile(values, 0.1), 1)
        self.assertEqual(bench.percentile([7], 99), 7)

    def test_no_values_is_an_error(self):
        with self.assertRaises(ValueError):
            bench.percentile([], 50)


class ShardHashTest(unittest.TestCase):
    def test_crc32c_check_value(self):
        self.assertEqual(bench.crc32c(b"123456789"), 0xE3069283)
        self.assertEqual(bench.crc32c(b""), 0)

    def test_agrees_with_the_integration_tests_copy(self):
        for key in (bench.BENCHMARK_KEY, "bench0", "bench17", "{tag}:x", "k" * 300):
            self.assertEqual(bench.crc32c(key.encode()), fjord_crc32c(key.encode()), key)


class PortsTest(unittest.TestCase):
    def test_free_port_block_is_free_and_consecutive(self):
        base = bench.free_port_block(bench.FJORD_PORT_SPAN)
        self.assertTrue(bench.port_range_is_free(base, bench.FJORD_PORT_SPAN))

    def test_a_bound_port_makes_its_range_busy(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
        s.bind((bench.HOST, 0))
        s.listen(1)
        try:
            port = s.getsockname()[1]
            self.assertFalse(bench.port_range_is_free(port, 1))
        finally:
            s.close()
        self.assertFalse(bench.port_range_is_free(65535, 2), "a range past 65535 is never free")


class ReportTest(unittest.TestCase):
    def ratios_output(self, fjord_rps, redis_rps):
        medians = {("fjord-sync", "SET", 16): bench.Cell(fjord_rps, 1, 2),
                   ("redis", "SET", 16): bench.Cell(redis_rps, 1, 2)}
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            bench.print_ratios(medians)
        return [line for line in out.getvalue().splitlines() if "SET -P16" in line][0]

    def test_a_ratio_just_below_the_target_is_not_printed_as_the_target(self):
        line = self.ratios_output(49_990, 100_000)
        self.assertIn("MISSES", line)
        self.assertNotIn(" 0.50 ", line)

    def test_a_ratio_at_the_target_meets_it(self):
        self.assertIn("meets", self.ratios_output(50_000, 100_000))

    def test_targets_not_measured_say_so(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            bench.print_ratios({})
        self.assertEqual(out.getvalue().count("not measured"), 3)

    def test_quick_runs_are_a_tenth(self):
        full, quick = bench.request_counts(False), bench.request_counts(True)
        self.assertEqual({k: v // 10 for k, v in full.items()}, quick)


if __name__ == "__main__":
    unittest.main()
