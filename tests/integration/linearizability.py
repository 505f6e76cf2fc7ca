"""Linearizability checker for histories of Redis-style GET / SET / INCR.

The search is Wing & Gong's, with Lowe's memoization (the algorithm behind
Knossos and Porcupine): events are put in a doubly linked list of call and
return entries ordered by time; the search walks the list from its head,
and at each call entry tries to linearize that operation next (apply it to
the model, unlink its call and return entries, restart from the head).  A
return entry reached before its operation has been linearized means the
current partial linearization is a dead end: undo the last choice and try
the next call after it.  A cache of (set of linearized operations, model
state) pairs already explored prunes the search: the future of a partial
linearization depends only on those two.

Each key is an independent register (linearizability is compositional,
Herlihy & Wing 1990), so the history is split by key and every key is
checked on its own.

Model of one key: the state is None (missing) or a string.
    set k v  -> state v
    incr k   -> state None: state "1", output 1; state a Redis integer
                (what INCR accepts: optional '-', no leading zeros or '+',
                within a signed 64-bit range, and the result must not
                overflow): state str(n + 1), output n + 1; otherwise
                impossible (a failed INCR is left out of the history by the
                client).
    get k    -> output must equal the state (None for a missing key).

Operations whose outcome is unknown (ret None: timeout, connection error):
a get constrains nothing and is dropped; a set or incr may have taken effect
at any moment after its call, or never, so its return is at +infinity, its
output is ignored, and it need not be linearized at all.

Unknown-outcome ops are what make the search expensive: they stay callable
forever, so check_key adds sound reductions for them (see its docstring).
Linearizable histories of a few thousand ops per key with ~10 clients take
well under a second; proving a violation means ruling out every alternative
before it, which with many unknown-outcome ops and values that recur often
can take much longer: then the timeout gives unknown=True, and the detail
still shows where the search got furthest (usually the culprit).

Usage:
    from linearizability import Op, check
    result = check(history, timeout_s=60)
    if not result.ok:
        print(result.key, result.detail)     # result.unknown: timed out

Standard library only (Python 3.11).
"""

from __future__ import annotations

import bisect
import functools
import math
import re
import time
from dataclasses import dataclass

__all__ = ["Op", "Result", "check"]

GET, SET, INCR = 0, 1, 2
_KINDS = {"get": GET, "set": SET, "incr": INCR}

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_IMPOSSIBLE = object()    # a state no register holds
_REDIS_INT = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")


@dataclass
class Op:
    client: int
    kind: str               # 'get' | 'set' | 'incr'
    key: str
    arg: str | None         # value for set
    output: str | int | None  # get: value or None; set: None; incr: new int
    call: float
    ret: float | None       # None: outcome unknown


@dataclass
class Result:
    ok: bool
    key: str | None = None  # the failing (or timed out) key
    detail: str = ""
    unknown: bool = False   # the timeout was hit before a verdict
    # (ok is False when unknown is True, so "assert result.ok" is safe.)
    elapsed_s: float = 0.0
    ops_checked: int = 0    # ops that took part in the search
    keys_checked: int = 0

    def __bool__(self) -> bool:
        return self.ok


class _Timeout(Exception):
    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


@functools.lru_cache(maxsize=1 << 16)
def _redis_int(s: str | None) -> int | None:
    """The integer INCR sees in s, or None when INCR would fail on it."""
    if s is None or len(s) > 20 or not _REDIS_INT.match(s):
        return None
    n = int(s)
    if n < _INT64_MIN or n > _INT64_MAX:
        return None
    return n


def _step(state, kind, arg, output, known):
    """Apply one op to the register: (possible, new_state)."""
    if kind == GET:
        return state == output, state
    if kind == SET:
        return True, arg
    # INCR
    if state is None:
        n = 1
    else:
        n = _redis_int(state)
        if n is None or n == _INT64_MAX:
            return False, state
        n += 1
    if known and output != n:
        return False, state
    return True, str(n)


# --- formatting --------------------------------------------------------------

def _short(v, limit=40) -> str:
    r = repr(v)
    if len(r) > limit:
        r = r[: limit - 5] + "...'" if isinstance(v, str) else r[:limit] + "..."
    return r


def _fmt_time(t) -> str:
    if t is None or t == math.inf:
        return "?"
    return f"{t:.6f}"


