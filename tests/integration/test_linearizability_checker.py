#!/usr/bin/python3
"""Tests of the linearizability checker (linearizability.py).

Usage: test_linearizability_checker.py [unittest options]"""

import itertools
import os
import random
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from linearizability import Op, check  # noqa: E402


def get(c, k, out, call, ret):
    return Op(c, "get", k, None, out, call, ret)


def set_(c, k, v, call, ret):
    return Op(c, "set", k, v, None, call, ret)


def incr(c, k, out, call, ret):
    return Op(c, "incr", k, None, out, call, ret)


class SmallHistoriesTest(unittest.TestCase):
    def assertOk(self, history):
        r = check(history, timeout_s=10)
        self.assertTrue(r.ok, r.detail)
        self.assertFalse(r.unknown)
        return r

    def assertBad(self, history, key="k"):
        r = check(history, timeout_s=10)
        self.assertFalse(r.ok, r.detail)
        self.assertFalse(r.unknown)
        self.assertEqual(r.key, key)
        self.assertIn("not linearizable", r.detail)
        return r

    def test_empty(self):
        self.assertOk([])

    def test_sequential(self):
        self.assertOk([
            get(1, "k", None, 0, 1),
            set_(1, "k", "a", 2, 3),
            get(2, "k", "a", 4, 5),
            set_(2, "k", "5", 6, 7),
            incr(1, "k", 6, 8, 9),
            incr(2, "k", 7, 10, 11),
            get(1, "k", "7", 12, 13),
        ])

    def test_sequential_wrong_read(self):
        self.assertBad([
            set_(1, "k", "a", 0, 1),
            set_(1, "k", "b", 2, 3),
            get(1, "k", "a", 4, 5),
        ])

    def test_concurrent_needs_specific_order(self):
        # Both sets overlap both gets; the reads force b before a, and the
        # first get (which returns before the second starts) sees b.
        self.assertOk([
            set_(1, "k", "a", 0, 10),
            set_(2, "k", "b", 1, 10),
            get(3, "k", "b", 2, 4),
            get(3, "k", "a", 5, 11),
        ])
        # Reads in the opposite order too.
        self.assertOk([
            set_(1, "k", "a", 0, 10),
            set_(2, "k", "b", 1, 10),
            get(3, "k", "a", 2, 4),
            get(3, "k", "b", 5, 11),
        ])
        # But not b then a then b: only one write of each.
        self.assertBad([
            set_(1, "k", "a", 0, 10),
            set_(2, "k", "b", 1, 10),
            get(3, "k", "b", 2, 4),
            get(3, "k", "a", 5, 6),
            get(3, "k", "b", 7, 11),
        ])

    def test_touching_intervals_are_concurrent(self):
        # The get's call time equals the set's return time: concurrent, so
        # the get may be ordered first.
        self.assertOk([
            get(2, "k", None, 5, 6),
            set_(1, "k", "a", 0, 5),
        ])

    def test_stale_read_after_completed_set(self):
        r = self.assertBad([
            set_(1, "k", "old", 0, 1),
            set_(1, "k", "new", 2, 3),
            get(2, "k", "old", 4, 5),
        ])
        self.assertIn("'old'", r.detail)
        self.assertIn("holds 'new'", r.detail)

    def test_lost_incr(self):
        self.assertBad([
            set_(1, "k", "10", 0, 1),
            incr(1, "k", 11, 2, 5),
            incr(2, "k", 11, 3, 6),
        ])
        # Concurrent incrs with distinct results are fine.
        self.assertOk([
            set_(1, "k", "10", 0, 1),
            incr(1, "k", 12, 2, 5),
            incr(2, "k", 11, 3, 6),
            get(3, "k", "12", 7, 8),
        ])

    def test_incr_of_missing_key(self):
        self.assertOk([incr(1, "k", 1, 0, 1), get(1, "k", "1", 2, 3)])
        self.assertBad([incr(1, "k", 2, 0, 1)])

    def test_incr_of_non_number_is_impossible(self):
        self.assertBad([
            set_(1, "k", "hello", 0, 1),
            incr(1, "k", 1, 2, 3),
        ])
        # Redis integers only: no leading zeros, no '+', no spaces.
        for bad in ("007", "+1", " 1", "1.0", "-0", "9223372036854775807"):
            with self.subTest(value=bad):
                self.assertBad([set_(1, "k", bad, 0, 1), incr(1, "k", 8, 2, 3)])
        self.assertOk([set_(1, "k", "-5", 0, 1), incr(1, "k", -4, 2, 3)])
        self.assertOk([set_(1, "k", "0", 0, 1), incr(1, "k", 1, 2, 3)])
        # A concurrent set of a number can make the incr possible.
        self.assertOk([
            set_(1, "k", "hello", 0, 1),
            incr(1, "k", 42, 2, 5),
            set_(2, "k", "41", 3, 4),
        ])

    def test_unknown_set_that_must_have_happened(self):
        self.assertOk([
            set_(1, "k", "a", 0, 1),
            set_(2, "k", "b", 2, None),
            get(1, "k", "a", 3, 4),
            get(1, "k", "b", 50, 51),
        ])

    def test_unknown_set_that_never_happened(self):
        self.assertOk([
            set_(1, "k", "a", 0, 1),
            set_(2, "k", "b", 2, None),
            get(1, "k", "a", 3, 4),
            get(1, "k", "a", 50, 51),
        ])

    def test_unknown_set_cannot_happen_before_its_call(self):
        self.assertBad([
            get(1, "k", "b", 0, 1),
            set_(2, "k", "b", 2, None),
        ])

    def test_unknown_set_takes_effect_once(self):
        # a, then the unknown b, then a again: needs b twice.
        self.assertBad([
            set_(1, "k", "a", 0, 1),
            set_(2, "k", "b", 2, None),
            get(1, "k", "b", 3, 4),
            set_(1, "k", "a", 5, 6),
            get(1, "k", "a", 7, 8),
            get(1, "k", "b", 9, 10),
        ])

    def test_unknown_incr(self):
        # Happened (the later incr sees it), its recorded output is ignored.
        self.assertOk([
            set_(1, "k", "1", 0, 1),
            incr(2, "k", None, 2, None),
            incr(1, "k", 3, 3, 4),
        ])
        # Never happened.
        self.assertOk([
            set_(1, "k", "1", 0, 1),
            incr(2, "k", None, 2, None),
            incr(1, "k", 2, 3, 4),
            get(1, "k", "2", 5, 6),
        ])
        # Happened after everything else.
        self.assertOk([
            incr(2, "k", None, 0, None),
            get(1, "k", None, 3, 4),
            get(1, "k", "1", 5, 6),
        ])
        # Two unknown incrs cannot explain a jump of three.
        self.assertBad([
            set_(1, "k", "1", 0, 1),
            incr(2, "k", None, 2, None),
            incr(3, "k", None, 2, None),
            get(1, "k", "4", 5, 6),
        ])

    def test_unknown_get_is_ignored(self):
        self.assertOk([
            set_(1, "k", "a", 0, 1),
            get(2, "k", "nonsense", 2, None),
            get(1, "k", "a", 3, 4),
        ])

    def test_only_unknown_ops(self):
        self.assertOk([set_(1, "k", "a", 0, None), incr(2, "k", None, 1, None)])

    def test_missing_key_reads(self):
        self.assertOk([get(1, "k", None, 0, 1), get(2, "k", None, 0.5, 2)])
        self.assertOk([
            get(1, "k", None, 0, 3),
            set_(2, "k", "v", 1, 2),
            get(1, "k", "v", 4, 5),
        ])
        self.assertBad([
            set_(2, "k", "v", 1, 2),
            get(1, "k", None, 3, 4),
        ])
        # The empty string is a value, not a missing key.
        self.assertBad([get(1, "k", "", 0, 1)])

    def test_several_keys_one_bad(self):
        h = []
        for key in ("a", "b", "c", "d"):
            h += [set_(1, key, "x", 0, 1), get(2, key, "x", 2, 3)]
        h += [set_(1, "c", "y", 4, 5), get(2, "c", "x", 6, 7)]
        r = self.assertBad(h, key="c")
        self.assertIn("key 'c'", r.detail)

    def test_detail_names_the_stuck_ops(self):
        r = self.assertBad([
            set_(1, "k", "a", 0.0, 1.0),
            set_(2, "k", "b", 2.0, 3.0),
            get(3, "k", "a", 4.0, 5.0),
        ])
        self.assertIn("longest linearizable prefix: 2 ops", r.detail)
        self.assertIn("client 3: get('k') -> 'a' [4.000000, 5.000000]", r.detail)
        self.assertIn("register after the prefix: 'b'", r.detail)

    def test_bad_input(self):
        with self.assertRaises(ValueError):
            check([Op(1, "del", "k", None, None, 0, 1)])
        with self.assertRaises(ValueError):
            check([get(1, "k", None, 2, 1)])


