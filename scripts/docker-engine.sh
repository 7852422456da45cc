#!/usr/bin/env bash
# A real Docker engine for orch's integration tests, demos and CI, and the local test image.
#
#   scripts/docker-engine.sh [start]   make an engine available; print ONLY its DOCKER_HOST on stdout
#   scripts/docker-engine.sh status    say whether the private engine runs (exit 0 if it does, 1 if not)
#   scripts/docker-engine.sh stop      end the private engine this script started (a no-op if none)
#
# `start` uses an engine that already answers (`$DOCKER_HOST`, else /var/run/docker.sock). Otherwise,
# as root, it installs Debian's docker.io and busybox-static with apt where missing and starts a
# private dockerd whose data-root, exec-root, socket, pid file and log all live under one directory,
# $ORCH_DOCKER_DIR (default /tmp/orch-docker), detached (setsid) so it outlives the caller. Later calls
# reuse it; concurrent calls are serialised by flock on $ORCH_DOCKER_DIR/lock. Either way it makes sure
# the image orch/busybox:latest exists (built with `docker import` from busybox-static; no pulls).
# Progress goes to stderr; a failure prints one line `docker-engine: error: ...` and exits non-zero.
#
# dockerd flags (docs/development.md has the machine they were checked on):
#   --data-root/--exec-root/-H unix://…/--pidfile  keep every file of the engine under one dir, so it
#       never touches /var/lib/docker or /var/run/docker* and `stop` can find exactly what it started.
#       dockerd supervises its own containerd (socket and state under the exec-root, content under the
#       data-root) as long as no system containerd listens on /run/containerd/containerd.sock.
#   --storage-driver overlay2 when `overlay` is available, else vfs (slow, copies layers, but works
#       everywhere).
#   --exec-opt native.cgroupdriver=cgroupfs  there may be no systemd to delegate to.
#   Bridge networking stays on where it works. If iptables does not work the script adds
#       `--iptables=false --ip-masq=false`; if a bridge link cannot be created it adds `--bridge=none`
#       (host and none networking still work then).
# Extra flags: ORCH_DOCKERD_ARGS="..."; storage driver override: ORCH_DOCKER_STORAGE_DRIVER=vfs|overlay2.
# The docker0 bridge and the DOCKER iptables chains are machine-wide: a second private engine (another
# ORCH_DOCKER_DIR) beside the first must not share them. But NOT with --bridge=none in the host's network
# namespace: a dockerd started with --bridge=none deletes an existing docker0 (libnetwork's
# removeDefaultBridgeInterface), i.e. the first engine's bridge, and every bridge container of the
# first engine then fails to start ("could not find bridge docker0"). Run the second dockerd in a
# network namespace of its own (unshare --net; see test/helpers/private-engine.ts) with
# --bridge=none --iptables=false. Even a clean dockerd exit leaves the nsfs mount
# exec/netns/default behind; `stop` unmounts whatever remains under the dir.
# Image caveat: Debian's busybox-static 1.35 `wget -T N` segfaults (exit 139), also on the host;
# use `timeout N wget ...` in containers instead.
set -euo pipefail

readonly IMAGE=orch/busybox:latest
# Bump when the way the image is built changes, so an image built by an older script is rebuilt.
readonly IMAGE_REV=3
readonly START_TIMEOUT=${ORCH_DOCKER_START_TIMEOUT:-60}

DIR=${ORCH_DOCKER_DIR:-/tmp/orch-docker}
DIR=$(realpath -m -- "$DIR")
readonly DIR
readonly SOCK="$DIR/docker.sock"
readonly PIDFILE="$DIR/dockerd.pid"
readonly LOG="$DIR/dockerd.log"
readonly DATA="$DIR/data"
readonly EXEC="$DIR/exec"
readonly LOCK="$DIR/lock"
readonly PRIVATE_HOST="unix://$SOCK"

log() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { printf 'docker-engine: error: %s\n' "$*" >&2; exit 1; }

# Debian's client (API 1.41) when present: a newer CLI (e.g. /usr/local/bin/docker v28) refuses to
# talk to a 20.10 engine unless DOCKER_API_VERSION is set.
dk() {
  if [ -x /usr/bin/docker ]; then
    /usr/bin/docker "$@"
  else
    DOCKER_API_VERSION=${DOCKER_API_VERSION:-1.41} docker "$@"
  fi
}

