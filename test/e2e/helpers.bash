# Shared set-up for Berth's end-to-end tests: one berthd per test file, inside a network
# namespace of its own (bt-e2e-<pid>), with its own data and exec roots, driven by the official
# docker CLI and by berth. Everything made here is removed in teardown_file.

BIN=${BERTH_BIN:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build/bin}

berth_setup_daemon() {
  [ "$(id -u)" = 0 ] || skip "needs root (runc, mounts, namespaces)"
  export BT_NS="bt-e2e-$$-${BATS_SUITE_TEST_NUMBER:-0}"
  # Short paths: unix socket paths under the exec root must stay under 108 bytes.
  export BT_DIR=$(mktemp -d /tmp/bt-e2e.XXXXXX)
  export BT_SOCK="$BT_DIR/berth.sock"
  export DOCKER_HOST="unix://$BT_SOCK"
  export BERTH_HOST="$DOCKER_HOST"
  ip netns add "$BT_NS"
  ip -n "$BT_NS" link set lo up
  berth_start_daemon
  berth_make_busybox
}

berth_start_daemon() {
  # 3>&-: bats waits for every holder of fd 3 to finish; the daemon must not hold it.
  nsenter --net="/run/netns/$BT_NS" "$BIN/berthd" ${BERTH_DAEMON_FLAGS:-} -H "$DOCKER_HOST" --data-root "$BT_DIR/data" \
    --exec-root "$BT_DIR/exec" >>"$BT_DIR/berthd.log" 2>&1 3>&- &
  export BT_PID=$!
  # A daemon restarted inside a test is a different process: teardown finds it here.
  echo "$BT_PID" > "$BT_DIR/berthd.test-pid"
  for _ in $(seq 1 200); do
    [ -S "$BT_SOCK" ] && curl -sf --unix-socket "$BT_SOCK" http://x/_ping >/dev/null 2>&1 && return 0
    kill -0 "$BT_PID" 2>/dev/null || { cat "$BT_DIR/berthd.log" >&2; return 1; }
    sleep 0.05
  done
  cat "$BT_DIR/berthd.log" >&2
  return 1
}

# A busybox-static root filesystem, imported as busybox:latest (CMD sh) through the API.
berth_make_busybox() {
  local root="$BT_DIR/rootfs"
  mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/var/www"
  cp /bin/busybox "$root/bin/busybox"
  berth_busybox_links "$root/bin"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  echo '<h1>berth</h1>' > "$root/var/www/index.html"
  tar -C "$root" -cf "$BT_DIR/busybox.tar" .
  docker import -c 'CMD ["sh"]' "$BT_DIR/busybox.tar" busybox >/dev/null
}

# DIR/<applet> -> busybox for every applet of /bin/busybox, in one process (perl is essential
# in Debian): an `ln` per applet (~270 of them) takes seconds, which files running side by side
# compete for.
berth_busybox_links() {
  perl -e '$d = shift; for (@ARGV) { next if $_ eq "busybox"; unlink "$d/$_"; symlink("busybox", "$d/$_") or die "symlink $d/$_: $!\n" }' \
    "$1" $(/bin/busybox --list)
}

berth_teardown_daemon() {
  [ -n "${BT_DIR:-}" ] || return 0
  if [ -S "$BT_SOCK" ]; then
    local ids
    ids=$(docker ps -aq 2>/dev/null || true)
    [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
  fi
  berth_stop_daemon
  # Whatever a failed test left: containers still under runc, mounts under the roots.
  for id in $(runc --root "$BT_DIR/exec/runc" list -q 2>/dev/null); do
    runc --root "$BT_DIR/exec/runc" delete -f "$id" >/dev/null 2>&1 || true
  done
  # Shims of containers the daemon never recorded (a test that killed it mid-create) outlive it.
  for f in "$BT_DIR"/exec/c/*/shim.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
  done
  for m in $(awk -v d="$BT_DIR" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip netns del "$BT_NS" 2>/dev/null || true
  # A blocking call made while holding a state lock is logged by a release build: a test whose
  # daemon logged one fails, even if everything it checked looked right.
  local violations
  violations=$(grep -h "lock discipline violated" "$BT_DIR"/berthd.log 2>/dev/null | head -5)
  rm -rf "$BT_DIR"
  if [ -n "$violations" ]; then
    echo "berthd broke the lock discipline:" >&2
    echo "$violations" >&2
    return 1
  fi
}

# kill -9 of the daemon now running (a test may have restarted it: the pid file knows which).
berth_kill_daemon() {
  BT_PID=$(cat "$BT_DIR/berthd.test-pid")
  kill -9 "$BT_PID"
  while kill -0 "$BT_PID" 2>/dev/null; do sleep 0.02; done
}

berth_stop_daemon() {
  [ -f "$BT_DIR/berthd.test-pid" ] && BT_PID=$(cat "$BT_DIR/berthd.test-pid")
  if [ -n "${BT_PID:-}" ] && kill -0 "$BT_PID" 2>/dev/null; then
    kill "$BT_PID"
    for _ in $(seq 1 100); do kill -0 "$BT_PID" 2>/dev/null || break; sleep 0.05; done
  fi
}

# A removed network's bridge is renamed br-gone* at once and deleted by berthd in the background
# (the kernel takes ~40 ms): waits until none is left, for tests that count links.
# A client on another host: namespace "$BT_NS-ext" joined to berthd's by a veth pair, LINK with
# DAEMON_ADDR/30 on berthd's side (an uplink), eth0 with EXT_ADDR/30 on the other. The caller
# deletes the namespace (and with it the pair).
berth_ext_ns() {  # LINK DAEMON_ADDR EXT_ADDR
  ip netns add "$BT_NS-ext"
  ip -n "$BT_NS" link add "$1" type veth peer name eth0 netns "$BT_NS-ext"
  ip -n "$BT_NS" addr add "$2/30" dev "$1"
  ip -n "$BT_NS-ext" addr add "$3/30" dev eth0
  ip -n "$BT_NS" link set "$1" up
  ip -n "$BT_NS-ext" link set eth0 up
}

berth_wait_bridges_reaped() {
  for _ in $(seq 1 100); do
    ip -n "$BT_NS" -o link | grep -q br-gone || return 0
    sleep 0.02
  done
  return 1
}

# A stopped container's host-side veth is deleted in the background too: waits until the daemon's
# namespace has N veths (on bridge MASTER when given). Fails after 2 s.
berth_wait_veths() {
  local n=$1 master=${2:+master $2}
  for _ in $(seq 1 100); do
    [ "$(ip -n "$BT_NS" -o link show $master type veth | grep -c ' veth')" -eq "$n" ] && return 0
    sleep 0.02
  done
  return 1
}

# Both CLIs: docker (the official client) and berth.
CLIS=${BERTH_TEST_CLIS:-docker berth}
berth() { "$BIN/berth" "$@"; }

# Runs the Engine API directly (for malformed requests the CLIs never send).
api() { curl -s --unix-socket "$BT_SOCK" "$@"; }