# --- generated histories -----------------------------------------------------


def simulate(seed, clients=8, keys=4, n_ops=4000, unknown_rate=0.0, unique=False):
    """A history of a real atomic register per key: each op takes effect at
    a random point inside its interval.  Clients run one op at a time,
    except that after an op with an unknown outcome the client moves on
    (that op stays in flight forever, maybe taking effect, maybe not).
    Sets write small numbers (often repeated, and INCR-able), or with
    unique=True only unique values, with no incrs."""
    rng = random.Random(seed)
    key_names = [f"key{i}" for i in range(keys)]
    now = [rng.random() for _ in range(clients)]
    planned = []  # (point, op, takes_effect)
    for n in range(n_ops):
        c = rng.randrange(clients)
        call = now[c] + rng.expovariate(20.0)
        ret = call + rng.expovariate(10.0) + 1e-4
        now[c] = ret
        key = rng.choice(key_names)
        roll = rng.random()
        if unique:
            roll = 0.2 if roll < 0.5 else 0.6  # get or set
            v = f"v{n}"
        if roll < 0.45:
            op = Op(c, "get", key, None, None, call, ret)
        elif roll < 0.75:
            if not unique:
                v = str(rng.randrange(100)) if rng.random() < 0.8 else f"s{n}"
            op = Op(c, "set", key, v, None, call, ret)
        else:
            op = Op(c, "incr", key, None, None, call, ret)
        effect = True
        if rng.random() < unknown_rate:
            op.ret = None
            effect = rng.random() < 0.5
        point = call + rng.random() * (ret - call)
        planned.append((point, n, op, effect))
    planned.sort(key=lambda t: (t[0], t[1]))
    state = {}
    history = []
    for _, _, op, effect in planned:
        cur = state.get(op.key)
        if op.kind == "get":
            op.output = cur
        elif op.kind == "set":
            if effect:
                state[op.key] = op.arg
        else:
            if cur is not None:
                try:
                    n = int(cur)
                except ValueError:
                    continue  # INCR error: the client leaves it out
            else:
                n = 0
            if effect:
                state[op.key] = str(n + 1)
            op.output = n + 1 if op.ret is not None else None
        history.append(op)
    history.sort(key=lambda op: op.call)
    return history