# ping HOST: true if a Docker engine answers _ping at HOST (unix:// or tcp://).
ping_host() {
  local host=$1
  if command -v curl >/dev/null 2>&1 && [ -z "${DOCKER_TLS_VERIFY:-}" ]; then
    case "$host" in
      unix://*)
        local path=${host#unix://}
        [ -S "$path" ] || return 1
        [ "$(curl -s --max-time 3 --unix-socket "$path" http://localhost/_ping 2>/dev/null)" = OK ]
        return
        ;;
      tcp://*)
        [ "$(curl -s --max-time 3 "http://${host#tcp://}/_ping" 2>/dev/null)" = OK ]
        return
        ;;
    esac
  fi
  command -v docker >/dev/null 2>&1 || [ -x /usr/bin/docker ] || return 1
  DOCKER_HOST=$host timeout 5 bash -c "$(declare -f dk); dk version --format '{{.Server.Version}}'" >/dev/null 2>&1
}

# The command line of PID as one line, or nothing.
cmdline_of() { tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" || true; }

# True if PID is alive and is the dockerd of $DIR (guards against a recycled pid).
is_our_dockerd() {
  local pid=$1 cmd argv0
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  cmd=$(cmdline_of "$pid")
  argv0=${cmd%% *}
  [ "${argv0##*/}" = dockerd ] || return 1
  case "$cmd" in *" --data-root $DATA "*) return 0 ;; esac
  return 1
}

# The pid of the dockerd of $DIR: from the pid file, else by scanning /proc; nothing if none runs.
our_dockerd_pid() {
  local pid=''
  [ -f "$PIDFILE" ] && pid=$(tr -dc 0-9 <"$PIDFILE" 2>/dev/null || true)
  if is_our_dockerd "$pid"; then echo "$pid"; return; fi
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    if is_our_dockerd "$p"; then echo "$p"; return; fi
  done
}

# Pids of the engine processes (dockerd, containerd, containerd-shim*) whose command line names $DIR.
pids_using_dir() {
  local p cmd argv0
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    cmd=$(cmdline_of "$p")
    case "$cmd" in *"$DIR/"*) ;; *) continue ;; esac
    argv0=${cmd%% *}
    case "${argv0##*/}" in dockerd|containerd|containerd-shim*) echo "$p" ;; esac
  done
}

take_lock() {
  if ! { mkdir -p "$DIR" && exec 9>"$LOCK"; } 2>/dev/null; then
    # Not root and the dir is root's: such a caller can only use an engine, never start one.
    [ "$(id -u)" = 0 ] || return 0
    die "cannot create the lock file $LOCK"
  fi
  flock -w 600 9 || die "timed out waiting for the lock $LOCK (another docker-engine.sh is stuck?)"
}

apt_install() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them with"
  log "installing ${missing[*]} with apt (once)"
  local t0=$SECONDS
  local opts=(-y --no-install-recommends -o DPkg::Lock::Timeout=300)
  if ! DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "${missing[@]}" >"$DIR/apt.log" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying"
    DEBIAN_FRONTEND=noninteractive apt-get update -o DPkg::Lock::Timeout=300 >>"$DIR/apt.log" 2>&1 \
      || die "apt-get update failed (see $DIR/apt.log): $(tail -n 1 "$DIR/apt.log")"
    DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "${missing[@]}" >>"$DIR/apt.log" 2>&1 \
      || die "apt-get install ${missing[*]} failed (see $DIR/apt.log): $(tail -n 1 "$DIR/apt.log")"
  fi
  log "installed ${missing[*]} in $((SECONDS - t0)) s"
}

# The dockerd flags for this kernel (see the header for why each).
dockerd_args() {
  local args=(
    --data-root "$DATA" --exec-root "$EXEC" -H "$PRIVATE_HOST" --pidfile "$PIDFILE"
    --exec-opt native.cgroupdriver=cgroupfs
  )
  local driver=${ORCH_DOCKER_STORAGE_DRIVER:-}
  if [ -z "$driver" ]; then
    modprobe overlay >/dev/null 2>&1 || true
    if grep -qw overlay /proc/filesystems; then driver=overlay2; else driver=vfs; fi
  fi
  args+=(--storage-driver "$driver")
  if ! { iptables -w 5 -t nat -S >/dev/null 2>&1 && iptables -w 5 -t filter -S >/dev/null 2>&1; }; then
    log "iptables does not work here: starting dockerd with --iptables=false --ip-masq=false"
    args+=(--iptables=false --ip-masq=false)
  fi
  if ! ip link show docker0 >/dev/null 2>&1; then
    local probe="orchprobe$$"
    if ip link add "$probe" type bridge >/dev/null 2>&1; then
      ip link del "$probe" >/dev/null 2>&1 || true
    else
      log "cannot create a bridge link here: starting dockerd with --bridge=none (host/none networks only)"
      args+=(--bridge=none)
    fi
  fi
  # shellcheck disable=SC2206 # word splitting of the user's extra flags is intended
  [ -n "${ORCH_DOCKERD_ARGS:-}" ] && args+=(${ORCH_DOCKERD_ARGS})
  printf '%s\n' "${args[@]}"
}

