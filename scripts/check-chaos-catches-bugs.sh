#!/usr/bin/env bash
# Shows that the chaos run's checks can fail: for each deliberately broken build, a copy of the
# project is built with the bug in it and a short chaos run must fail a check. Works on temporary
# copies; the working tree is never touched. Exits non-zero if a broken build goes unnoticed.
#   bash scripts/check-chaos-catches-bugs.sh [duration, default 90s] [seed, default 11] [only this mutation]
#
# Not among the mutations: acknowledging a write before its fsync. A kill -9 does not lose what a
# process handed to the kernel (the page cache survives the process), so no process-level chaos run
# can see that bug; the Raft simulator, whose crashes lose everything not persisted, catches it
# (scripts/check-sim-catches-bugs.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-90s}
seed=${2:-11}
only=${3:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib/mutant.sh
source "$root/scripts/lib/mutant.sh"

mutate() { # name, file, exact text, replacement
  local name=$1 file=$2 old=$3 new=$4 dir="$tmp/$1"
  if [ -n "$only" ] && [ "$only" != "$name" ]; then return 0; fi
  build_mutant "$root" "$dir" "$file" "$old" "$new"
  if out=$(cd "$dir" && node build/scripts/chaos.js --duration "$duration" --seed "$seed" --out "$dir/results" 2>&1); then
    echo "NOT CAUGHT: $name (a $duration chaos run passed)"
    return 1
  fi
  echo "caught: $name: $(echo "$out" | grep -m1 '^FAIL ' | cut -c1-300)"
}

fail=0
# A follower answers "linearizable" reads from its own state, without asking the leader.
mutate follower-reads-locally src/manager/api/consensus.ts "  if (stale) return;" "  if (stale || !ctx.node.isLeader()) return;" || fail=1
# The state machine forgets idempotency keys: a client's retry of a write whose answer was lost
# (the leader died after committing it) is applied a second time, at another version.
mutate retries-applied-twice src/manager/state/machine.ts "const seen = this.recent.get(cmd.id);" "const seen = undefined as Remembered | undefined;" || fail=1
# Not here: a leader that serves reads without a heartbeat round. With CheckQuorum a cut-off leader
# steps down about when the others can elect a new one, so the window for a stale read is too narrow
# for a short chaos run to hit; the simulator catches it (scripts/check-sim-catches-bugs.sh,
# leader-reads-without-quorum).
exit $fail