def _fmt_op(op: Op, idx: int | None = None) -> str:
    if op.kind == "get":
        what = f"get({op.key!r})"
        out = "?" if op.ret is None else _short(op.output)
    elif op.kind == "set":
        what = f"set({op.key!r}, {_short(op.arg)})"
        out = "?" if op.ret is None else "OK"
    else:
        what = f"incr({op.key!r})"
        out = "?" if op.ret is None else _short(op.output)
    tag = f"#{idx} " if idx is not None else ""
    unknown = " (outcome unknown)" if op.ret is None else ""
    return (f"{tag}client {op.client}: {what} -> {out} "
            f"[{_fmt_time(op.call)}, {_fmt_time(op.ret)}]{unknown}")


def _why_not(state, op: Op) -> str:
    kind = _KINDS[op.kind]
    possible, new_state = _step(state, kind, op.arg, op.output, op.ret is not None)
    if possible:
        return (f"could be applied (state {_short(state)} -> {_short(new_state)}), "
                f"but no linearization of the remaining ops continues from there")
    if kind == GET:
        return f"returned {_short(op.output)} but the register holds {_short(state)}"
    n = None if state is None else _redis_int(state)
    if state is not None and n is None:
        return f"INCR of non-integer {_short(state)} fails"
    if state is not None and n == _INT64_MAX:
        return "INCR would overflow"
    expect = 1 if state is None else n + 1
    return f"returned {_short(op.output)} but would return {expect} from state {_short(state)}"


# --- the search --------------------------------------------------------------

