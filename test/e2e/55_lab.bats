#!/usr/bin/env bats
# berth lab: a multi-host lab on one machine (docs/lab.md). One lab of 1 manager and 2 workers
# for the file (tools/lab.sh: bt-lab-<pid> on a subnet of its own); the down test takes it apart
# and checks in the kernel and on disk that nothing of it is left.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  lab_up lab
  export LAB="$LAB_NAME"
  # A busybox image for the containers of the down tests.
  local root="$LAB_TMP/rootfs"
  mkdir -p "$root/bin"
  cp /bin/busybox "$root/bin/busybox"
  for a in sh sleep; do ln -s busybox "$root/bin/$a"; done
  tar -C "$root" -cf "$LAB_TMP/busybox.tar" .
}

teardown_file() {
  [ -n "${LAB:-}" ] || return 0
  # The down tests normally took both labs apart; after a failure, down (and by hand what even
  # that leaves) so that nothing is left for the next file.
  if [ -f "/run/berth-lab/$LAB-f/lab.json" ]; then
    lab down --name "$LAB-f" >/dev/null 2>&1 || true
  fi
  ip netns del "$LAB-f-w1" 2>/dev/null || true
  rm -rf "/run/berth-lab/$LAB-f" "/var/lib/berth-lab/$LAB-f"
  lab_teardown
}

sock() { lab_sock "$1"; }
# `! cmd` never fails a bats test (errexit ignores it): these do.
refute() {
  if "$@"; then
    echo "unexpectedly true: $*" >&2
    return 1
  fi
}
# The process has exited (a zombie waiting for its reaper counts as gone).
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }

@test "lab up: three nodes, their addresses and how to reach each" {
  run cat "$LAB_TMP/up.out"
  [[ "${lines[0]}" == "Lab $LAB is up in "*": 3 nodes on bridge "*" ($LAB_NET.1/24)" ]]
  [[ "$output" == *"m1 "*"manager "*"$LAB_NET.11 "*"$(sock m1)"* ]]
  [[ "$output" == *"w1 "*"worker "*"$LAB_NET.21 "*"$(sock w1)"* ]]
  [[ "$output" == *"w2 "*"worker "*"$LAB_NET.22 "*"$(sock w2)"* ]]
  [[ "$output" == *"docker -H $(sock m1) info"* ]]
  run lab ls
  [ "$status" -eq 0 ]
  [[ "${lines[0]}" == "NODE"*"ROLE"*"ADDRESS"*"STATE"*"PID"*"SOCKET" ]]
  [ "$(echo "$output" | grep -c ' running ')" -eq 3 ]
  # The kernel has what ls says: a namespace per node, eth0 with its address, a veth on the bridge.
  for n in m1 w1 w2; do
    [ -e "/run/netns/$LAB-$n" ]
  done
  run ip -n "$LAB-w2" -o -4 addr show eth0
  [[ "$output" == *"$LAB_NET.22/24"* ]]
  run lab ls --format '{{.Node}} {{.Netns}}'
  [ "${lines[1]}" = "w1 $LAB-w1" ]
  # Up twice is refused; the running lab is untouched.
  run lab up --name "$LAB" --subnet "$LAB_NET.0/24"
  [ "$status" -eq 1 ]
  [[ "$output" == *"lab \"$LAB\" is up already"* ]]
  # A second lab on the same subnet is refused before anything is made.
  run lab up --name "$LAB-b" --subnet "$LAB_NET.0/24"
  [ "$status" -eq 1 ]
  [[ "$output" == *"overlaps $LAB_NET.1/24"*"choose another with --subnet"* ]]
  [ ! -e "/run/berth-lab/$LAB-b" ]
  [ ! -e "/var/lib/berth-lab/$LAB-b" ]
  refute grep -q "^$LAB-b-" <(ip netns list)
  # Bad input: a clear error, nothing made.
  run lab up --name "$LAB-c" --managers 0 --workers 0
  [ "$status" -eq 1 ]
  [[ "$output" == *"a lab needs at least one node"* ]]
  run lab up --name "$LAB-c" --subnet 10.1.0.0/30
  [ "$status" -eq 1 ]
  [[ "$output" == *"the prefix length must be 8 to 27"* ]]
  [ ! -e "/run/berth-lab/$LAB-c" ]
}

@test "each node is a host of its own: hostname, data root, socket" {
  for n in m1 w1 w2; do
    run docker -H "$(sock $n)" info --format '{{.Name}} {{.DockerRootDir}}'
    [ "$status" -eq 0 ]
    [ "$output" = "$n /var/lib/berth-lab/$LAB/$n" ]
    run "$BIN/berth" -H "$(sock $n)" info --format '{{.Name}}'
    [ "$output" = "$n" ]
  done
}