start_private() {
  local pid
  pid=$(our_dockerd_pid)
  if [ -n "$pid" ]; then
    # Running (or still starting): reuse it, never start a second dockerd for this dir.
    if [ -S "$SOCK" ] && [ ! -w "$SOCK" ]; then
      die "dockerd (pid $pid) for $DIR runs, but its socket $SOCK is not writable by uid $(id -u): run as root, or set DOCKER_HOST to an engine you can use"
    fi
    wait_ping "$pid" || die "dockerd (pid $pid) for $DIR runs but does not answer on $SOCK after ${START_TIMEOUT} s; last log line: $(tail -n 1 "$LOG" 2>/dev/null)"
    log "reusing dockerd pid $pid ($PRIVATE_HOST)"
    return
  fi
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and starting one needs root: run 'sudo scripts/docker-engine.sh', or set DOCKER_HOST to a running engine"
  apt_install
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || die "dockerd not found after installing docker.io"
  local dockerd
  dockerd=$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)
  # Stale state from a dockerd that died: the socket and pid file would stop the new one.
  rm -f "$SOCK" "$PIDFILE"
  mkdir -p "$DATA" "$EXEC"
  chmod 0711 "$DIR"
  [ -S /run/containerd/containerd.sock ] && log "note: a system containerd runs; dockerd will use it instead of its own"
  local args=()
  mapfile -t args < <(dockerd_args)
  log "starting dockerd: $dockerd ${args[*]}"
  : >"$LOG"
  local t0
  t0=$(date +%s%N)
  # setsid: own session, so the caller's Ctrl-C, process-group kills and exit do not reach it.
  # All fds are redirected (and the lock fd 9 closed) so that it holds no pipe of the caller's and
  # no lock open.
  PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH" setsid nohup "$dockerd" "${args[@]}" </dev/null >>"$LOG" 2>&1 9>&- &
  local launched=$!
  if ! wait_ping "$launched"; then
    local tail_log
    tail_log=$(grep -v 'level=info' "$LOG" 2>/dev/null | tail -n 3 | tr '\n' ' ')
    is_our_dockerd "$launched" && kill -TERM "$launched" 2>/dev/null || true
    die "dockerd did not answer on $SOCK within ${START_TIMEOUT} s (log $LOG): ${tail_log:-$(tail -n 3 "$LOG" | tr '\n' ' ')}"
  fi
  log "dockerd pid $(our_dockerd_pid) answers on $PRIVATE_HOST after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# wait_ping PID: wait (bounded) until the private socket answers, failing early if PID dies.
wait_ping() {
  local pid=$1 deadline=$((SECONDS + START_TIMEOUT))
  while [ $SECONDS -lt $deadline ]; do
    ping_host "$PRIVATE_HOST" && return 0
    [ -d "/proc/$pid" ] || { sleep 0.2; ping_host "$PRIVATE_HOST" && return 0; return 1; }
    sleep 0.2
  done
  return 1
}

