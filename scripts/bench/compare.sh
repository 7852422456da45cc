#!/usr/bin/env bash
# Alternated before/after runs of the write and placement benches for two commits, on this machine,
# in one session (absolute figures drift with the machine's load; the ratio of neighbours does not).
#   bash scripts/bench/compare.sh BEFORE AFTER [ROUNDS]
# Each commit is checked out (detached) under $TMPDIR, built, and benched in turn:
# before, after, before, after, ... Prints each run's figures, then the medians per commit.
set -euo pipefail
before=${1:?usage: compare.sh BEFORE AFTER [ROUNDS]}
after=${2:?usage: compare.sh BEFORE AFTER [ROUNDS]}
rounds=${3:-2}
case "$rounds" in ''|*[!0-9]*) echo "ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2;; esac
repo=$(git -C "$(dirname "$0")/../.." rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/orch-compare.XXXXXX")
cleanup() { for d in "$work"/before "$work"/after; do [ -d "$d" ] && git -C "$repo" worktree remove --force "$d" >/dev/null 2>&1 || true; done; rm -rf "$work"; }
trap cleanup EXIT
for side in before after; do
  commit=${!side}
  git -C "$repo" worktree add -q --detach "$work/$side" "$commit"
  ln -s "$repo/node_modules" "$work/$side/node_modules"
  (cd "$work/$side" && npx tsc -p . >/dev/null) || { echo "$side ($commit) does not build" >&2; exit 1; }
done
results="$work/results.tsv"
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    cd "$work/$side"
    # A run that fails is recorded as such (NaN) and the rounds go on; its output is on stderr.
    node build/scripts/bench/raft-throughput.js --no-etcd --seconds 8 --clients 16,64 >"$work/run.txt" 2>&1 || true
    cat "$work/run.txt" >&2
    w=$(grep -Eo '[0-9]+ writes/s' "$work/run.txt" | grep -Eo '[0-9]+' | paste -sd' ' || true)
    node build/scripts/bench/schedule.js --nodes 200 --replicas 20000 >"$work/run.txt" 2>&1 || true
    cat "$work/run.txt" >&2
    p=$(grep -Eo '[0-9]+ placements/s' "$work/run.txt" | head -1 | grep -Eo '[0-9]+' || true)
    w=${w:-NaN NaN}; p=${p:-NaN}
    printf '%s\t%s\t%s\t%s\n' "$side" "$r" "$w" "$p" | tee -a "$results"
  done
done
echo
echo "side	round	writes/s (c=16 c=64)	placements/s"
cat "$results"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => l.split("\t"));
const med = (xs) => { const s = xs.filter(Number.isFinite).sort((a, b) => a - b); const m = s.length >> 1; return s.length === 0 ? NaN : s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2); };
const by = (side, f) => med(rows.filter((r) => r[0] === side).map(f));
const cols = [["writes/s c=16", (r) => Number(r[2].split(" ")[0])], ["writes/s c=64", (r) => Number(r[2].split(" ")[1])], ["placements/s", (r) => Number(r[3])]];
for (const [name, f] of cols) { const b = by("before", f), a = by("after", f); console.log(`${name}: before ${b}, after ${a}, after/before ${(a / b).toFixed(2)}x`); }
' "$results"
