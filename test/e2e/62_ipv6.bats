#!/usr/bin/env bats
# IPv6 on bridge networks: dual-stack user networks (IPAM, inspect, --ip6), the embedded DNS's
# AAAA answers, ping over IPv6 by name, ports published over IPv6 to a client in another
# namespace, IPv6 disabled on IPv4-only networks, recovery after kill -9, and the default bridge
# with --ipv6 --fixed-cidr-v6. berthd runs in its own namespace (bt-e2e-*); the client namespace
# (bt-c6-*) is made and removed here.

load helpers

setup_file() {
  berth_setup_daemon
  docker import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' "$BT_DIR/busybox.tar" web >/dev/null
}
teardown_file() {
  ip netns del "bt-c6-$$" 2>/dev/null || true
  berth_teardown_daemon
}
teardown() {
  docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  for n in $(docker network ls -q --filter type=custom); do docker network rm "$n" >/dev/null 2>&1 || true; done
}

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }

@test "dual-stack network: EnableIPv6 and both IPAM configs in Docker's shapes, ::1 gateway on the bridge" {
  docker network create --ipv6 --subnet 172.30.0.0/24 --subnet fd00:30::/64 n6
  run docker network inspect -f '{{.EnableIPv6}}|{{json .IPAM.Config}}' n6
  [ "$output" = 'true|[{"Subnet":"172.30.0.0/24","Gateway":"172.30.0.1"},{"Subnet":"fd00:30::/64","Gateway":"fd00:30::1"}]' ]
  run berth network inspect -f '{{.EnableIPv6}}' n6
  [ "$output" = true ]
  local id=$(docker network inspect -f '{{.Id}}' n6)
  run in_ns ip -o -6 addr show "br-${id:0:12}"
  [[ "$output" == *"fd00:30::1/64"* ]]
  [ "$(in_ns cat /proc/sys/net/ipv6/conf/all/forwarding)" = 1 ]
  # --gateway and --ip-range per subnet.
  docker network create --ipv6 --subnet 172.31.0.0/24 --gateway 172.31.0.254 --subnet fd00:31::/64 \
    --gateway fd00:31::fe --ip-range fd00:31::100/120 n6b
  run docker network inspect -f '{{json .IPAM.Config}}' n6b
  [ "$output" = '[{"Subnet":"172.31.0.0/24","Gateway":"172.31.0.254"},{"Subnet":"fd00:31::/64","IPRange":"fd00:31::100/120","Gateway":"fd00:31::fe"}]' ]
  docker run -d -it --name r1 --net n6b busybox
  run docker inspect -f '{{.NetworkSettings.Networks.n6b.GlobalIPv6Address}} {{.NetworkSettings.Networks.n6b.IPv6Gateway}}' r1
  [ "$output" = "fd00:31::100 fd00:31::fe" ]
}

@test "IPv6 errors: Docker's messages, nothing created" {
  run docker network create --ipv6 nov6subnet
  [ "$status" -ne 0 ]
  [[ "$output" == *"could not find an available, non-overlapping IPv6 address pool among the defaults to assign to the network"* ]]
  run docker network create --subnet fd00:40::/64 noflag
  [ "$status" -ne 0 ]
  [[ "$output" == *"IPv6 is not enabled"* ]]
  run docker network create --ipv6 --subnet fd00:41::/64 --gateway fd00:42::1 gwout6
  [[ "$output" == *"no matching subnet for gateway fd00:42::1"* ]]
  docker network create --ipv6 --subnet fd00:43::/64 first6
  run docker network create --ipv6 --subnet fd00:43::/80 overlap6
  [[ "$output" == *"Pool overlaps with other one on this address space"* ]]
  docker network create v4only
  run docker run -d --net v4only --ip6 fd00:43::5 busybox
  [ "$status" -ne 0 ]
  [[ "$output" == *"Invalid address fd00:43::5: It does not belong to any of this network's subnets"* ]]
  run docker run -d --net first6 --ip6 fd00:44::5 busybox
  [[ "$output" == *"Invalid address fd00:44::5: It does not belong to any of this network's subnets"* ]]
  run docker run -d --ip6 fd00:43::5 busybox
  [[ "$output" == *"user specified IP address is supported on user defined networks only"* ]]
  [ -z "$(docker ps -aq)" ]
  run docker network ls --format '{{.Name}}'
  [[ "$output" != *nov6subnet* && "$output" != *noflag* && "$output" != *gwout6* && "$output" != *overlap6* ]]
}