@test "lab env and lab exec point docker at a node" {
  run lab env w1
  [ "${lines[0]}" = "export DOCKER_HOST=$(sock w1)" ]
  eval "$(lab env w1)"
  run docker info --format '{{.Name}}'
  [ "$output" = "w1" ]
  run lab exec w2 -- docker ps --format '{{.Names}}'
  [ "$status" -eq 0 ]
  [ "$output" = "" ]
  run lab exec w2 -- docker info --format '{{.Name}}'
  [ "$output" = "w2" ]
  # The command runs in the node's namespaces: its interfaces, its hostname.
  run lab exec m1 -- hostname
  [ "$output" = "m1" ]
  run lab exec m1 -- cat /sys/class/net/eth0/address
  [ "$status" -eq 0 ]
  run -127 lab exec m1 nonexistent-command
  [ "$status" -eq 127 ]
  run lab exec m9 -- true
  [ "$status" -eq 1 ]
  [[ "$output" == *'no node "m9"'* ]]
}

@test "nodes reach each other over the underlay, and the host reaches them" {
  run lab exec m1 -- ping -c1 -W2 "$LAB_NET.21"
  [ "$status" -eq 0 ]
  run lab exec w1 -- ping -c1 -W2 "$LAB_NET.22"
  [ "$status" -eq 0 ]
  run lab exec w2 -- ping -c1 -W2 "$LAB_NET.11"
  [ "$status" -eq 0 ]
  run ping -c1 -W2 "$LAB_NET.11"
  [ "$status" -eq 0 ]
}

@test "a node's lookups of outside names fail at once: the host's name servers are unreachable from it" {
  # Only where the host does not forward (without these routes a lookup would wait out the
  # resolver, 20 s); a host that forwards may give the nodes a way out.
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = 0 ] || skip "the host forwards IPv4"
  run lab exec m1 -- ip route show type unreachable
  for ns in $(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ && $2 !~ /^127\./ {print $2}' /etc/resolv.conf); do
    [[ "$output" == *"unreachable $ns "* || "$output" == *"unreachable $ns"$'\n'* || "$output" == *"unreachable $ns" ]] ||
      { echo "no unreachable route to $ns: $output"; false; }
  done
  start=$(date +%s%N)
  run lab exec m1 -- getent hosts registry-1.docker.io
  [ "$status" -ne 0 ]
  elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
  [ "$elapsed" -lt 3000 ] || { echo "the lookup took $elapsed ms"; false; }
}

@test "lab cut partitions a node, lab heal restores it" {
  run lab cut w1
  [ "$status" -eq 0 ]
  run lab ls --format '{{.Node}} {{.State}}'
  [[ "$output" == *"w1 cut"* ]]
  run lab exec m1 -- ping -c1 -W1 "$LAB_NET.21"
  [ "$status" -ne 0 ]
  run lab exec w1 -- ping -c1 -W1 "$LAB_NET.22"
  [ "$status" -ne 0 ]
  # The daemon itself keeps running (its socket is on the host).
  run docker -H "$(sock w1)" info --format '{{.Name}}'
  [ "$output" = "w1" ]
  run lab heal w1
  [ "$status" -eq 0 ]
  run lab ls --format '{{.Node}} {{.State}}'
  [[ "$output" == *"w1 running"* ]]
  run lab exec m1 -- ping -c1 -W3 "$LAB_NET.21"
  [ "$status" -eq 0 ]
}

@test "lab kill, stop and start restart a node's daemon" {
  pid=$(lab ls --format '{{.Node}} {{.Pid}}' | awk '$1 == "w2" {print $2}')
  [ -n "$pid" ] && kill -0 "$pid"
  run lab kill w2
  [ "$status" -eq 0 ]
  gone "$pid"
  run lab ls --format '{{.Node}} {{.State}} {{.Pid}}'
  [[ "$output" == *"w2 stopped -"* ]]
  run docker -H "$(sock w2)" info
  [ "$status" -ne 0 ]
  run lab kill w2
  [ "$status" -eq 1 ]
  [[ "$output" == *"node w2 is not running"* ]]
  run lab start w2
  [ "$status" -eq 0 ]
  run docker -H "$(sock w2)" info --format '{{.Name}}'
  [ "$output" = "w2" ]
  run lab start w2
  [ "$status" -eq 1 ]
  [[ "$output" == *"is running already"* ]]
  run lab stop w2
  [ "$status" -eq 0 ]
  run lab ls --format '{{.Node}} {{.State}}'
  [[ "$output" == *"w2 stopped"* ]]
  run lab start w2
  [ "$status" -eq 0 ]
  newpid=$(lab ls --format '{{.Node}} {{.Pid}}' | awk '$1 == "w2" {print $2}')
  [ "$newpid" != "$pid" ]
  run lab exec w2 -- ping -c1 -W2 "$LAB_NET.11"
  [ "$status" -eq 0 ]
}

