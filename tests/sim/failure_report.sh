#!/usr/bin/env bash
# A failing run names its seed, says which property broke, shows the events
# that led there, and exits non-zero; the one-line summary counts it.
set -uo pipefail
sim="$1"
out=$("$sim" --seeds 1-50 --mutant vote-twice)
status=$?
fail() { echo "$1" >&2; printf '%s\n' "$out" | head -40 >&2; exit 1; }
[ "$status" -eq 1 ] || fail "expected exit status 1, got $status"
printf '%s\n' "$out" | grep -Eq '^seed [0-9]+ \([0-9] nodes\): FAILED: election safety' || fail "no FAILED line naming the seed"
printf '%s\n' "$out" | grep -q 'last events before the failure (rerun with --seed' || fail "no trace header"
printf '%s\n' "$out" | grep -Eq '^t= +[0-9]+ deliver' || fail "no trace events"
printf '%s\n' "$out" | grep -Eq '^seeds 1-50: [0-9]+ passed, [1-9][0-9]* failed$' || fail "no summary line"
echo "failure report complete"