@test "two containers ping each other over IPv6 by name; inspect shows the IPv6 fields; --ip6" {
  docker network create --ipv6 --subnet 172.30.0.0/24 --subnet fd00:30::/64 n6
  docker run -d -it --name a6 --net n6 busybox
  docker run -d -it --name b6 --net n6 --ip6 fd00:30::77 busybox
  run docker inspect -f '{{with index .NetworkSettings.Networks "n6"}}{{.IPAddress}} {{.GlobalIPv6Address}}/{{.GlobalIPv6PrefixLen}} {{.IPv6Gateway}}{{end}}' a6
  [ "$output" = "172.30.0.2 fd00:30::2/64 fd00:30::1" ]
  run docker inspect -f '{{(index .NetworkSettings.Networks "n6").GlobalIPv6Address}} {{json (index .NetworkSettings.Networks "n6").IPAMConfig}}' b6
  [ "$output" = 'fd00:30::77 {"IPv6Address":"fd00:30::77"}' ]
  run berth inspect -f '{{(index .NetworkSettings.Networks "n6").GlobalIPv6Address}}' b6
  [ "$output" = fd00:30::77 ]
  run docker network inspect -f '{{range .Containers}}{{.Name}}={{.IPv6Address}} {{end}}' n6
  [[ "$output" == *"a6=fd00:30::2/64"* && "$output" == *"b6=fd00:30::77/64"* ]]
  # Inside: the address (not tentative: DAD is off) and the IPv6 default route via ::1.
  run docker exec a6 ip -6 addr show dev eth0
  [[ "$output" == *"inet6 fd00:30::2/64"* ]]
  run docker exec a6 sh -c 'ip -6 addr show dev eth0 | grep -A1 "inet6 fd00:30::2/"'
  [[ "$output" != *tentative* ]]
  run docker exec a6 ip -6 route
  [[ "$output" == *"default via fd00:30::1 dev eth0"* ]]
  [ "$(docker exec a6 cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6)" = 0 ]
  # By name, both ways, over IPv6; A answers still work.
  run docker exec a6 ping -6 -c 1 -W 3 b6
  [ "$status" -eq 0 ]
  [[ "$output" == *"fd00:30::77"* ]]
  run docker exec b6 ping -6 -c 1 -W 3 a6
  [ "$status" -eq 0 ]
  [[ "$output" == *"fd00:30::2"* ]]
  run docker exec b6 ping -4 -c 1 -W 3 a6
  [ "$status" -eq 0 ]
  [[ "$output" == *"172.30.0.2"* ]]
  run docker exec a6 nslookup -type=AAAA b6 127.0.0.11
  [[ "$output" == *"fd00:30::77"* ]]
  # /etc/hosts names the container's IPv6 address too.
  run docker exec a6 cat /etc/hosts
  [[ "$output" == *"fd00:30::2"* ]]
  # --ip6 of an address in use: Docker's error.
  run docker run -d --net n6 --ip6 fd00:30::77 busybox
  [ "$status" -ne 0 ]
  [[ "$output" == *"Address already in use"* ]]
  # network connect --ip6 to a running container, and the address is free again after disconnect.
  docker network create --ipv6 --subnet 172.29.0.0/24 --subnet fd00:29::/64 n6c
  docker network connect --ip6 fd00:29::29 n6c a6
  run docker exec a6 ip -6 addr show dev eth1
  [[ "$output" == *"fd00:29::29/64"* ]]
  docker network disconnect n6c a6
  docker run -d -it --name c6 --net n6c --ip6 fd00:29::29 busybox
  run docker inspect -f '{{(index .NetworkSettings.Networks "n6c").GlobalIPv6Address}}' c6
  [ "$output" = fd00:29::29 ]
  # berth's own CLI: the same network and --ip6.
  berth network create --ipv6 --subnet 172.28.0.0/24 --subnet fd00:28::/64 --gateway fd00:28::fe n6berth
  run docker network inspect -f '{{.EnableIPv6}} {{json .IPAM.Config}}' n6berth
  [ "$output" = 'true [{"Subnet":"172.28.0.0/24","Gateway":"172.28.0.1"},{"Subnet":"fd00:28::/64","Gateway":"fd00:28::fe"}]' ]
  run berth network inspect -f '{{.EnableIPv6}} {{range .IPAM.Config}}{{.Gateway}} {{end}}' n6berth
  [ "$output" = 'true 172.28.0.1 fd00:28::fe ' ]
  berth run -d -it --name e6 --net n6berth --ip6 fd00:28::28 busybox
  run berth exec e6 ping -6 -c 1 -W 3 fd00:28::fe
  [ "$status" -eq 0 ]
}

@test "an IPv4-only network: IPv6 disabled on eth0, AAAA of a peer is empty" {
  docker network create v4net
  docker run -d -it --name p4 --net v4net busybox
  docker run -d -it --name q4 --net v4net busybox
  [ "$(docker exec p4 cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6)" = 1 ]
  run docker inspect -f '{{.NetworkSettings.Networks.v4net.GlobalIPv6Address}}|{{.NetworkSettings.Networks.v4net.IPv6Gateway}}' p4
  [ "$output" = "|" ]
  run docker network inspect -f '{{.EnableIPv6}}' v4net
  [ "$output" = false ]
  # Only the server's own Address line: no AAAA record in the answer.
  run docker exec p4 nslookup -type=AAAA q4 127.0.0.11
  [ "$(echo "$output" | grep -c '^Address')" -eq 1 ]
  [[ "$output" != *fd00* ]]
  run docker exec p4 ping -c 1 -W 3 q4
  [ "$status" -eq 0 ]
}