def check_key(ops: list[Op], deadline: float = math.inf, key=None):
    """Check the ops of one key.  Returns (ok, detail, searched_ops);
    raises _Timeout when time.monotonic() passes deadline.

    On top of Lowe's search, four reductions keep unknown-outcome ops
    (which stay callable forever and need never be linearized) from
    multiplying the configurations.  Each is sound because what it skips
    is no better than something the search does explore:
      * dominance: the cache maps (linearized known ops, state) to the sets
        of applied unknown ops explored with them, and a configuration is
        pruned when one of those is a subset of its own (fewer unknown ops
        used up leaves more options, the rest being equal);
      * symmetry: unknown ops with the same effect (incr; set of the same
        value) are interchangeable once callable, so only the earliest
        unapplied one of each such group is tried;
      * no set right after an unknown op: the set would erase its effect,
        and leaving the unknown op out does at least as well;
      * witness: an unknown op is only applied when the state it leaves
        (possibly after more unknown incrs) is observed by the very next
        known op, a get of that value or an incr of it, among the current
        candidates.
    Unknown ops are tried after the known candidates, so the search first
    looks for linearizations that use few of them."""
    # Unknown-outcome gets constrain nothing.
    ops = [op for op in ops if not (op.ret is None and op.kind == "get")]
    n = len(ops)
    if n == 0:
        return True, "no ops", 0
    kinds = [_KINDS[op.kind] for op in ops]
    args = [op.arg for op in ops]
    outs = [op.output for op in ops]
    known = [op.ret is not None for op in ops]
    n_known = sum(known)
    if n_known == 0:
        return True, "only ops with unknown outcome", n

    # Entries 1..E are the events in time order; calls sort before returns
    # at equal times, so touching intervals count as concurrent.  The linked
    # list (head 0, -1 ends it) holds the calls and returns of known ops.
    # Unknown ops have only a call entry, outside the list: one is callable
    # when its call entry precedes the first return entry left in the list.
    events = []
    for i, op in enumerate(ops):
        events.append((op.call, 0, i))
        if op.ret is not None:
            events.append((op.ret, 1, i))
    events.sort()
    E = len(events)
    nxt = [-1] * (E + 1)
    prv = [-1] * (E + 1)
    e_op = [0] * (E + 1)
    e_call = [False] * (E + 1)
    match = [0] * (E + 1)        # call entry of a known op -> its return entry
    call_entry = [0] * n
    last = 0
    # Unknown ops: their own bit numbers, and effect groups in call order.
    ubit = [0] * n
    group = [0] * n
    g_ops: list[list[int]] = []  # group -> its ops
    g_pos: list[list[int]] = []  # group -> their call entries (ascending)
    set_group: dict = {}         # value -> group of unknown sets of it
    incr_group = -1
    n_unknown = 0
    for pos, (_, is_ret, i) in enumerate(events, start=1):
        e_op[pos] = i
        if is_ret:
            match[call_entry[i]] = pos
        else:
            e_call[pos] = True
            call_entry[i] = pos
        if known[i]:
            nxt[last], prv[pos], last = pos, last, pos
            continue
        ubit[i] = 1 << n_unknown
        n_unknown += 1
        if kinds[i] == SET:
            g = set_group.get(args[i])
            if g is None:
                g = set_group[args[i]] = len(g_ops)
                g_ops.append([])
                g_pos.append([])
        else:
            if incr_group < 0:
                incr_group = len(g_ops)
                g_ops.append([])
                g_pos.append([])
            g = incr_group
        group[i] = g
        g_ops[g].append(i)
        g_pos[g].append(pos)
    applied = [0] * len(g_ops)   # per group: how many (a prefix) are applied

    state = None
    kb = 0                       # bitset of linearized known ops
    ub = 0                       # bitset of applied unknown ops (by ubit)
    done_known = 0
    # frames: (entry, state before, tag); tag 0 for a known op (entry is
    # its call entry), else (candidates, index) of the unknown op tried.
    stack: list[tuple[int, object, object]] = []
    after_unknown = False        # the last op applied had an unknown outcome
    cache: dict = {}             # (kb, state) -> [ub, ...] explored
    n_configs = 0
    best: list[int] = []         # call entries of the longest prefix found
    best_len = 0
    best_stale = False           # the stack is deeper than best: snapshot
                                 # it before the next pop
    # Known incrs: the state each needs before it and leaves after it (Redis
    # integers are canonical, so comparing strings is comparing values).
    pre = [None] * n
    post = [None] * n
    for i in range(n):
        if known[i] and kinds[i] == INCR:
            o = outs[i]
            if _INT64_MIN < o <= _INT64_MAX:
                pre[i] = str(o - 1)
                post[i] = str(o)
            else:
                pre[i] = _IMPOSSIBLE
    steps = 0x3FFF               # so the deadline is checked at once
    phase = 0                    # 0: walking the list; 1: unknown candidates
    entry = nxt[0]
    cands: list[int] = []
    cj = 0
    while True:
        steps += 1
        if not steps & 0x3FFF and time.monotonic() > deadline:
            if best_stale:
                best = [f[0] for f in stack]
            raise _Timeout(_failure_detail(ops, [e_op[e] for e in best], key,
                                           timed_out=True))
        backtrack = False
        if phase == 0:
            if e_call[entry]:
                i = e_op[entry]
                kind = kinds[i]
                if kind == GET:
                    possible = state == outs[i]
                    new_state = state
                elif kind == SET:
                    possible = not after_unknown
                    new_state = args[i]
                else:
                    new_state = post[i]
                    possible = state == pre[i] or (state is None and outs[i] == 1)
                if possible:
                    nb = kb | (1 << i)
                    ck = (nb, new_state)
                    seen = cache.get(ck)
                    if seen is None:
                        cache[ck] = [ub]
                    else:
                        for s in seen:
                            if s & ub == s:
                                possible = False
                                break
                        else:
                            seen.append(ub)
                if possible:
                    n_configs += 1
                    stack.append((entry, state, 0))
                    state = new_state
                    kb = nb
                    after_unknown = False
                    # lift: unlink the call entry, then its return entry
                    p, q = prv[entry], nxt[entry]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    r = match[entry]
                    p, q = prv[r], nxt[r]
                    nxt[p] = q
                    if q != -1:
                        prv[q] = p
                    done_known += 1
                    if done_known == n_known:
                        break
                    if len(stack) > best_len:
                        best_len = len(stack)
                        best_stale = True
                    entry = nxt[0]
                else:
                    entry = nxt[entry]
            elif n_unknown:
                # A return entry: the known candidates are exhausted.
                cands = _unknown_candidates(entry, state, after_unknown, nxt, e_call,
                                            e_op, kinds, outs, g_ops, g_pos, applied,
                                            set_group, incr_group, call_entry)
                cj = 0
                phase = 1
            else:
                backtrack = True
        else:
            if cj >= len(cands):
                backtrack = True
            else:
                i = cands[cj]
                if kinds[i] == SET:
                    possible, new_state = True, args[i]
                else:
                    possible, new_state = _step(state, INCR, None, None, False)
                if possible:
                    nb = ub | ubit[i]
                    ck = (kb, new_state)
                    seen = cache.get(ck)
                    if seen is None:
                        cache[ck] = [nb]
                    else:
                        for s in seen:
                            if s & nb == s:
                                possible = False
                                break
                        else:
                            seen.append(nb)
                if possible:
                    n_configs += 1
                    stack.append((call_entry[i], state, (cands, cj)))
                    state = new_state
                    ub = nb
                    applied[group[i]] += 1
                    after_unknown = True
                    if len(stack) > best_len:
                        best_len = len(stack)
                        best_stale = True
                    phase = 0
                    entry = nxt[0]
                else:
                    cj += 1
        if backtrack:
            if best_stale:
                best = [f[0] for f in stack]
                best_stale = False
            if not stack:
                return False, _failure_detail(ops, [e_op[e] for e in best], key), n
            entry, state, tag = stack.pop()
            i = e_op[entry]
            if tag == 0:
                kb ^= 1 << i
                done_known -= 1
                # unlift in reverse order: the return entry, then the call
                r = match[entry]
                p, q = prv[r], nxt[r]
                nxt[p] = r
                if q != -1:
                    prv[q] = r
                p, q = prv[entry], nxt[entry]
                nxt[p] = entry
                if q != -1:
                    prv[q] = entry
                phase = 0
                entry = nxt[entry]
            else:
                ub ^= ubit[i]
                applied[group[i]] -= 1
                cands, cj = tag
                cj += 1
                phase = 1
            after_unknown = bool(stack) and stack[-1][2] != 0
    return True, (f"linearizable ({n} ops, {n_known} with a known outcome; "
                  f"{n_configs} configurations explored)"), n


