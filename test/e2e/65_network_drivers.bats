#!/usr/bin/env bats
# The network drivers and options beyond the tutorial's happy path, checked with real traffic
# from another "host": a namespace bt-e2e-x-* linked to the daemon's namespace by a veth pair
# (10.250.0.1 on the daemon's side, 10.250.0.2 outside, and no route back to the bridges: only
# masqueraded traffic gets answers). macvlan uses a veth bt-mv0 in the daemon's namespace as its
# parent, whose peer is a third namespace bt-e2e-w-* (a host on the same wire, 10.251.0.254).

load helpers

setup_file() {
  berth_setup_daemon
  docker import -c 'CMD ["httpd", "-f", "-v", "-p", "80", "-h", "/var/www"]' "$BT_DIR/busybox.tar" web >/dev/null
  export BT_X="bt-e2e-x-$$" BT_W="bt-e2e-w-$$"
  ip netns add "$BT_X"
  ip netns add "$BT_W"
  ip -n "$BT_X" link set lo up
  ip -n "$BT_W" link set lo up
  ip -n "$BT_NS" link add bt-x0 type veth peer name bt-x1 netns "$BT_X"
  ip -n "$BT_NS" addr add 10.250.0.1/24 dev bt-x0
  ip -n "$BT_NS" link set bt-x0 up
  ip -n "$BT_X" addr add 10.250.0.2/24 dev bt-x1
  ip -n "$BT_X" link set bt-x1 up
  ip -n "$BT_NS" link add bt-mv0 type veth peer name bt-mv1 netns "$BT_W"
  ip -n "$BT_NS" addr add 10.251.0.253/24 dev bt-mv0
  ip -n "$BT_NS" link set bt-mv0 up
  ip -n "$BT_W" addr add 10.251.0.254/24 dev bt-mv1
  ip -n "$BT_W" link set bt-mv1 up
}
teardown_file() {
  [ -f "$BT_DIR/dns.pid" ] && kill "$(cat "$BT_DIR/dns.pid")" 2>/dev/null
  berth_teardown_daemon
  ip netns del "$BT_X" 2>/dev/null || true
  ip netns del "$BT_W" 2>/dev/null || true
}
teardown() {
  docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  docker network prune -f >/dev/null 2>&1 || true
}

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }
outside() { nsenter --net="/run/netns/$BT_X" "$@"; }
ip_of() { docker inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"; }
# Runs a command in a container's network namespace with the host's tools (iproute2's ip -d).
in_sandbox() { local c=$1; shift; nsenter --net="$(docker inspect -f '{{.NetworkSettings.SandboxKey}}' "$c")" "$@"; }
# GET with retries for up to 3 s, as a server just started may not listen yet (curl: busybox
# wget -T crashes on this host): WHERE URL.
fetch() {
  local where=$1 url=$2 out
  for _ in $(seq 1 30); do
    out=$($where curl -sf --max-time 2 "$url") && { echo "$out"; return 0; }
    sleep 0.1
  done
  return 1
}

@test "published ports reach other hosts with the client's own source address" {
  docker run -d --name pub -p 8081:80 web
  run fetch outside http://10.250.0.1:8081/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  # No userland proxy: httpd saw the outside host's address, not the bridge's.
  run docker logs pub
  [[ "$output" == *"10.250.0.2"* ]]
  # The containers' own addresses are not reachable from outside, only published ports.
  ip=$(ip_of pub bridge)
  outside ip route add 172.17.0.0/16 via 10.250.0.1
  run outside curl -sf --max-time 2 "http://$ip:80/"
  [ "$status" -ne 0 ]
  outside ip route del 172.17.0.0/16 via 10.250.0.1
}

@test "a port bound to 127.0.0.1 is reachable from this host only" {
  docker run -d --name lo8083 -p 127.0.0.1:8083:80 web
  run fetch in_ns http://127.0.0.1:8083/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  run outside curl -sf --max-time 2 http://10.250.0.1:8083/
  [ "$status" -ne 0 ]
  # The route_localnet attack Docker is open to: another host on the link sends to 127.0.0.1.
  outside sysctl -qw net.ipv4.conf.all.route_localnet=1 net.ipv4.conf.bt-x1.route_localnet=1
  outside ip route del local 127.0.0.0/8 dev lo table local
  outside ip route del local 127.0.0.1 dev lo table local 2>/dev/null || true
  outside ip route add 127.0.0.1/32 via 10.250.0.1 dev bt-x1
  run outside curl -sf --max-time 2 http://127.0.0.1:8083/
  [ "$status" -ne 0 ]
  [[ "$output" != *"<h1>berth</h1>"* ]]
  outside ip route del 127.0.0.1/32 via 10.250.0.1 dev bt-x1
  outside ip route add local 127.0.0.0/8 dev lo table local
}

@test "host_binding_ipv4 is the default address of a network's published ports" {
  docker network create -o com.docker.network.bridge.host_binding_ipv4=10.250.0.1 hb
  docker run -d --name hbweb --net hb -p 8084:80 web
  for cli in $CLIS; do
    run $cli port hbweb 80
    [ "$output" = "10.250.0.1:8084" ]
  done
  run fetch outside http://10.250.0.1:8084/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  run in_ns curl -sf --max-time 2 http://127.0.0.1:8084/
  [ "$status" -ne 0 ]
}

@test "port ranges and UDP: one map element per port, docker port lists them" {
  docker run -d -it --name rng -p 9000-9001:7000-7001 -p 5353:53/udp busybox
  for cli in $CLIS; do
    run $cli port rng
    [[ "$output" == *"7000/tcp -> 0.0.0.0:9000"* ]]
    [[ "$output" == *"7001/tcp -> 0.0.0.0:9001"* ]]
    [[ "$output" == *"53/udp -> 0.0.0.0:5353"* ]]
  done
  run in_ns nft list table inet berth
  [[ "$output" == *"9001"* ]]
  [[ "$output" == *"5353"* ]]
  # TCP through the range's second port.
  docker exec -d rng nc -l -p 7001 -e echo ranged
  sleep 0.2
  run outside busybox nc -w 3 10.250.0.1 9001
  [ "$output" = "ranged" ]
}

@test "masquerade: containers reach other hosts; enable_ip_masquerade=false and --internal do not" {
  docker run -d -it --name out1 busybox
  run docker exec out1 ping -c 1 -W 2 10.250.0.2
  [ "$status" -eq 0 ]
  docker network create -o com.docker.network.bridge.enable_ip_masquerade=false nomasq
  docker run -d -it --name out2 --net nomasq busybox
  run docker exec out2 ping -c 1 -W 1 10.250.0.2
  [ "$status" -ne 0 ]
  for cli in $CLIS; do $cli network create --internal "int-$cli"; done
  docker run -d -it --name out3 --net int-docker busybox
  run docker exec out3 ip route
  [[ "$output" != *default* ]]
  run docker exec out3 ping -c 1 -W 1 10.250.0.2
  [ "$status" -ne 0 ]
  run docker network inspect -f '{{.Internal}}' int-berth
  [ "$output" = "true" ]
}

@test "isolation between bridge networks; enable_icc=false isolates a network's containers" {
  docker network create isoA
  docker network create isoB
  docker run -d -it --name ia --net isoA busybox
  docker run -d -it --name ib --net isoB busybox
  run docker exec ia ping -c 1 -W 1 "$(ip_of ib isoB)"
  [ "$status" -ne 0 ]
  # Connected to both, a container talks to each.
  docker network connect isoB ia
  run docker exec ia ping -c 1 -W 2 ib
  [ "$status" -eq 0 ]
  docker network create -o com.docker.network.bridge.enable_icc=false noicc
  docker run -d -it --name n1 --net noicc busybox
  docker run -d -it --name n2 --net noicc busybox
  run docker exec n1 ping -c 1 -W 1 "$(ip_of n2 noicc)"
  [ "$status" -ne 0 ]
  # The gateway (the host) is still reachable.
  run docker exec n1 ping -c 1 -W 2 "$(docker network inspect -f '{{(index .IPAM.Config 0).Gateway}}' noicc)"
  [ "$status" -eq 0 ]
}

@test "macvlan: containers on the parent's wire, not on the host; modes; Docker's errors" {
  run berth network create -d macvlan --subnet 10.253.0.0/24 -o parent=bt-mv0 mv-berth
  [ "$status" -eq 0 ]
  run berth network inspect -f '{{.Driver}} {{index .Options "parent"}}' mv-berth
  [ "$output" = "macvlan bt-mv0" ]
  docker network rm mv-berth
  docker network create -d macvlan --subnet 10.251.0.0/24 --gateway 10.251.0.1 -o parent=bt-mv0 mv-docker
  docker run -d -it --name m1 --net mv-docker busybox
  docker run -d -it --name m2 --net mv-docker busybox
  run in_sandbox m1 ip -d link show eth0
  [[ "$output" == *"macvlan mode bridge"* ]]
  run docker exec m1 ping -c 1 -W 2 "$(ip_of m2 mv-docker)"
  [ "$status" -eq 0 ]
  run docker exec m1 ping -c 1 -W 2 m2
  [ "$status" -eq 0 ]
  run docker exec m1 ping -c 1 -W 2 10.251.0.254
  [ "$status" -eq 0 ]
  # The host's own address on the parent is unreachable from a macvlan child.
  run docker exec m1 ping -c 1 -W 1 10.251.0.253
  [ "$status" -ne 0 ]
  # No bridge was made for it.
  run in_ns ip -o link show type bridge
  [[ "$output" != *"br-$(docker network inspect -f '{{.Id}}' mv-docker | cut -c1-12)"* ]]
  docker rm -f m1 m2
  docker network rm mv-docker
  docker network create -d macvlan --subnet 10.251.0.0/24 -o parent=bt-mv0 -o macvlan_mode=private mvp
  docker run -d -it --name p1 --net mvp busybox
  docker run -d -it --name p2 --net mvp busybox
  run in_sandbox p1 ip -d link show eth0
  [[ "$output" == *"macvlan mode private"* ]]
  run docker exec p1 ping -c 1 -W 1 "$(ip_of p2 mvp)"
  [ "$status" -ne 0 ]
  # A parent that is a bridge's port is refused (the kernel would take it, and the bridge would
  # swallow the children's frames).
  in_ns ip link add bt-pp0 type veth peer name bt-pp1
  in_ns ip link set bt-pp0 master berth0
  berth_wait_bridges_reaped
  local links=$(in_ns ip -o link | wc -l)
  for cli in $CLIS; do
    run $cli network create -d macvlan --subnet 10.252.0.0/24 -o parent=nosuch0 "bad-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"-o parent interface was not found on the host: nosuch0"* ]]
    run $cli network create -d macvlan --subnet 10.252.0.0/24 -o parent=bt-mv0.10 "vlan-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"802.1Q"* ]]
    run $cli network create -d macvlan --subnet 10.252.0.0/24 -o parent=bt-pp0 "port-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"is a bridge port"* ]]
    run $cli network create -d ipvlan --subnet 10.252.0.0/24 -o parent=bt-mv0 "ipv-$cli"
    [ "$status" -ne 0 ]
  done
  berth_wait_bridges_reaped
  [ "$(in_ns ip -o link | wc -l)" -eq "$links" ]
  in_ns ip link del bt-pp0
  run docker network ls --format '{{.Name}}'
  [[ "$output" != *bad-* ]] && [[ "$output" != *vlan-* ]] && [[ "$output" != *ipv-* ]]
}

@test "run options: --ip, --mac-address, --network-alias, --add-host, --dns-search, --dns-option" {
  docker network create --subnet 10.60.0.0/24 opts
  for cli in $CLIS; do
    local n="o-$cli" ip="10.60.0.1$([ $cli = docker ] && echo 1 || echo 2)" mac
    # docker 28 sends --mac-address per network, which needs API 1.44; this daemon speaks 1.41
    # (as the reference Docker 20.10 did), so only berth passes it (as Config.MacAddress).
    if [ $cli = berth ]; then mac=02:42:0a:3c:00:99; set -- --mac-address "$mac"; else mac=02:42:0a:3c:00:0b; set --; fi
    $cli run -d -it --name "$n" --net opts --ip "$ip" "$@" \
      --network-alias "svc-$cli" --add-host db:10.60.0.200 --add-host gw:host-gateway \
      --dns-search example.test --dns-option attempts:2 busybox
    run $cli inspect -f '{{(index .NetworkSettings.Networks "opts").IPAddress}} {{(index .NetworkSettings.Networks "opts").MacAddress}}' "$n"
    [ "$output" = "$ip $mac" ]
    run $cli exec "$n" ip -o link show eth0
    [[ "$output" == *"$mac"* ]]
    run $cli exec "$n" cat /etc/hosts
    [[ "$output" == *"10.60.0.200	db"* ]]
    [[ "$output" == *"172.17.0.1	gw"* ]]
    run $cli exec "$n" cat /etc/resolv.conf
    [[ "${lines[0]}" == "nameserver 127.0.0.11" ]]
    [[ "$output" == *"search example.test"* ]]
    [[ "$output" == *"options attempts:2 ndots:0"* ]]
    run docker exec o-docker nslookup "svc-$cli"
    [[ "$output" == *"Address: $ip"* ]]
    run docker exec o-docker nslookup "$n.opts"
    [[ "$output" == *"Address: $ip"* ]]
  done
  # Bad values: Docker's messages, nothing created.
  for cli in $CLIS; do
    run $cli run -d --name bad-dns --dns not-an-ip busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"IP address is not correctly formatted: not-an-ip"* ]]
    run $cli run -d --name bad-host --add-host nocolon busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"bad format for add-host"* ]]
    run $cli run -d --name bad-ip --net opts --ip 10.61.0.5 busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"Invalid address 10.61.0.5: It does not belong to any of this network's subnets"* ]]
    run $cli run -d --name bad-net --net nosuchnet busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"network nosuchnet not found"* ]]
  done
  [ -z "$(docker ps -aq --filter name=bad-)" ]
}