@test "a port published on a dual-stack network answers over IPv6 from another namespace" {
  docker network create --ipv6 --subnet 172.30.0.0/24 --subnet fd00:30::/64 n6
  docker run -d --name w6 --net n6 -p 8086:80 web
  # A client namespace linked to the daemon's by a veth carrying IPv6 addresses.
  local client="bt-c6-$$"
  ip netns add "$client"
  ip -n "$client" link set lo up
  ip link add bt6c$$ netns "$client" type veth peer name bt6d$$ netns "$BT_NS"
  ip -n "$client" addr add fd00:99::2/64 dev bt6c$$ nodad
  ip -n "$BT_NS" addr add fd00:99::1/64 dev bt6d$$ nodad
  ip -n "$client" link set bt6c$$ up
  ip -n "$BT_NS" link set bt6d$$ up
  run docker port w6 80
  [[ "$output" == *"0.0.0.0:8086"* ]]
  [[ "$output" == *":::8086"* || "$output" == *"[::]:8086"* ]]
  run nsenter --net="/run/netns/$client" curl -s -g --max-time 5 "http://[fd00:99::1]:8086/"
  [[ "$output" == *"<h1>berth</h1>"* ]]
  # The nft table holds the IPv6 mapping as one element of its own map.
  run in_ns nft list map inet berth published_any6
  [[ "$output" == *"tcp . 8086 : fd00:30::2 . 80"* ]]
  # And the container reaches the outside over IPv6, masqueraded to the host's address.
  run docker exec w6 ping -6 -c 1 -W 3 fd00:99::2
  [ "$status" -eq 0 ]
  run in_ns nft list set inet berth masquerade_subnets6
  [[ "$output" == *"fd00:30::/64"* ]]
  docker rm -f w6
  run in_ns nft list map inet berth published_any6
  [[ "$output" != *8086* ]]
  ip netns del "$client"
}

@test "IPv6 addresses are taken again after berthd is killed" {
  docker network create --ipv6 --subnet 172.30.0.0/24 --subnet fd00:30::/64 n6
  docker run -d -it --name k6 --net n6 busybox
  berth_kill_daemon
  berth_start_daemon
  run docker inspect -f '{{(index .NetworkSettings.Networks "n6").GlobalIPv6Address}}' k6
  [ "$output" = fd00:30::2 ]
  docker run -d -it --name k7 --net n6 busybox
  run docker inspect -f '{{(index .NetworkSettings.Networks "n6").GlobalIPv6Address}}' k7
  [ "$output" = fd00:30::3 ]
  run docker exec k7 ping -6 -c 1 -W 3 k6
  [ "$status" -eq 0 ]
}

@test "the default bridge with --ipv6 --fixed-cidr-v6" {
  berth_stop_daemon
  BERTH_DAEMON_FLAGS="--ipv6 --fixed-cidr-v6 fd00:17::/64" berth_start_daemon
  run docker network inspect -f '{{.EnableIPv6}}|{{json .IPAM.Config}}' bridge
  [ "$output" = 'true|[{"Subnet":"172.17.0.0/16"},{"Subnet":"fd00:17::/64"}]' ]
  docker run -d -it --name d1 busybox
  docker run -d -it --name d2 busybox
  run docker inspect -f '{{.NetworkSettings.GlobalIPv6Address}}/{{.NetworkSettings.GlobalIPv6PrefixLen}} {{.NetworkSettings.IPv6Gateway}}' d1
  [ "$output" = "fd00:17::2/64 fd00:17::1" ]
  run docker exec d2 ping -6 -c 1 -W 3 fd00:17::2
  [ "$status" -eq 0 ]
  run in_ns ip -o -6 addr show berth0
  [[ "$output" == *"fd00:17::1/64"* ]]
  docker rm -f d1 d2
  # --ipv6 alone: no default IPv6 pool, as dockerd 20.10; berthd does not start.
  berth_stop_daemon
  run nsenter --net="/run/netns/$BT_NS" "$BIN/berthd" --ipv6 -H "unix://$BT_DIR/other.sock" \
    --data-root "$BT_DIR/data" --exec-root "$BT_DIR/exec"
  [ "$status" -ne 0 ]
  [[ "$output" == *"could not find an available, non-overlapping IPv6 address pool"* ]]
  # And back to IPv4 only: the default bridge follows the configuration of each start.
  berth_start_daemon
  run docker network inspect -f '{{.EnableIPv6}}' bridge
  [ "$output" = false ]
}