@test "lab down removes containers, daemons, namespaces, links and directories: nothing is left" {
  # A container on a running node, and one on a node whose daemon was killed under it (its shim
  # and process live on without a daemon).
  for n in m1 w1; do
    docker -H "$(sock $n)" import -c 'CMD ["sh"]' "$LAB_TMP/busybox.tar" busybox >/dev/null
    docker -H "$(sock $n)" run -d --name c-$n busybox sleep 1357 >/dev/null
  done
  ids=$(for n in m1 w1; do docker -H "$(sock $n)" ps -q --no-trunc; done)
  [ "$(echo $ids | wc -w)" -eq 2 ]
  lab kill w1
  pids=$(lab ls --format '{{.Pid}}' | grep -v -- -)
  bridge=$(awk -F'"' '/"bridge"/ {print $4}' "/run/berth-lab/$LAB/lab.json")
  links=$(awk -F'"' '/"host_link"/ {print $4}' "/run/berth-lab/$LAB/lab.json")
  [ -n "$bridge" ] && [ -n "$links" ]
  run lab down
  [ "$status" -eq 0 ]
  [[ "$output" == *"Lab $LAB is down; nothing is left"* ]]
  # Nothing had to be forced: w1 was started again and removed its container itself.
  [[ "$output" != *"note:"* ]]
  refute pgrep -f "sleep 1357" >/dev/null
  for id in $ids; do
    refute ls -d /sys/fs/cgroup/*/berth/$id 2>/dev/null
  done
  # Nothing of it in the kernel or on disk.
  for n in m1 w1 w2; do
    [ ! -e "/run/netns/$LAB-$n" ]
  done
  refute grep -q "^$LAB-" <(ip netns list)
  for l in $bridge $links; do
    refute ip link show "$l" 2>/dev/null
  done
  for p in $pids; do
    gone "$p"
  done
  refute pgrep -f "berth-lab/$LAB/" >/dev/null
  refute grep -q "berth-lab/$LAB" /proc/self/mountinfo
  refute grep -q "/run/netns/$LAB-" /proc/self/mountinfo
  [ ! -e "/run/berth-lab/$LAB" ]
  [ ! -e "/var/lib/berth-lab/$LAB" ]
  # A lab that is gone: a clear error, and no directory made for it.
  run lab stop w1
  [ "$status" -eq 1 ]
  [[ "$output" == *"no lab named \"$LAB\""* ]]
  [ ! -e "/run/berth-lab/$LAB" ]
}

@test "lab down ends what a daemon that cannot come back left, and says so" {
  local lab2="$LAB-f" net2="$LAB_NET"
  net2="${net2%.*}.$(( (${net2##*.} + 1) % 250 ))"
  lab up --name "$lab2" --managers 0 --workers 1 --subnet "$net2.0/24" >/dev/null
  s="unix:///run/berth-lab/$lab2/w1/berthd.sock"
  docker -H "$s" import -c 'CMD ["sh"]' "$LAB_TMP/busybox.tar" busybox >/dev/null
  id=$(docker -H "$s" run -d busybox sleep 2468)
  lab kill --name "$lab2" w1
  # The daemon cannot be started again (a broken binary): down ends the container's processes
  # itself, removes its cgroups and tells what it had to force.
  sed -i 's|"berthd": "[^"]*"|"berthd": "/bin/false"|' "/run/berth-lab/$lab2/lab.json"
  run lab down --name "$lab2"
  [ "$status" -eq 0 ]
  [[ "$output" == *"note: killed process "*"(berth-shim): in w1's network namespace"* ]]
  [[ "$output" == *"note: killed process "*"(sleep): in the cgroup of a container of the lab"* ]]
  [[ "$output" == *"Lab $lab2 is down; nothing is left"* ]]
  refute pgrep -f "sleep 2468" >/dev/null
  refute ls -d /sys/fs/cgroup/*/berth/$id 2>/dev/null
  [ ! -e "/run/berth-lab/$lab2" ]
  [ ! -e "/var/lib/berth-lab/$lab2" ]
  [ ! -e "/run/netns/$lab2-w1" ]
}