@test "--dns: the embedded DNS forwards this container's other names to its own servers" {
  # nsenter execs the server in place, so $! is the server itself (a function here would put a
  # subshell in between, and killing that would leave the server running).
  nsenter --net="/run/netns/$BT_X" /usr/bin/python3 "$BATS_TEST_DIRNAME/tools/dns_upstream.py" \
    10.250.0.2 upstream.test 10.9.8.7 3>&- &
  echo $! > "$BT_DIR/dns.pid"
  docker network create dnsnet
  docker run -d -it --name withdns --net dnsnet --dns 10.250.0.2 busybox
  docker run -d -it --name nodns --net dnsnet busybox
  run docker exec withdns cat /etc/resolv.conf
  [ "${lines[0]}" = "nameserver 127.0.0.11" ]
  local ok=0
  for _ in $(seq 1 20); do
    run docker exec withdns nslookup upstream.test
    [[ "$output" == *"Address: 10.9.8.7"* ]] && { ok=1; break; }
    sleep 0.1
  done
  [ "$ok" = 1 ]
  # Names of the network still come from berthd, not from the container's servers.
  run docker exec withdns nslookup nodns
  [[ "$output" == *"Address: 172."* ]]
  # Another container on the same network forwards to the host's resolvers instead.
  run docker exec nodns nslookup upstream.test
  [[ "$output" != *"10.9.8.7"* ]]
  # On the default bridge --dns goes into resolv.conf itself, as in Docker.
  docker run -d -it --name bdns --dns 10.250.0.2 busybox
  run docker exec bdns cat /etc/resolv.conf
  [ "${lines[0]}" = "nameserver 10.250.0.2" ]
  kill "$(cat "$BT_DIR/dns.pid")"
  rm -f "$BT_DIR/dns.pid"
}

