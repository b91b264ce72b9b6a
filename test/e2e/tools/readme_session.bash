#!/usr/bin/env bash
# Runs shell blocks taken from README.md verbatim, line by line, as a user pasting them would, against
# a berthd started with no flags (what `make run` starts: /run/berth.sock, /var/lib/berth, /run/berth).
#
#   unshare --mount --propagation private bash readme_session.bash WORK OUT BLOCK...
#
# It must run in a private mount namespace: it mounts a tmpfs over /run and over /var/lib/berth there,
# so the host's real /run/berth.sock and /var/lib/berth (a developer's `make run`) are out of reach;
# the mounts vanish with the namespace. berthd runs in a network namespace made inside it
# (bt-readme-<pid>), entered with nsenter (`ip netns exec` would remount /sys and hide the cgroup
# mounts runc needs). WORK is the working directory (it holds build/bin -> the binaries); OUT gets,
# for the Nth command run: N.cmd (the line), N.out (stdout and stderr), N.rc; and berthd.log,
# mntns (this namespace), left (what was still running in it at the end, but this script; empty:
# nothing), failed (the failing command, only on failure). Exits 0 when every line succeeded. Tears everything down on exit.

set -u
WORK=$1 OUT=$2
shift 2
NS="bt-readme-$$"
SOCK=/run/berth.sock
BERTHD_PID=
MADE_DATA_DIR=0
mkdir -p "$OUT"

if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink "/proc/$PPID/ns/mnt")" ]; then
  echo "readme_session: not in a private mount namespace; refusing to mount over /run" >&2
  exit 2
fi
readlink /proc/self/ns/mnt > "$OUT/mntns"

cleanup() {
  set +e
  trap - EXIT INT TERM
  if [ -S "$SOCK" ]; then
    local ids
    ids=$(DOCKER_HOST="unix://$SOCK" timeout 30 docker ps -aq 2>/dev/null)
    [ -n "$ids" ] && DOCKER_HOST="unix://$SOCK" timeout 60 docker rm -f $ids >/dev/null 2>&1
  fi
  if [ -n "$BERTHD_PID" ] && kill -0 "$BERTHD_PID" 2>/dev/null; then
    kill "$BERTHD_PID"
    for _ in $(seq 1 100); do kill -0 "$BERTHD_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$BERTHD_PID" 2>/dev/null
  fi
  # What a failure left: containers still under runc, shims of containers berthd never recorded.
  for id in $(runc --root /run/berth/runc list -q 2>/dev/null); do
    runc --root /run/berth/runc delete -f "$id" >/dev/null 2>&1
  done
  for f in /run/berth/c/*/shim.pid; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  ip netns del "$NS" 2>/dev/null
  # What is still running in this mount namespace but this script (a shim serves its last
  # connections for up to 2 s after its container's exit), checked here while the namespace
  # lives: once it is gone the kernel gives its inode number to the next new namespace (a
  # container's, of a test running alongside), and a look from outside would find that one.
  local left=""
  for _ in $(seq 1 100); do
    left=$(perl -e 'my $ns = readlink("/proc/self/ns/mnt");
      opendir(my $d, "/proc") && defined $ns or do { print "ERROR: cannot look"; exit };
      my %self; for (my $p = $$; $p > 1;) {  # perl and the shells it runs under
        $self{$p} = 1; open(my $s, "<", "/proc/$p/stat") or last; my @f = split / /, <$s>;
        $p = ($f[1] =~ /\)$/) ? $f[3] : 0; }
      my @l; for my $p (grep { /^\d+$/ } readdir($d)) {
        next if $self{$p};
        my $n = readlink("/proc/$p/ns/mnt"); next unless defined $n && $n eq $ns;
        open(my $f, "<", "/proc/$p/comm") or next; my $c = <$f>; chomp $c; push @l, "$p $c"; }
      print join(", ", @l);')
    [ -z "$left" ] && break
    sleep 0.05
  done
  echo "$left" > "$OUT/left"
  umount -l /var/lib/berth 2>/dev/null
  [ "$MADE_DATA_DIR" = 1 ] && rmdir /var/lib/berth 2>/dev/null
  # /run is this namespace's tmpfs: it goes with the namespace.
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The mount point has to exist on the host's filesystem; made here only if missing, removed at the end.
if [ ! -d /var/lib/berth ]; then
  mkdir /var/lib/berth && MADE_DATA_DIR=1
fi
mount -t tmpfs -o mode=0755 bt-readme-run /run || exit 1
mount -t tmpfs -o mode=0711 bt-readme-data /var/lib/berth || exit 1

ip netns add "$NS" || exit 1
ip -n "$NS" link set lo up
cd "$WORK" || exit 1
# 3>&-: bats waits for every holder of its fd 3; the daemon must not hold it.
nsenter --net="/run/netns/$NS" build/bin/berthd >"$OUT/berthd.log" 2>&1 3>&- &
BERTHD_PID=$!
up=0
for _ in $(seq 1 200); do
  if [ -S "$SOCK" ] && curl -sf --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1; then up=1; break; fi
  kill -0 "$BERTHD_PID" 2>/dev/null || break
  sleep 0.05
done
if [ "$up" != 1 ]; then
  echo "berthd (no flags) did not come up on $SOCK" > "$OUT/failed"
  exit 1
fi

# The README sets DOCKER_HOST itself; nothing from the caller's environment may point elsewhere.
unset DOCKER_HOST BERTH_HOST DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH
# Variables a README line sets reach the lines after it, as in one interactive shell.
set -a
n=0
for block in "$@"; do
  cmd=
  while IFS= read -r line || [ -n "$line" ]; do
    # A line ending in \ goes on the next one.
    if [[ "$line" == *\\ ]]; then
      cmd+="${line%\\}"
      continue
    fi
    cmd+="$line"
    [[ "$cmd" =~ ^[[:space:]]*(#.*)?$ ]] && { cmd=; continue; }
    n=$((n + 1))
    printf '%s\n' "$cmd" > "$OUT/$n.cmd"
    if [[ "$cmd" == *"<<"* ]]; then
      echo "here-documents cannot be run line by line: $cmd" > "$OUT/$n.out"
      rc=2
    elif [[ "$cmd" =~ ^[[:space:]]*(export|cd|unset)([[:space:]]|$) ||
            "$cmd" =~ ^[[:space:]]*[A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*[[:space:]]*(#.*)?$ ]]; then
      # Lines that change the shell itself run in this shell.
      eval "$cmd" >"$OUT/$n.out" 2>&1 </dev/null
      rc=$?
    else
      # Everything else in a child bash with a time limit, so that a hung command fails the test
      # instead of hanging it.
      timeout -k 5 120 bash -c "$cmd" >"$OUT/$n.out" 2>&1 </dev/null
      rc=$?
    fi
    echo "$rc" > "$OUT/$n.rc"
    if [ "$rc" != 0 ]; then
      printf 'README command failed (exit %s): %s\n' "$rc" "$cmd" > "$OUT/failed"
      exit 1
    fi
    cmd=
  done < "$block"
done
exit 0