class GeneratedHistoryTest(unittest.TestCase):
    def test_large_linearizable_history_then_corrupted(self):
        history = simulate(seed=1)
        self.assertGreater(len(history), 3800)
        t0 = time.monotonic()
        r = check(history, timeout_s=30)
        elapsed = time.monotonic() - t0
        self.assertTrue(r.ok, r.detail)
        self.assertLess(elapsed, 10)

        # Corrupt one read in the middle: it returns a value never written.
        gets = [op for op in history if op.kind == "get" and op.ret is not None]
        victim = gets[len(gets) // 2]
        victim.output = "corrupted"
        r = check(history, timeout_s=30)
        self.assertFalse(r.ok)
        self.assertFalse(r.unknown, r.detail)
        self.assertEqual(r.key, victim.key)
        self.assertIn("'corrupted'", r.detail)

    def test_large_history_with_stale_read(self):
        # A subtler corruption: a read returns the value before the last
        # completed write to its key (which differs from the current one).
        history = simulate(seed=2)
        by_time = sorted(history, key=lambda op: op.call)
        for i, op in enumerate(by_time):
            if op.kind != "get" or op.ret is None or i < len(by_time) // 2:
                continue
            writes = [w for w in by_time[:i] if w.key == op.key and w.kind == "set"
                      and w.ret is not None and w.ret < op.call]
            if len(writes) < 2 or writes[-2].arg == op.output:
                continue
            # Require the previous write to finish before the last one starts,
            # and nothing else writing the key around the read.
            last, prev = writes[-1], writes[-2]
            others = [w for w in history if w.key == op.key and w.kind != "get"
                      and w is not last and w is not prev
                      and (w.ret is None or w.ret >= prev.call)
                      and w.call <= op.ret]
            if prev.ret < last.call and not others:
                op.output = prev.arg
                break
        else:
            self.skipTest("no suitable read")
        r = check(history, timeout_s=30)
        self.assertFalse(r.ok, "stale read not detected")
        self.assertFalse(r.unknown, r.detail)
        self.assertEqual(r.key, op.key)

    def test_generated_with_unknown_outcomes(self):
        for seed in range(3):
            with self.subTest(seed=seed):
                history = simulate(seed=100 + seed, n_ops=2000, unknown_rate=0.02)
                r = check(history, timeout_s=30)
                self.assertTrue(r.ok, r.detail)

    def test_many_small_random_histories(self):
        for seed in range(200):
            history = simulate(seed=1000 + seed, clients=4, keys=1, n_ops=30,
                               unknown_rate=0.1)
            r = check(history, timeout_s=10)
            self.assertTrue(r.ok, f"seed {seed}: {r.detail}")

    def test_large_history_with_unknown_outcomes_and_late_stale_read(self):
        # One key, 10 clients, 1% of the ops with unknown outcome (in flight
        # forever): linearizable; then a read near the end returns a value
        # overwritten long before, which must be refuted, not timed out.
        history = simulate(seed=5, clients=10, keys=1, n_ops=3000,
                           unknown_rate=0.01, unique=True)
        self.assertGreater(sum(op.ret is None for op in history), 10)
        r = check(history, timeout_s=30)
        self.assertTrue(r.ok, r.detail)
        sets = sorted((op for op in history if op.kind == "set" and op.ret is not None),
                      key=lambda op: op.ret)
        gets = sorted((op for op in history if op.kind == "get" and op.ret is not None),
                      key=lambda op: op.call)
        victim = gets[len(gets) * 9 // 10]
        stale = [op for op in sets if op.ret < victim.call][-20]
        victim.output = stale.arg
        t0 = time.monotonic()
        r = check(history, timeout_s=30)
        self.assertFalse(r.ok)
        self.assertFalse(r.unknown, r.detail)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertIn(repr(stale.arg), r.detail)

    def test_timeout_gives_unknown(self):
        history = simulate(seed=3, keys=1, n_ops=3000)
        r = check(history, timeout_s=0)
        self.assertFalse(r.ok)
        self.assertTrue(r.unknown)
        self.assertEqual(r.key, "key0")
        self.assertIn("timed out", r.detail)


# --- against brute force -------------------------------------------------------


def brute_force_linearizable(history):
    """Straight from the definition, for tiny histories: some subset of the
    unknown-outcome sets/incrs plus all known ops has an order that respects
    real time (a before b when a returns before b is called) and the model."""
    for key in {op.key for op in history}:
        ops = [op for op in history
               if op.key == key and not (op.ret is None and op.kind == "get")]
        known = [op for op in ops if op.ret is not None]
        unknown = [op for op in ops if op.ret is None]
        if not any(legal(order)
                   for r in range(len(unknown) + 1)
                   for subset in itertools.combinations(unknown, r)
                   for order in itertools.permutations(known + list(subset))):
            return False
    return True


def legal(order):
    for x, a in enumerate(order):
        for b in order[x + 1:]:
            if b.ret is not None and b.ret < a.call:
                return False
    state = None
    for op in order:
        if op.kind == "get":
            if op.output != state:
                return False
        elif op.kind == "set":
            state = op.arg
        else:
            if state is None:
                n = 1
            elif state.isdigit() and (state == "0" or state[0] != "0"):
                n = int(state) + 1
            else:
                return False
            if op.ret is not None and op.output != n:
                return False
            state = str(n)
    return True


def tiny_history(rng):
    """Up to 7 ops on a small time grid (touching intervals are common),
    either random or from a simulated register with one output perturbed."""
    n = rng.randrange(1, 8)
    values = ["0", "1", "5", "a"]
    if rng.random() < 0.5:
        history = []
        for _ in range(n):
            call = rng.randrange(8)
            ret = None if rng.random() < 0.25 else call + rng.randrange(4)
            kind = rng.choice(["get", "get", "set", "incr"])
            arg = rng.choice(values) if kind == "set" else None
            out = None
            if kind == "get":
                out = rng.choice([None, "1", "2", "a"])
            elif kind == "incr" and ret is not None:
                out = rng.choice([1, 2, 3])
            history.append(Op(rng.randrange(3), kind, "k", arg, out, call, ret))
        return history
    planned = []
    for j in range(n):
        call = rng.randrange(10)
        ret = call + rng.randrange(5)
        kind = rng.choice(["get", "get", "set", "incr", "incr"])
        op = Op(rng.randrange(3), kind, "k",
                rng.choice(values) if kind == "set" else None, None, call, ret)
        effect = True
        if rng.random() < 0.3:
            op.ret = None
            effect = rng.random() < 0.5
        planned.append((call + rng.random() * (ret - call), j, op, effect))
    planned.sort(key=lambda t: t[:2])
    state, history = None, []
    for _, _, op, effect in planned:
        if op.kind == "get":
            op.output = state
        elif op.kind == "set":
            state = op.arg if effect else state
        else:
            if state is not None and not state.isdigit():
                continue
            if effect:
                state = str(int(state or 0) + 1)
            op.output = int(state) if op.ret is not None else None  # known: effect
        history.append(op)
    if history and rng.random() < 0.4:
        op = rng.choice(history)
        if op.ret is not None and op.kind == "get":
            op.output = rng.choice([None, "0", "1", "2", "5", "a"])
        elif op.ret is not None and op.kind == "incr":
            op.output = rng.choice([1, 2, 3, 6])
    return history


class BruteForceTest(unittest.TestCase):
    def test_agrees_with_brute_force(self):
        rng = random.Random(42)
        verdicts = [0, 0]
        for n in range(1500):
            history = tiny_history(rng)
            expect = brute_force_linearizable(history)
            verdicts[expect] += 1
            r = check(history, timeout_s=10)
            self.assertFalse(r.unknown)
            if r.ok != expect:
                self.fail(f"history {n}: checker says {r.ok}, brute force {expect}:\n"
                          + "\n".join(map(str, history)) + "\n" + r.detail)
        # Both verdicts well represented.
        self.assertGreater(min(verdicts), 300, verdicts)


if __name__ == "__main__":
    unittest.main()
