#!/usr/bin/env bash
# Proves `scripts/docker-engine.sh stop`: after it, no dockerd (nor containerd/shim) of the private
# engine's directory runs, and its socket and pid file are gone. Exits non-zero otherwise.
# Run by .ci/run at the end of CI, only when that run started the engine.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=$(realpath -m -- "${ORCH_DOCKER_DIR:-/tmp/orch-docker}")
fail() { printf 'check-docker-engine-stop: FAIL: %s\n' "$*" >&2; exit 1; }

# Engine processes whose command line names $DIR (argv0 dockerd, containerd or containerd-shim*).
engine_pids() {
  local p cmd argv0
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline" || true)
    case "$cmd" in *"$DIR/"*) ;; *) continue ;; esac
    argv0=${cmd%% *}
    case "${argv0##*/}" in dockerd|containerd|containerd-shim*) echo "${p#/proc/}" ;; esac
  done
}

before=$(engine_pids | tr '\n' ' ')
echo "check-docker-engine-stop: engine processes of $DIR before stop: ${before:-none}"
bash scripts/docker-engine.sh stop || fail "scripts/docker-engine.sh stop exited $?"

left=$(engine_pids | tr '\n' ' ')
[ -z "${left// /}" ] || fail "engine processes of $DIR still run after stop: $left"
[ ! -e "$DIR/docker.sock" ] || fail "socket $DIR/docker.sock still exists after stop"
[ ! -e "$DIR/dockerd.pid" ] || fail "pid file $DIR/dockerd.pid still exists after stop"
if curl -s --max-time 2 --unix-socket "$DIR/docker.sock" http://localhost/_ping >/dev/null 2>&1; then
  fail "something still answers on $DIR/docker.sock"
fi
if bash scripts/docker-engine.sh status >/dev/null 2>&1; then fail "status still says running after stop"; fi
mounts=$(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | tr '\n' ' ')
[ -z "${mounts// /}" ] || fail "mounts under $DIR remain after stop: $mounts"
echo "check-docker-engine-stop: OK: no engine process, socket, pid file or mount of $DIR remains"
