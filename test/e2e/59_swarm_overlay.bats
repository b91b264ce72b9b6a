#!/usr/bin/env bats
# Swarm mode, overlay networks (issue 12): a real three-node swarm in a `berth lab` (1 manager, 2
# workers) through the official docker CLI: the tutorial's attachable overlay with containers on
# two nodes, then all three, reaching each other by name over VXLAN, a network present on a node
# only while something of it runs there, two overlays with the same subnet, the MTU option, a
# service's tasks on an overlay reached across nodes by address and by name, names answered only
# on shared networks, the way out through docker_gwbridge, and nothing left behind (links,
# namespaces, FDB entries) once removed.

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
# NODE NETWORK: the underlay addresses of the nodes NODE's inspect lists as having the network.
peer_ips() { lab_docker "$1" network inspect "$2" --format '{{range .Peers}}{{.IP}} {{end}}'; }
# NODE CONTAINER NETWORK: the container's address there.
addr_of() { lab_docker "$1" inspect "$2" --format "{{(index .NetworkSettings.Networks \"$3\").IPAddress}}"; }
# NODE CONTAINER NAME ADDRESS: the container's DNS answers NAME with ADDRESS (and nothing else).
resolves_to() {
  local out
  out=$(lab_docker "$1" exec "$2" nslookup "$3" 2>&1) || { echo "$out"; return 1; }
  [ "$(sed -n '/^Name:/,$p' <<<"$out" | grep -E '^Address:' | awk '{print $2}')" = "$4" ] || { echo "$out"; return 1; }
}
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

