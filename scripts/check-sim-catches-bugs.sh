#!/usr/bin/env bash
# Shows that the Raft simulator's checks can fail: for each deliberately broken Raft core, a copy of
# the project is built with the bug in it and `sim` must report a violation. Works on a temporary
# copy; the working tree is never touched. Exits non-zero if a broken core goes unnoticed.
#   bash scripts/check-sim-catches-bugs.sh [runs per mutation, default 2000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-2000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=lib/mutant.sh
source "$root/scripts/lib/mutant.sh"

mutate() { # name, exact text in src/raft/raft.ts, replacement [, more sim flags]
  local name=$1 old=$2 new=$3 flags=${4:-} dir="$tmp/$1"
  build_mutant "$root" "$dir" src/raft/raft.ts "$old" "$new"
  # shellcheck disable=SC2086
  if out=$(cd "$dir" && node build/scripts/sim.js --runs "$runs" --seed 3 $flags 2>&1); then
    echo "NOT CAUGHT: $name ($runs schedules passed)"
    return 1
  fi
  echo "caught: $name: $(echo "$out" | grep -m1 '^violation: ' | cut -c12-200)"
}

fail=0
mutate double-vote "(this.vote === NONE && this.lead === NONE) ||" "(this.lead === NONE) ||" || fail=1
mutate no-log-check "if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {" "if (canVote) {" || fail=1
mutate no-noop "    this.appendEntry({ term: this.term, index: this.log.lastIndex() + 1, type: EntryType.Normal, data: EMPTY });" "" || fail=1
mutate leader-reads-without-quorum "    if (this.conf.voters.length === 1) {
      this.releaseReads([round]);" "    if (this.conf.voters.length >= 1) {
      this.releaseReads([round]);" || fail=1
mutate follower-reads-locally "    this.pendingReads.push({ from: this.id, ctx });
    return true;
  }

  /** Hands" "    this.readStates.push({ index: this.log.committed, ctx });
    return true;
  }

  /** Hands" || fail=1
# Membership: two changes in flight. Caught by "one change at a time", the check that sees it first
# (the same schedules also go on to lose a committed entry).
mutate two-conf-changes-in-flight "if (pending > this.log.committed) {" "if (false) {" --membership || fail=1
exit $fail