def _unknown_candidates(limit, state, after_unknown, nxt, e_call, e_op, kinds, outs,
                        g_ops, g_pos, applied, set_group, incr_group,
                        call_entry) -> list[int]:
    """The unknown ops worth applying next, in call order: the first
    unapplied op of each effect group, if called before the return entry
    limit, and if what it leaves can be observed by a known candidate
    (see check_key)."""
    # Unknown incrs callable now and not applied: how many could chain.
    avail = 0
    if incr_group >= 0:
        k = applied[incr_group]
        avail = bisect.bisect_left(g_pos[incr_group], limit, lo=k) - k
    sets = bool(set_group) and not after_unknown
    if not avail and not sets:
        return []
    # Witnessed states: what the known candidates (calls before limit) read.
    witness = set()
    e = nxt[0]
    while e != limit:
        if e_call[e]:
            i = e_op[e]
            if kinds[i] == GET:
                if outs[i] is not None:
                    witness.add(outs[i])
            elif kinds[i] == INCR:
                if outs[i] - 1 >= _INT64_MIN:
                    witness.add(str(outs[i] - 1))
        e = nxt[e]
    if not witness:
        return []
    found = []
    if avail:
        c = 0 if state is None else _redis_int(state)
        if c is not None:
            for w in witness:
                x = _redis_int(w)
                if x is not None and c < x <= c + avail:
                    found.append(g_ops[incr_group][applied[incr_group]])
                    break
    if sets:
        def add(g):
            k = applied[g]
            if k < len(g_pos[g]) and g_pos[g][k] < limit:
                found.append(g_ops[g][k])
        for w in witness:
            g = set_group.get(w)
            if g is not None:
                add(g)
            if avail:
                x = _redis_int(w)
                if x is not None:
                    for k in range(1, avail + 1):
                        g = set_group.get(str(x - k))
                        if g is not None:
                            add(g)
        if len(found) > 1:
            found = sorted(set(found), key=call_entry.__getitem__)
    return found