@test "--net container:NAME shares the other container's stack" {
  docker run -d -it --name owner busybox
  for cli in $CLIS; do
    $cli run -d -it --name "guest-$cli" --net container:owner busybox
    run $cli exec "guest-$cli" ip -o -4 addr show eth0
    [[ "$output" == *"$(ip_of owner bridge)/16"* ]]
  done
  run docker run -d --name guestp --net container:owner -p 8085:80 busybox
  [ "$status" -ne 0 ]
  [[ "$output" == *"conflicting options: port publishing and the container type network mode"* ]]
}

@test "network prune removes unused user networks only" {
  docker network create used
  docker network create unused1
  docker network create unused2
  docker run -d -it --name user1 --net used busybox
  local id1=$(docker network inspect -f '{{.Id}}' unused1)
  run docker network prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"unused1"* ]] && [[ "$output" == *"unused2"* ]]
  run docker network ls --format '{{.Name}}'
  [[ "$output" == *used* ]] && [[ "$output" == *bridge* ]] && [[ "$output" == *host* ]] && [[ "$output" == *none* ]]
  [[ "$output" != *unused* ]]
  run in_ns ip link show "br-${id1:0:12}"
  [ "$status" -ne 0 ]
  docker network create unused3
  run berth network prune -f
  [[ "$output" == *"unused3"* ]]
}

@test "com.docker.network.driver.mtu sets the bridge's and every endpoint's MTU; a bad one is refused" {
  for cli in $CLIS; do
    $cli network create -o com.docker.network.driver.mtu=1400 "mtu-$cli"
    $cli run -d -it --name "mt-$cli" --net "mtu-$cli" busybox
    run $cli exec "mt-$cli" cat /sys/class/net/eth0/mtu
    [ "$output" = "1400" ]
    local id=$($cli network inspect -f '{{.Id}}' "mtu-$cli")
    run in_ns ip -o link show "br-${id:0:12}"
    [[ "$output" == *" mtu 1400 "* ]]
    run $cli network create -o com.docker.network.driver.mtu=12 "badmtu-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"invalid MTU"* ]]
  done
  [ -z "$(docker network ls -q --filter name=badmtu)" ]
}