# Build orch/busybox:latest from busybox-static when it is missing (or built by an older revision).
ensure_image() {
  local host=$1 rev
  rev=$(DOCKER_HOST=$host dk image inspect --format '{{index .Config.Labels "orch.image.rev"}}' "$IMAGE" 2>/dev/null || true)
  [ "$rev" = "$IMAGE_REV" ] && return 0
  local old_id
  old_id=$(DOCKER_HOST=$host dk image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
  if [ ! -x /bin/busybox ] || ! dpkg -s busybox-static >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "$IMAGE is missing and building it needs busybox-static: run 'sudo apt-get install busybox-static' or run this script as root"
    apt_install
  fi
  log "building $IMAGE from busybox-static ($(/bin/busybox | head -n 1 | cut -d' ' -f1-2))"
  local t0 root
  t0=$(date +%s%N)
  root=$(mktemp -d "$DIR/rootfs.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,www,root,var/run,proc,sys,dev}
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  local applet
  # --list-full names each applet with its usual dir (bin/sh, usr/bin/wget, sbin/ifconfig, ...).
  # Every applet is also linked in /bin, so `/bin/wget` works as well as `wget` via PATH.
  while IFS= read -r applet; do
    [ -n "$applet" ] && [ "$applet" != bin/busybox ] || continue
    [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    [ -e "$root/bin/${applet##*/}" ] || ln -s /bin/busybox "$root/bin/${applet##*/}"
  done < <(/bin/busybox --list-full)
  local need
  for need in sh sleep httpd echo cat nc wget true false kill ls env mkdir ps rm touch grep head tail date hostname id; do
    [ -L "$root/bin/$need" ] || die "busybox-static has no applet '$need'"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  printf 'orch test image\n' >"$root/www/index.html"
  tar -C "$root" --numeric-owner --owner=0 --group=0 -cf - . |
    DOCKER_HOST=$host dk import \
      --change 'ENV PATH=/bin:/usr/bin:/sbin:/usr/sbin' \
      --change 'CMD ["sh"]' \
      --change "LABEL orch.image.rev=$IMAGE_REV" \
      --message "orch test image from busybox-static" \
      - "$IMAGE" >&2 || die "docker import of $IMAGE failed"
  rm -rf "$root"
  trap - EXIT
  # The image an older revision built is now untagged; drop it unless a container still uses it.
  [ -n "$old_id" ] && DOCKER_HOST=$host dk rmi "$old_id" >/dev/null 2>&1 || true
  log "built $IMAGE in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

cmd_start() {
  take_lock
  local host=''
  if [ -n "${DOCKER_HOST:-}" ]; then
    ping_host "$DOCKER_HOST" || die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to start a private engine, or start that engine"
    host=$DOCKER_HOST
    log "using the engine at DOCKER_HOST=$host"
  elif [ -z "$(our_dockerd_pid)" ] && ping_host unix:///var/run/docker.sock; then
    host=unix:///var/run/docker.sock
    log "using the engine at $host"
  else
    start_private
    host=$PRIVATE_HOST
  fi
  ensure_image "$host"
  printf '%s\n' "$host"
}

cmd_status() {
  local pid
  pid=$(our_dockerd_pid)
  if [ -n "$pid" ] && ping_host "$PRIVATE_HOST"; then
    echo "running: dockerd pid $pid, DOCKER_HOST=$PRIVATE_HOST (dir $DIR)"
  elif [ -n "$pid" ] && [ -S "$SOCK" ] && [ ! -w "$SOCK" ]; then
    echo "running: dockerd pid $pid, but its socket $SOCK is not writable by uid $(id -u) (dir $DIR)"
    exit 1
  elif [ -n "$pid" ]; then
    echo "starting or stuck: dockerd pid $pid does not answer on $SOCK (dir $DIR)"
    exit 1
  else
    echo "not running: no dockerd for $DIR"
    exit 1
  fi
}

cmd_stop() {
  take_lock
  local pid
  pid=$(our_dockerd_pid)
  if [ -z "$pid" ]; then
    log "not running: no dockerd for $DIR; nothing to stop"
  else
    kill -0 "$pid" 2>/dev/null || die "cannot signal dockerd pid $pid for $DIR as uid $(id -u): run 'sudo scripts/docker-engine.sh stop'"
    log "stopping dockerd pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 20))
    while [ -d "/proc/$pid" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if [ -d "/proc/$pid" ]; then
      log "dockerd pid $pid did not exit within 20 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  # Containers a killed dockerd left running (a clean dockerd stops them itself): runc kills and
  # deletes them; their state lives under our exec-root.
  local rroot id
  if command -v runc >/dev/null 2>&1; then
    for rroot in "$EXEC"/runtime-runc/*; do
      [ -d "$rroot" ] || continue
      for id in $(runc --root "$rroot" list -q 2>/dev/null); do
        log "killing container $id left by dockerd"
        runc --root "$rroot" delete -f "$id" >/dev/null 2>&1 || true
      done
    done
  fi
  # Its containerd, and shims left by a killed dockerd: TERM, then KILL what remains.
  local rest
  rest=$(pids_using_dir | tr '\n' ' ')
  if [ -n "${rest// /}" ]; then
    log "ending leftover processes of $DIR: $rest"
    # shellcheck disable=SC2086
    kill -TERM $rest 2>/dev/null || true
    local deadline=$((SECONDS + 10))
    while [ -n "$(pids_using_dir)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    rest=$(pids_using_dir | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "${rest// /}" ] && kill -KILL $rest 2>/dev/null || true
  fi
  # Mounts a killed dockerd left behind (overlay layers, netns), deepest first.
  local m
  while IFS= read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r)
  rm -f "$SOCK" "$PIDFILE"
  [ -n "$pid" ] && log "stopped"
  if [ -n "$(pids_using_dir)" ]; then die "processes of $DIR survive SIGKILL: $(pids_using_dir | tr '\n' ' ')"; fi
  return 0
}

case "${1:-start}" in
  start) cmd_start ;;
  status) cmd_status ;;
  stop) cmd_stop ;;
  -h|--help|help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use start, status or stop)" ;;
esac
