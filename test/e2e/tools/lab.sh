# The lab fixture for multi-node e2e tests (swarm): a `berth lab` of the test file's own, named
# bt-<tag>-<pid> and on a subnet of its own, so leftovers are recognisable and two files never
# share addresses. Needs $BIN (helpers.bash).
#
#   lab_up TAG [berth lab up flags...]   makes the lab (e.g. lab_up swarm --managers 3 --workers 2);
#                                        exports LAB_NAME, BERTH_LAB (so `berth lab` commands find
#                                        it), LAB_NET (its first three octets: a /24 no other lab
#                                        on the host has), LAB_TMP (a temp dir).
#                                        On failure prints berth's output and returns 1.
#   lab CMD ARGS...                      berth lab CMD ARGS (the lab of lab_up)
#   lab_sock NODE                        unix:///run/berth-lab/<lab>/NODE/berthd.sock
#   lab_ip NODE                          the node's underlay address (10.x.y.11 for m1, .21 for w1)
#   lab_docker NODE ARGS...              docker -H <NODE's socket> ARGS
#   lab_nodes                            the node names, one a line (m1 m2 ... w1 w2 ...)
#   lab_import_busybox [NODE...]         busybox:latest (CMD sh; httpd, sleep, nc...) on those nodes
#                                        (default: every node); each node has its own image store
#   lab_teardown                         `berth lab down` (its output on stderr if it reports a
#                                        leak, and then returns 1), then removes by hand whatever a
#                                        failed down left, so the next file starts clean.

lab() { "$BIN/berth" lab "$@" 3>&-; }

lab_up() {
  local tag=$1 lock rc=0
  shift
  export LAB_NAME="bt-$tag-$$"
  export BERTH_LAB="$LAB_NAME"
  export LAB_TMP=$(mktemp -d /tmp/bt-lab.XXXXXX)
  # Test files run side by side (ctest -j): the subnet is chosen, and the lab that takes it made,
  # under one machine-wide lock, so two labs never get the same one. The lock's fd is closed for
  # `lab up`: the node daemons it starts must not inherit (and so hold) the lock.
  exec {lock}>/run/lock/bt-e2e-lab.lock
  flock "$lock"
  export LAB_NET
  if LAB_NET=$(lab_free_net); then
    lab up --name "$LAB_NAME" --subnet "$LAB_NET.0/24" "$@" > "$LAB_TMP/up.out" 2>&1 {lock}>&- || rc=1
  else
    echo "no free lab subnet in 10.80.0.0/12" > "$LAB_TMP/up.out"
    rc=1
  fi
  exec {lock}>&-
  if [ "$rc" != 0 ]; then
    cat "$LAB_TMP/up.out" >&2
    return 1
  fi
}

# The first three octets of a /24 in 10.80.0.0-10.99.255.0 that no address on the host is in,
# with an even third octet whose odd neighbour is free too (55_lab makes a second lab there).
# Starts at a place taken from the pid, so that concurrent runs rarely even compare the same ones.
lab_free_net() {
  local used i n a b
  used=$(ip -4 -o addr show | awk '{split($4, p, "."); print p[1] "." p[2] "." p[3]}')
  for ((i = 0; i < 2500; i++)); do
    n=$(( ($$ + i) % 2500 ))
    a=$(( 80 + n / 125 )) b=$(( (n % 125) * 2 ))
    if ! grep -qxF -e "10.$a.$b" -e "10.$a.$((b + 1))" <<<"$used"; then
      echo "10.$a.$b"
      return 0
    fi
  done
  return 1
}

lab_sock() { echo "unix:///run/berth-lab/$LAB_NAME/$1/berthd.sock"; }
lab_ip() { lab ls --format '{{.Node}} {{.Address}}' | awk -v n="$1" '$1 == n {print $2}'; }
lab_docker() {
  local node=$1
  shift
  docker -H "$(lab_sock "$node")" "$@"
}
lab_nodes() { lab ls --format '{{.Node}}'; }

lab_import_busybox() {
  local root="$LAB_TMP/rootfs" nodes="$*"
  if [ ! -f "$LAB_TMP/busybox.tar" ]; then
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/var/www"
    cp /bin/busybox "$root/bin/busybox"
    berth_busybox_links "$root/bin"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
    tar -C "$root" -cf "$LAB_TMP/busybox.tar" .
  fi
  [ -n "$nodes" ] || nodes=$(lab_nodes)
  for n in $nodes; do
    lab_docker "$n" import -c 'CMD ["sh"]' "$LAB_TMP/busybox.tar" busybox >/dev/null || return 1
  done
}

lab_teardown() {
  [ -n "${LAB_NAME:-}" ] || return 0
  local rc=0 state="/run/berth-lab/$LAB_NAME/lab.json" bridge=""
  [ -f "$state" ] && bridge=$(awk -F'"' '/"bridge"/ {print $4}' "$state")
  if [ -f "$state" ]; then
    if ! lab down --name "$LAB_NAME" > "$LAB_TMP/down.out" 2>&1; then
      cat "$LAB_TMP/down.out" >&2
      rc=1
    fi
  fi
  # Whatever a failed down left (it has listed it above).
  for f in /run/netns/"$LAB_NAME"-*; do
    [ -e "$f" ] && ip netns del "$(basename "$f")" 2>/dev/null
  done
  [ -n "$bridge" ] && ip link del "$bridge" 2>/dev/null
  rm -rf "/run/berth-lab/$LAB_NAME" "/var/lib/berth-lab/$LAB_NAME" "$LAB_TMP"
  rmdir /run/berth-lab /var/lib/berth-lab 2>/dev/null
  return $rc
}
