#!/usr/bin/env bats
# kill -9 of berthd with networked containers: after restart the containers keep their
# addresses, names and published ports; kernel objects nobody owns are removed.

load helpers

setup_file() {
  berth_setup_daemon
  docker import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' "$BT_DIR/busybox.tar" web >/dev/null
}
teardown_file() {
  ip netns del "$BT_NS-ext" 2>/dev/null || true
  berth_teardown_daemon
}

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }

@test "kill -9 berthd: networks, DNS and published ports survive the restart" {
  docker network create rnet
  docker run -d --name rweb --net rnet -p 8088:80 web
  docker run -d -it --name rcli --net rnet busybox
  local ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rweb)
  berth_kill_daemon
  # While berthd is down the datapath keeps working: it lives in the kernel.
  run in_ns curl -s --max-time 5 http://127.0.0.1:8088/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  berth_start_daemon
  run docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rweb
  [ "$output" = "$ip" ]
  run docker exec rcli wget -q -O - http://rweb/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  run in_ns curl -s --max-time 5 http://127.0.0.1:8088/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  # The address stays taken: a new container gets another one.
  docker run -d -it --name rnew --net rnet busybox
  [ "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rnew)" != "$ip" ]
  docker rm -f rweb rcli rnew
  docker network rm rnet
}

@test "orphans berthd named itself are removed at start; foreign links are left alone" {
  in_ns ip link add veth1234abc type veth peer name bt-peer0
  in_ns ip link add br-0123456789ab type bridge
  in_ns ip link add bt-foreign type bridge
  mkdir -p "$BT_DIR/exec/netns"
  touch "$BT_DIR/exec/netns/deadbeef0000"
  berth_stop_daemon
  berth_start_daemon
  run in_ns ip -o link
  [[ "$output" != *veth1234abc* ]]
  [[ "$output" != *br-0123456789ab* ]]
  [[ "$output" == *bt-foreign* ]]
  [ ! -e "$BT_DIR/exec/netns/deadbeef0000" ]
  in_ns ip link del bt-foreign
}

@test "kill -9 in the middle of network and container churn: after restart the kernel matches the store" {
  # Networks and containers made and removed as fast as the API goes, killed at a random point.
  (
    for i in $(seq 1 40); do
      docker network create "churn$i" >/dev/null 2>&1 || true
      docker run -d -it --name "ch$i" --net "churn$i" -p "$((7000 + i)):80" busybox >/dev/null 2>&1 || true
      docker rm -f "ch$((i - 1))" >/dev/null 2>&1 || true
      docker network rm "churn$((i - 1))" >/dev/null 2>&1 || true
    done
  ) 3>&- &
  local churn=$!
  sleep "0.$((RANDOM % 9 + 1))"
  berth_kill_daemon
  wait "$churn" 2>/dev/null || true
  berth_start_daemon
  # Every bridge is a network's, every veth a running container's, every published port a
  # running container's.
  local nets=$(docker network ls -q --no-trunc | cut -c1-12)
  for br in $(in_ns ip -o link show type bridge | awk -F': ' '{print $2}' | cut -d@ -f1); do
    [ "$br" = berth0 ] && continue
    [[ "$nets" == *"${br#br-}"* ]]
  done
  local running=$(docker ps -q | wc -l)
  berth_wait_veths "$running"
  [ "$(ls "$BT_DIR/exec/netns" | wc -l)" -eq "$running" ]
  local ports=$(in_ns nft -j list map inet berth published_any | jq '[.nftables[] | select(.map) | .map.elem // [] | length] | add')
  [ "$ports" -eq "$(docker ps --format '{{.Ports}}' | grep -c '\->')" ]
  # No shim outlives its container: one per running container (a shim that lost its container's
  # row in the crash is told to stop it and finish).
  local shims=0
  for _ in $(seq 1 100); do
    shims=$(pgrep -fc -- "--state-dir $BT_DIR/exec/c/" || true)
    [ "$shims" -eq "$running" ] && break
    sleep 0.02
  done
  [ "$shims" -eq "$running" ]
  # And the survivors still work: each running container answers on its network.
  for c in $(docker ps --format '{{.Names}}'); do
    run docker exec "$c" ping -c 1 -W 2 "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}' "$c")"
    [ "$status" -eq 0 ]
  done
  docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  docker network prune -f >/dev/null
  berth_wait_veths 0
  berth_wait_bridges_reaped
  [ "$(in_ns ip -o link show type bridge | grep -vc berth0)" -eq 0 ]
}

@test "berthd --iptables=false leaves nftables alone" {
  berth_stop_daemon
  in_ns nft delete table inet berth
  BERTH_DAEMON_FLAGS=--iptables=false berth_start_daemon
  docker run -d --name noipt -p 8090:80 web
  [ -z "$(in_ns nft list tables)" ]
  docker rm -f noipt
  berth_stop_daemon
  berth_start_daemon
  run in_ns nft list table inet berth
  [ "$status" -eq 0 ]
}

