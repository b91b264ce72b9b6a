#!/usr/bin/env bats
# Swarm mode, overlay networks (issue 12): a real three-node swarm in a `berth lab` (1 manager, 2
# workers) through the official docker CLI: the tutorial's attachable overlay with containers on
# two nodes reaching each other by name over VXLAN, a network present on a node only while
# something of it runs there, two overlays with the same subnet, a service's tasks on an overlay
# reached across nodes, and nothing left behind (links, namespaces, FDB entries) once removed.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  lab_up ovl --workers 2
  lab_import_busybox
  for n in $(lab_nodes); do
    lab_docker "$n" import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' \
      "$LAB_TMP/busybox.tar" web:latest >/dev/null
  done
  lab_docker m1 swarm init --advertise-addr "$(lab_ip m1)" --dispatcher-heartbeat 1s >/dev/null
  token=$(lab_docker m1 swarm join-token -q worker)
  for n in w1 w2; do lab_docker "$n" swarm join --token "$token" "$(lab_ip m1):2377" >/dev/null; done
}

teardown_file() { lab_teardown; }

m1() { lab_docker m1 "$@"; }
w1() { lab_docker w1 "$@"; }
w2() { lab_docker w2 "$@"; }
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
# The VXLAN links in a node's namespaces (its own and the overlay namespaces under its exec root).
vxlans_on() {
  local ns="$LAB_NAME-$1" n=0 f
  n=$(ip -n "$ns" -d link show type vxlan 2>/dev/null | grep -c '^[0-9]')
  for f in /run/berth-lab/"$LAB_NAME"/"$1"/netns/ov-*; do
    [ -e "$f" ] || continue
    n=$((n + $(nsenter --net="$f" ip -d link show type vxlan 2>/dev/null | grep -c '^[0-9]')))
  done
  echo "$n"
}

# SERVICE N: N of its tasks are running.
running_is() {
  [ "$(m1 service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$2" ]
}
no_network() { [ -z "$(lab_docker "$1" network ls --filter "name=$2" -q)" ]; }
no_vxlans() { [ "$(vxlans_on "$1")" = 0 ]; }

@test "the tutorial: an attachable overlay; containers on two nodes ping each other by name" {
  run m1 network create -d overlay --attachable ov1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run m1 run -dit --name ovc1 --network ov1 busybox
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run w1 run -dit --name ovc2 --network ov1 busybox
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  ip1=$(m1 inspect ovc1 --format '{{.NetworkSettings.Networks.ov1.IPAddress}}')
  ip2=$(w1 inspect ovc2 --format '{{.NetworkSettings.Networks.ov1.IPAddress}}')
  [[ "$ip1" == 10.0.1.* && "$ip2" == 10.0.1.* && "$ip1" != "$ip2" ]] || { echo "$ip1 $ip2"; false; }
  # Docker's MAC for an overlay endpoint: 02:42 and the address.
  run w1 inspect ovc2 --format '{{.NetworkSettings.Networks.ov1.MacAddress}}'
  [ "$output" = "$(printf '02:42:%02x:%02x:%02x:%02x' ${ip2//./ })" ]
  # Across nodes over VXLAN, by address and by name (the peer table carries names).
  wait_for 10 w1 exec ovc2 ping -c 1 -W 1 "$ip1"
  run w1 exec ovc2 ping -c 2 -W 2 ovc1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"2 packets received"* ]]
  run m1 exec ovc1 ping -c 1 -W 2 ovc2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # The overlay's MTU is VXLAN's 1450.
  run w1 exec ovc2 cat /sys/class/net/eth0/mtu
  [ "$output" = "1450" ]
  # On w1 the network shows with its container; w2 runs nothing of it and does not have it.
  run w1 network inspect ov1 --format '{{.Scope}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}} {{range .Containers}}{{.Name}}{{end}}'
  [ "$output" = "swarm 4097 ovc2" ] || { echo "$output"; false; }
  # Where the network is, inspect shows the nodes that have it (Docker's Peers): m1 and w1, each
  # with a name of 12 hex digits and its underlay address.
  want="$(printf '%s\n' "$(lab_ip m1)" "$(lab_ip w1)" | sort | tr '\n' ' ')"
  peers() { w1 network inspect ov1 --format '{{range .Peers}}{{.IP}} {{end}}'; }
  peers_are() { [ "$(peers)" = "$want" ]; }
  wait_for 10 peers_are || { echo "want $want, got $(peers)"; false; }
  run m1 network inspect ov1 --format '{{range .Peers}}{{.Name}} {{.IP}} {{end}}'
  [[ "$output" =~ ^[0-9a-f]{12}\ [0-9.]+\ [0-9a-f]{12}\ [0-9.]+\ $ ]] || { echo "$output"; false; }
  run w2 network ls --filter name=ov1 --format '{{.Name}}'
  [ "$output" = "" ]
  [ "$(vxlans_on w2)" = 0 ]
}