@test "a container on the third node: the network comes to w2 with it, and all three ping each other by name" {
  # w2 had nothing of ov1 (the test above): a container there brings the network and its VXLAN.
  run w2 run -dit --name ovc3 --network ov1 busybox
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run w2 network ls --filter name=ov1 --format '{{.Name}}'
  [ "$output" = "ov1" ]
  [ "$(vxlans_on w2)" = 1 ]
  ip1=$(addr_of m1 ovc1 ov1) ip2=$(addr_of w1 ovc2 ov1) ip3=$(addr_of w2 ovc3 ov1)
  [[ "$ip3" == 10.0.1.* && "$ip3" != "$ip1" && "$ip3" != "$ip2" ]] || { echo "$ip1 $ip2 $ip3"; false; }
  # Every node that has the network now lists all three as its peers.
  want="$(printf '%s\n' "$(lab_ip m1)" "$(lab_ip w1)" "$(lab_ip w2)" | sort | tr '\n' ' ')"
  for n in m1 w1 w2; do
    peers_are() { [ "$(peer_ips "$n" ov1)" = "$want" ]; }
    wait_for 10 peers_are || { echo "$n: want $want, got $(peer_ips "$n" ov1)"; false; }
  done
  # Every pair, both ways, by name, each name answered with its container's address.
  wait_for 10 w2 exec ovc3 ping -c 1 -W 1 ovc1
  for pair in "m1 ovc1 ovc2 $ip2" "m1 ovc1 ovc3 $ip3" "w1 ovc2 ovc1 $ip1" "w1 ovc2 ovc3 $ip3" \
    "w2 ovc3 ovc1 $ip1" "w2 ovc3 ovc2 $ip2"; do
    read -r node from to ip <<<"$pair"
    run lab_docker "$node" exec "$from" ping -c 1 -W 2 "$to"
    [ "$status" -eq 0 ] || { echo "$pair: $output"; false; }
    [[ "$output" == *"PING $to ($ip)"*"1 packets received"* ]] || { echo "$pair: $output"; false; }
  done
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

@test "an overlay's MTU option: its containers' eth0 has 1400 on every node, the default overlay's 1450" {
  m1 network create -d overlay --attachable -o com.docker.network.driver.mtu=1400 ovm >/dev/null
  run m1 network inspect ovm --format '{{index .Options "com.docker.network.driver.mtu"}}'
  [ "$output" = "1400" ]
  m1 run -dit --name mt1 --network ovm busybox >/dev/null
  w2 run -dit --name mt2 --network ovm busybox >/dev/null
  # The manager that made the network and a worker that learnt it from the leader's assignments.
  run m1 exec mt1 cat /sys/class/net/eth0/mtu
  [ "$output" = "1400" ] || { echo "m1: $output"; false; }
  run w2 exec mt2 cat /sys/class/net/eth0/mtu
  [ "$output" = "1400" ] || { echo "w2: $output"; false; }
  # On the same nodes, the default overlay's containers keep VXLAN's 1450.
  [ "$(m1 exec ovc1 cat /sys/class/net/eth0/mtu)" = "1450" ]
  [ "$(w2 exec ovc3 cat /sys/class/net/eth0/mtu)" = "1450" ]
  # A packet that fills the 1400 (1372 bytes of payload) crosses whole between the nodes.
  wait_for 10 m1 exec mt1 ping -c 1 -W 1 mt2
  run m1 exec mt1 ping -c 1 -W 2 -s 1372 mt2
  [[ "$output" == *"1380 bytes from"* ]] || { echo "$output"; false; }
  m1 rm -f mt1 >/dev/null
  w2 rm -f mt2 >/dev/null
  m1 network rm ovm >/dev/null
}

@test "a service on an overlay: its tasks are reached from an attachable container across nodes, by address, tasks.<service> and their container names" {
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
  # By each task's full container name (<service>.<slot>.<task id>: service ps's name and full
  # id, the name the node that runs it gives its container), from the containers on ov1 of the
  # other nodes: their DNS learnt it with the task's address from the leader.
  tasks=$(m1 service ps web --no-trunc --filter desired-state=running --format '{{.Name}}.{{.ID}}')
  [ "$(echo "$tasks" | grep -cE '^web\.[12]\.[0-9a-z]{25}$')" = 2 ] || { echo "$tasks"; false; }
  for name in $tasks; do
    ip=$(m1 inspect "${name##*.}" --format '{{range .NetworksAttachments}}{{range .Addresses}}{{.}}{{end}}{{end}}')
    ip=${ip%/*}
    on=""
    for n in m1 w1 w2; do lab_docker "$n" ps --format '{{.Names}}' | grep -qxF "$name" && on="$on$n"; done
    [[ "$on" =~ ^(m1|w1|w2)$ ]] || { echo "$name on '$on'"; false; }
    for asker in "m1 ovc1" "w1 ovc2" "w2 ovc3"; do
      read -r node c <<<"$asker"
      [ "$node" != "$on" ] || continue
      wait_for 10 resolves_to "$node" "$c" "$name" "$ip" || { echo "from $c on $node"; false; }
    done
  done
  m1 service rm web >/dev/null
}

@test "names resolve only on shared networks: a plain container on another node does, one on an overlay the asker is not on does not" {
  m1 network create -d overlay --attachable ovn >/dev/null
  w1 run -dit --name lone --network ovn busybox >/dev/null
  lone=$(addr_of w1 lone ovn)
  # ovc3 (w2) from ovc1 (m1), ovc1 from ovc3: names on ov1, across nodes.
  resolves_to m1 ovc1 ovc3 "$(addr_of w2 ovc3 ov1)"
  resolves_to w2 ovc3 ovc1 "$(addr_of m1 ovc1 ov1)"
  # lone is on ovn only: ov1's containers do not get its name, neither on another node (m1) nor
  # on lone's own node (w1, whose DNS knows it, but not for ovc2's networks); nor does lone get
  # theirs. (A name answered would give a valid address: lone is reachable from nowhere on ov1.)
  wait_for 10 w1 exec lone ping -c 1 -W 1 "$lone"
  for q in "m1 ovc1 lone" "w1 ovc2 lone" "w1 lone ovc2" "w1 lone ovc1"; do
    read -r node c name <<<"$q"
    run lab_docker "$node" exec "$c" nslookup "$name"
    [ "$status" -ne 0 ] || { echo "$q: $output"; false; }
    [[ "$output" != *"Name:"* && "$output" != *"$lone"* ]] || { echo "$q: $output"; false; }
  done
  w1 rm -f lone >/dev/null
  m1 network rm ovn >/dev/null
}

@test "an overlay container's way out: its node's docker_gwbridge (172.18.0.0/16), masqueraded to the node's underlay address" {
  # ovc1 is on ov1 only, so m1 gave it an endpoint on docker_gwbridge too (made on that first
  # need, with Docker's subnet and options) and its default route through it.
  run m1 network inspect docker_gwbridge --format '{{.Driver}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options "com.docker.network.bridge.enable_ip_masquerade"}} {{index .Options "com.docker.network.bridge.enable_icc"}}'
  [ "$output" = "bridge 172.18.0.0/16 172.18.0.1 true false" ] || { echo "$output"; false; }
  run ip -n "$LAB_NAME-m1" -4 -o addr show dev docker_gwbridge
  [[ "$output" == *" 172.18.0.1/16 "* ]] || { echo "$output"; false; }
  run m1 exec ovc1 ip -4 route show default
  [[ "$output" == "default via 172.18.0.1 dev "* ]] || { echo "$output"; false; }
  run m1 exec ovc1 ip -4 -o addr show
  [[ "$output" == *" inet 172.18."* ]] || { echo "$output"; false; }
  # Outside the overlay: the lab's bridge (the host's side of the underlay) and another node.
  run m1 exec ovc1 ping -c 1 -W 2 "$LAB_NET.1"
  [[ "$output" == *"1 packets received"* ]] || { echo "$output"; false; }
  run m1 exec ovc1 ping -c 1 -W 2 "$(lab_ip w2)"
  [[ "$output" == *"1 packets received"* ]] || { echo "$output"; false; }
  # A server in w1's own namespace (not on any overlay) sees the connection come from m1's
  # underlay address: the container's 172.18 address was masqueraded on its way out of m1.
  mkdir -p "$LAB_TMP/www/cgi-bin"
  printf '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n%%s\\n" "$REMOTE_ADDR"\n' > "$LAB_TMP/www/cgi-bin/from"
  chmod +x "$LAB_TMP/www/cgi-bin/from"
  # (Bound to w1's IPv4 address: REMOTE_ADDR is then the plain address, not a v4-mapped one.)
  timeout 30 ip netns exec "$LAB_NAME-w1" busybox httpd -f -p "$(lab_ip w1):8099" -h "$LAB_TMP/www" 3>&- &
  srv=$!
  listening() { ip netns exec "$LAB_NAME-w1" ss -Hltn 'sport = :8099' | grep -q .; }
  wait_for 5 listening || true
  # (timeout, not wget -T, which crashes this busybox.)
  run m1 exec ovc1 timeout 5 wget -qO- "http://$(lab_ip w1):8099/cgi-bin/from"
  kill "$srv" 2>/dev/null || true
  wait "$srv" 2>/dev/null || true
  [ "$output" = "$(lab_ip m1)" ] || { echo "got '$output', m1 is $(lab_ip m1)"; false; }
}

@test "removal leaves nothing: containers gone, the network leaves the nodes; network rm" {
  m1 rm -f ovc1 >/dev/null
  w1 rm -f ovc2 >/dev/null
  w2 rm -f ovc3 >/dev/null
  wait_for 30 no_network w1 ov1
  wait_for 30 no_network w2 ov1
  wait_for 30 no_vxlans w1
  wait_for 30 no_vxlans w2
  wait_for 30 no_vxlans m1
  run m1 network rm ov1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  for n in m1 w1 w2; do
    [ "$(vxlans_on "$n")" = 0 ]
    run ip -n "$LAB_NAME-$n" -d link show type vxlan
    [ -z "$output" ]
  done
}