@test "eBPF NAT: a connection from another host lives across kill -9; --iptables=false removes the programs" {
  local ext="$BT_NS-ext"
  berth_ext_ns btxr 10.202.0.1 10.202.0.2
  # The container answers a line, then says "late" on its own once told to (after the restart):
  # the new berthd's reply program must know the flow the old one's saw.
  docker run -d --name rnat -p 8089:7 busybox \
    nc -l -p 7 -e sh -c 'read x; echo "$x"; while [ ! -e /tmp/go ]; do sleep 0.1; done; echo late'
  nsenter --net="/run/netns/$ext" python3 -c 'import socket, time
for _ in range(100):  # (nc may not listen yet on a loaded machine)
    try:
        s = socket.create_connection(("10.202.0.1", 8089), timeout=20)
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
s.sendall(b"before\n")
f = s.makefile()
print(f.readline().strip(), flush=True)
print(f.readline().strip(), flush=True)' > "$BT_DIR/nat.out" 2>&1 &
  local client=$!
  # The connection is up and has been answered before berthd goes.
  for _ in $(seq 1 200); do
    grep -q before "$BT_DIR/nat.out" && break
    sleep 0.05
  done
  run cat "$BT_DIR/nat.out"
  [ "$output" = "before" ]
  local before=$(in_ns tc filter show dev btxr ingress | grep -o "id [0-9]*")
  berth_kill_daemon
  berth_start_daemon
  # The new berthd's own program is on the uplink now.
  local after=$(in_ns tc filter show dev btxr ingress | grep -o "id [0-9]*")
  echo "program before: $before, after: $after"
  [ -n "$after" ] && [ "$after" != "$before" ]
  docker exec rnat touch /tmp/go
  wait "$client"
  run cat "$BT_DIR/nat.out"
  echo "$output"
  [ "$output" = "$(printf 'before\nlate')" ]
  # Carried by the programs both times: berthd's conntrack never saw the flow.
  run in_ns grep -c " dport=8089 " /proc/net/nf_conntrack
  [ "$output" = 0 ]
  docker rm -f rnat
  # berthd --iptables=false removes them; a normal start puts them back.
  berth_stop_daemon
  BERTH_DAEMON_FLAGS=--iptables=false berth_start_daemon
  run in_ns tc filter show dev btxr ingress
  [[ "$output" != *berth_nat_in* ]]
  berth_stop_daemon
  berth_start_daemon
  run in_ns tc filter show dev btxr ingress
  [[ "$output" == *berth_nat_in* ]]
  ip netns del "$ext"
}

# The host-side veth of a container's eth0 (its iflink is that veth's index in berthd's namespace).
host_veth() {
  local idx
  idx=$(docker exec "$1" cat /sys/class/net/eth0/iflink)
  in_ns ip -o link | awk -F': ' -v i="$idx" '$1 == i { split($2, n, "@"); print n[1] }'
}

@test "same-bridge shortcut: on by default, off by option, taken over by a restarted berthd" {
  docker network create --subnet 10.231.0.0/24 snet
  docker network create --subnet 10.232.0.0/24 -o berth.bridge.redirect=false pnet
  docker run -d -it --name sa --net snet busybox
  docker run -d -it --name sb --net snet --ip 10.231.0.3 busybox
  docker network create --subnet 10.233.0.0/24 -o com.docker.network.bridge.enable_icc=false inet
  docker run -d -it --name pa --net pnet busybox
  docker run -d -it --name ia --net inet busybox
  run in_ns tc filter show dev "$(host_veth sa)" ingress
  [[ "$output" == *berth_peer* ]]
  run in_ns tc filter show dev "$(host_veth pa)" ingress
  [[ "$output" != *berth_peer* ]]
  run in_ns tc filter show dev "$(host_veth ia)" ingress
  [[ "$output" != *berth_peer* ]]
  run docker network create -o berth.bridge.redirect=yes badnet
  [ "$status" -ne 0 ]
  [[ "$output" == *'invalid berth.bridge.redirect "yes": want true or false'* ]]
  run docker network inspect badnet
  [ "$status" -ne 0 ]
  docker exec sa ping -c 1 -W 2 10.231.0.3
  docker exec sb ping -c 1 -W 2 sa
  # After a kill -9 the new berthd's program and map take over every endpoint: sb leaves, and sc,
  # given sb's address (so its MAC too), is reached at once; a stale entry would drop sa's frames.
  berth_kill_daemon
  berth_start_daemon
  docker rm -f sb
  docker run -d -it --name sc --net snet --ip 10.231.0.3 busybox
  docker exec sa ping -c 1 -W 2 10.231.0.3
  run in_ns tc filter show dev "$(host_veth sc)" ingress
  [[ "$output" == *berth_peer* ]]
  docker rm -f sa sc pa ia
  docker network rm snet pnet inet
}