def _failure_detail(ops: list[Op], prefix: list[int], key, tail: int = 12,
                    timed_out: bool = False) -> str:
    """Explain why ops cannot be linearized, from the longest prefix found."""
    lines = []
    n_known = sum(op.ret is not None for op in ops)
    if timed_out:
        lines.append(f"key {key!r}: no verdict before the timeout ({len(ops)} ops, "
                     f"{n_known} with a known outcome); where the search got furthest:")
    else:
        lines.append(f"key {key!r}: not linearizable ({len(ops)} ops, "
                     f"{n_known} with a known outcome)")
    lines.append(f"longest linearizable prefix: {len(prefix)} ops"
                 + (f" (last {tail} shown)" if len(prefix) > tail else ""))
    state = None
    states = []
    for i in prefix:
        op = ops[i]
        _, state = _step(state, _KINDS[op.kind], op.arg, op.output, op.ret is not None)
        states.append(state)
    start = max(0, len(prefix) - tail)
    if not prefix:
        lines.append("  (none: no op can be placed first)")
    for pos in range(start, len(prefix)):
        i = prefix[pos]
        lines.append(f"  {pos + 1:5d}. {_fmt_op(ops[i], i)}   => state {_short(states[pos])}")
    lines.append(f"register after the prefix: {_short(state)}")

    done = set(prefix)
    rest = [i for i in range(len(ops)) if i not in done]
    rest_known = [i for i in rest if ops[i].ret is not None]
    if not rest_known:  # cannot happen for a failure, but be safe
        return "\n".join(lines)
    first = min(rest_known, key=lambda i: (ops[i].ret, ops[i].call))
    horizon = ops[first].ret
    lines.append("ops that could not be placed next (each one's call is not after "
                 f"the earliest pending return, {_fmt_time(horizon)}):")
    cands = sorted((i for i in rest if ops[i].call <= horizon),
                   key=lambda i: (ops[i].call, i))
    for i in cands:
        if ops[i].ret is not None:
            lines.append(f"  {_fmt_op(ops[i], i)}: {_why_not(state, ops[i])}")
    unknown = [i for i in cands if ops[i].ret is None]
    if unknown:
        lines.append(f"  and {len(unknown)} op(s) with unknown outcome, which could "
                     "take effect here, but no linearization continues from any of them"
                     + (", e.g.:" if len(unknown) > 4 else ":"))
        for i in unknown[-4:]:
            lines.append(f"    {_fmt_op(ops[i], i)}")
    lines.append(f"the earliest pending return is {_fmt_op(ops[first], first)}; "
                 "it must be linearized before then")
    later = len(rest) - len(cands)
    if later:
        lines.append(f"({later} later ops not shown)")
    return "\n".join(lines)


def check(history: list[Op], timeout_s: float = 60) -> Result:
    """Check a whole history, one key at a time.

    ok: every key is linearizable.  On a violation, key names the (first)
    bad key and detail explains it.  If timeout_s runs out first, ok is False,
    unknown is True and key names the key being checked."""
    start = time.monotonic()
    deadline = start + timeout_s
    by_key: dict[str, list[Op]] = {}
    for op in history:
        if op.kind not in _KINDS:
            raise ValueError(f"unknown op kind {op.kind!r}: {op}")
        if op.ret is not None and op.ret < op.call:
            raise ValueError(f"op returns before its call: {op}")
        if op.kind == "set" and not isinstance(op.arg, str):
            raise ValueError(f"set without a string value: {op}")
        if (op.kind == "get" and op.ret is not None
                and not (op.output is None or isinstance(op.output, str))):
            raise ValueError(f"get with a known outcome needs a str or None output: {op}")
        if op.kind == "incr" and op.ret is not None and not isinstance(op.output, int):
            raise ValueError(f"incr with a known outcome needs an int output: {op}")
        by_key.setdefault(op.key, []).append(op)

    total = 0
    checked = 0
    for key in sorted(by_key, key=lambda k: (len(by_key[k]), k)):
        try:
            ok, detail, n = check_key(by_key[key], deadline, key)
        except _Timeout as e:
            return Result(False, key,
                          f"timed out after {timeout_s:g} s checking key {key!r} "
                          f"({len(by_key[key])} ops); {checked} of {len(by_key)} "
                          f"keys were linearizable (the others unchecked)\n" + e.detail,
                          unknown=True, elapsed_s=time.monotonic() - start,
                          ops_checked=total, keys_checked=checked)
        total += n
        if not ok:
            return Result(False, key, detail, elapsed_s=time.monotonic() - start,
                          ops_checked=total, keys_checked=checked + 1)
        checked += 1
    elapsed = time.monotonic() - start
    return Result(True, None,
                  f"linearizable: {total} ops over {checked} keys in {elapsed:.2f} s",
                  elapsed_s=elapsed, ops_checked=total, keys_checked=checked)
