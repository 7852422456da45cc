#!/usr/bin/env bash
# Runs README.md's commands as written, on a fresh clone, against a real local cluster (127.0.0.1
# only), and fails on the first one that fails: a README whose commands drifted from the CLI is a
# bug a user meets first.
#
#   bash scripts/check-readme.sh [--offline]
#
# What runs: every ```sh block, in order, as one bash script (set -euo pipefail) in a clone of HEAD
# with this checkout's uncommitted changes applied. A block right after
# `<!-- check-readme: skip (why) -->` is not run (commands meant for other hosts); a line starting
# with the text of `<!-- check-readme: skip-line TEXT -->` is not run (`npm test`: the whole suite).
# Every ```yaml block must parse as a service spec. --offline links this checkout's node_modules
# into the clone and skips `npm ci` (which needs the npm registry); nothing else changes.
# The Docker engine is the one DOCKER_HOST names, else `orch up` starts one. Ports 7001-7003 and
# 18080 on 127.0.0.1 must be free. At the end (or on failure) `orch down --purge` stops what ran.
set -euo pipefail

offline=0
for a in "$@"; do
  case "$a" in
    --offline) offline=1 ;;
    *) echo "check-readme: unknown argument $a (expected --offline)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/orch-readme.XXXXXX)
clone="$work/orch"

cleanup() {
  local rc=$?
  if [ -f "$clone/.orch/cluster.json" ]; then
    echo "== check-readme: orch down --purge"
    (cd "$clone" && timeout 120 node bin/orch.js down --purge >/dev/null 2>&1) || echo "check-readme: orch down failed; see $clone/.orch" >&2
  fi
  if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "check-readme: FAILED (exit $rc); the clone is kept in $clone" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

git clone -q "$repo" "$clone"
# Uncommitted changes to tracked files (the README being written) are what is checked.
(cd "$repo" && git diff HEAD --binary) | (cd "$clone" && git apply --allow-empty)
if [ "$offline" -eq 1 ]; then ln -s "$(readlink -f "$repo/node_modules")" "$clone/node_modules"; fi

# The README's shell blocks, as one script; and its YAML blocks, one file each.
awk -v offline="$offline" -v dir="$work" '
  function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
  /^<!-- check-readme: skip-line / { t = $0; sub(/^<!-- check-readme: skip-line /, "", t); sub(/ *-->$/, "", t); skipline[++nskip] = t; next }
  /^<!-- check-readme: skip/ { skipnext = 1; next }
  inblock && /^```/ { inblock = 0; next }
  inblock {
    if (kind == "yaml") { print > (dir "/spec" nyaml ".yaml"); next }
    if (skipblock) next
    line = trim($0)
    if (line == "") next
    if (line ~ /^#/) { print line; next }
    for (k = 1; k <= nskip; k++) if (index(line, skipline[k]) == 1) { print "# skipped: " line; next }
    if (offline && line ~ /^npm ci( |$)/) { sub(/^npm ci( && )?/, "", line); if (line == "") next; print "# npm ci skipped (--offline)"; print "echo \"[${SECONDS}s] \\$ \"" shq(line); print line; next }
    print "echo \"[${SECONDS}s] \\$ \"" shq(line); print $0; next
  }
  /^```sh$/ { inblock = 1; kind = "sh"; skipblock = skipnext; skipnext = 0; next }
  /^```yaml$/ { inblock = 1; kind = "yaml"; nyaml++; skipnext = 0; next }
  /[^ \t]/ { skipnext = 0 }
  function shq(s) { gsub(/'\''/, "'\''\\'\'''\''", s); return "'\''" s "'\''" }
' "$clone/README.md" > "$work/readme.sh"

runnable=$(grep -cv '^\(#\|echo "\[\|$\)' "$work/readme.sh" || true)
if [ "$runnable" -lt 10 ]; then
  echo "check-readme: found only $runnable commands to run in README.md; did its blocks lose their \`\`\`sh fences?" >&2
  exit 1
fi
echo "== check-readme: $runnable commands from README.md, in $clone"

cd "$clone"
timeout 600 bash -euo pipefail "$work/readme.sh"

nspec=0
for f in "$work"/spec*.yaml; do
  [ -e "$f" ] || continue
  nspec=$((nspec + 1))
  node --input-type=module -e "
    import { readFileSync } from 'node:fs';
    import { parseSpecText } from './build/src/spec/index.js';
    parseSpecText(readFileSync(process.argv[1], 'utf8'), 'yaml');
  " "$f" || { echo "check-readme: README.md's YAML block $nspec is not a valid spec" >&2; exit 1; }
done
echo "== check-readme: every command ran; $nspec spec(s) parsed"