@test "a network that is not attachable refuses plain containers, with Docker's words" {
  m1 network create -d overlay noatt >/dev/null
  run w1 run -d --name na --network noatt busybox
  [ "$status" -ne 0 ]
  [[ "$output" == *"not manually attachable"* ]] || { echo "$output"; false; }
  [ -z "$(w1 ps -aq --filter name=na)" ]
  m1 network rm noatt >/dev/null
}

@test "two overlays with the same subnet: each network's containers reach only their own" {
  m1 network create -d overlay --attachable --subnet 10.9.0.0/24 ova >/dev/null
  m1 network create -d overlay --attachable --subnet 10.9.0.0/24 ovb >/dev/null
  m1 run -dit --name a1 --network ova busybox >/dev/null
  w2 run -dit --name a2 --network ova busybox >/dev/null
  m1 run -dit --name b1 --network ovb busybox >/dev/null
  w2 run -dit --name b2 --network ovb busybox >/dev/null
  a2=$(w2 inspect a2 --format '{{.NetworkSettings.Networks.ova.IPAddress}}')
  b2=$(w2 inspect b2 --format '{{.NetworkSettings.Networks.ovb.IPAddress}}')
  # Same pool, so the same addresses on both networks.
  [ "$a2" = "$b2" ] || { echo "$a2 $b2"; false; }
  wait_for 10 m1 exec a1 ping -c 1 -W 1 a2
  wait_for 10 m1 exec b1 ping -c 1 -W 1 b2
  # One address, two networks: each container reaches its own network's holder of it.
  m1 exec a1 ping -c 1 -W 1 "$a2"
  m1 exec b1 ping -c 1 -W 1 "$b2"
  # A name on the other network is not answered.
  run m1 exec a1 ping -c 1 -W 1 b2
  [ "$status" -ne 0 ]
  for c in a1 b1; do m1 rm -f "$c" >/dev/null; done
  for c in a2 b2; do w2 rm -f "$c" >/dev/null; done
  m1 network rm ova ovb >/dev/null
}

@test "a service on an overlay: its tasks are reached from an attachable container across nodes, by address and tasks.<service>" {
  m1 service create --detach --name web --network ov1 --replicas 2 web >/dev/null
  wait_for 30 running_is web 2
  addrs=""
  for t in $(m1 service ps web -q); do
    addrs="$addrs $(m1 inspect "$t" --format '{{range .NetworksAttachments}}{{range .Addresses}}{{.}} {{end}}{{end}}')"
  done
  [ "$(echo $addrs | wc -w)" = 2 ] || { echo "$addrs"; false; }
  for addr in $addrs; do
    ip=${addr%/*}
    [[ "$ip" == 10.0.1.* ]] || { echo "$addr"; false; }
    wait_for 10 m1 exec ovc1 ping -c 1 -W 1 "$ip"
  done
  # By name across nodes: tasks.<service> answers every task's address.
  wait_for 10 m1 exec ovc1 ping -c 1 -W 1 tasks.web
  run m1 exec ovc1 nslookup tasks.web
  [ "$(echo "$output" | grep -c 'Address.*10\.0\.1\.')" -ge 2 ] || { echo "$output"; false; }
  m1 service rm web >/dev/null
}

@test "removal leaves nothing: containers gone, the network leaves the nodes; network rm" {
  m1 rm -f ovc1 >/dev/null
  w1 rm -f ovc2 >/dev/null
  wait_for 30 no_network w1 ov1
  wait_for 30 no_vxlans w1
  wait_for 30 no_vxlans m1
  run m1 network rm ov1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for n in m1 w1 w2; do
    [ "$(vxlans_on "$n")" = 0 ]
    run ip -n "$LAB_NAME-$n" -d link show type vxlan
    [ -z "$output" ]
  done
}
