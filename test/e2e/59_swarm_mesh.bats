#!/usr/bin/env bats
# Swarm mode, the routing mesh and service discovery (issue 12): a real three-node swarm in a
# `berth lab` (1 manager, 2 workers) through the official docker CLI. The tutorial's published
# service answers on every node, from outside the cluster (the host, which is on the lab's
# underlay) and from a node itself, balanced across its tasks; the source address a task sees on
# each path; service VIPs and dnsrr on an overlay; --publish mode=host; port conflicts; and
# nothing left behind once the services and the swarm are gone.
#
# The image, tagged nginx as in the tutorial, is busybox httpd with a CGI script that answers
# "<hostname> <client address>", so each answer says which task it came from and whom it saw.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  lab_up mesh --workers 2
  lab_import_busybox
  local root="$LAB_TMP/rootfs"
  mkdir -p "$root/var/www/cgi-bin"
  printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$(hostname) $REMOTE_ADDR"\n' \
    > "$root/var/www/cgi-bin/who"
  chmod +x "$root/var/www/cgi-bin/who"
  tar -C "$root" -cf "$LAB_TMP/web.tar" .
  for n in $(lab_nodes); do
    lab_docker "$n" import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' \
      "$LAB_TMP/web.tar" nginx:latest >/dev/null
  done
  lab_docker m1 swarm init --advertise-addr "$(lab_ip m1)" --dispatcher-heartbeat 1s >/dev/null
  token=$(lab_docker m1 swarm join-token -q worker)
  for n in w1 w2; do lab_docker "$n" swarm join --token "$token" "$(lab_ip m1):2377" >/dev/null; done
}

teardown_file() { [ -n "${BT_KEEP_LAB:-}" ] || lab_teardown; }  # BT_KEEP_LAB=1: left for a look

m1() { lab_docker m1 "$@"; }
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
running_is() {
  [ "$(m1 service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$2" ]
}
# GET http://HOST:PORT/cgi-bin/who from the host (outside the cluster): "<hostname> <client>"
# (httpd listens on IPv6 too: the client's IPv4 address comes as [::ffff:a.b.c.d]). curl, as
# busybox's wget crashes here when given -T.
who() {
  local out
  out=$(curl -sSf -m 3 "http://$1/cgi-bin/who") || return 1
  sed 's/\[::ffff:\(.*\)\]/\1/' <<<"$out"
}
# The same from inside node NODE's own namespace.
who_from_node() { nsenter --net="/run/netns/$LAB_NAME-$1" curl -sSf -m 3 "http://$2/cgi-bin/who"; }
# The node a task container (by its hostname, the container's short id) runs on.
node_of() {
  local n
  for n in $(lab_nodes); do
    lab_docker "$n" ps -q --no-trunc | grep -q "^$1" && { echo "$n"; return 0; }
  done
  return 1
}
mesh_tables() { nsenter --net="/run/netns/$LAB_NAME-$1" nft list tables 2>/dev/null | grep -c 'berth-mesh' || true; }

@test "the tutorial: a published service answers on every node, balanced across its tasks" {
  run m1 service create --name web --publish published=8080,target=80 --replicas 2 nginx
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 running_is web 2
  # Docker's shapes: the port and a VIP on the ingress network.
  run m1 service inspect web --format '{{range .Endpoint.Ports}}{{.Protocol}} {{.PublishedPort}} {{.TargetPort}} {{.PublishMode}}{{end}}'
  [ "$output" = "tcp 8080 80 ingress" ] || { echo "$output"; false; }
  ingress_id=$(m1 network inspect ingress --format '{{.Id}}')
  run m1 service inspect web --format '{{range .Endpoint.VirtualIPs}}{{.NetworkID}} {{.Addr}}{{end}}'
  [[ "$output" == "$ingress_id 10.0.0."*"/24" ]] || { echo "$output"; false; }
  # Its tasks are on the ingress network.
  run m1 inspect --format '{{range .NetworksAttachments}}{{.Network.Spec.Name}} {{end}}' \
    $(m1 service ps web -q --filter desired-state=running | head -1)
  [[ "$output" == *ingress* ]] || { echo "$output"; false; }
  # Every node answers, the one without a task too.
  for n in $(lab_nodes); do
    wait_for 15 who "$(lab_ip "$n"):8080"
    run who "$(lab_ip "$n"):8080"
    [ "$status" -eq 0 ] || { echo "node $n: $output"; false; }
  done
  # 300 requests to one node reach both tasks, neither starved.
  for _ in $(seq 1 300); do who "$(lab_ip w2):8080" | awk '{print $1}'; done | sort | uniq -c > "$LAB_TMP/spread"
  echo "# 300 requests through w2: $(awk '{printf "%s%s", sep, $1; sep=" / "}' "$LAB_TMP/spread")" >&3
  [ "$(wc -l < "$LAB_TMP/spread")" = 2 ]
  [ "$(awk '{s += $1} END {print s}' "$LAB_TMP/spread")" = 300 ]
  awk '$1 < 60 {exit 1}' "$LAB_TMP/spread"
}

@test "source addresses: a local task sees the client; a remote one sees the receiving node's ingress address" {
  local host="$LAB_NET.1" local_seen=0 remote_seen=0 ans name addr n
  for n in $(lab_nodes); do
    for _ in $(seq 1 12); do
      ans=$(who "$(lab_ip "$n"):8080") || { echo "node $n: no answer"; false; }
      name=${ans% *} addr=${ans#* }
      if [ "$(node_of "$name")" = "$n" ]; then
        [ "$addr" = "$host" ] || { echo "local task on $n saw $addr, not $host"; false; }
        local_seen=1
      else
        [[ "$addr" == 10.0.0.* ]] || { echo "remote task for $n saw $addr"; false; }
        remote_seen=1
      fi
    done
  done
  [ "$local_seen" = 1 ] && [ "$remote_seen" = 1 ]
}

@test "a published port answers from the node itself, on its addresses and on localhost" {
  for n in $(lab_nodes); do
    run who_from_node "$n" "127.0.0.1:8080"
    [ "$status" -eq 0 ] || { echo "node $n localhost: $output"; false; }
    run who_from_node "$n" "$(lab_ip "$n"):8080"
    [ "$status" -eq 0 ] || { echo "node $n own address: $output"; false; }
  done
}

@test "port conflicts: another service and a plain container are refused the mesh's port" {
  run m1 service create --name web2 --publish published=8080,target=80 nginx
  [ "$status" -ne 0 ]
  [[ "$output" == *"port '8080' is already in use by service 'web'"* ]] || { echo "$output"; false; }
  run m1 service ls --filter name=web2 -q
  [ -z "$output" ]
  run lab_docker w1 run -d --name clash -p 8080:80 nginx
  [ "$status" -ne 0 ]
  [[ "$output" == *"8080"*"already allocated"* ]] || { echo "$output"; false; }
  run lab_docker w1 ps -aq --filter name=clash
  [ -z "$output" ]
}

@test "scaling changes the mesh's backends: every task answers, none that left" {
  run m1 service scale web=3 -d
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 running_is web 3
  seen() { for _ in $(seq 1 60); do who "$(lab_ip m1):8080" | awk '{print $1}'; done | sort -u | wc -l; }
  three() { [ "$(seen)" = 3 ]; }
  wait_for 10 three
  run m1 service scale web=1 -d
  wait_for 30 running_is web 1
  one() { [ "$(seen)" = 1 ]; }
  wait_for 10 one
}

@test "a rolling update under a steady client load: requests keep being answered" {
  # 2 tasks, replaced one at a time; a client sends requests one after another through w1 all
  # along. A task leaves the mesh's maps when the managers want it stopped, before its container
  # is stopped; what may still fail is a request caught in the moment between.
  run m1 service scale web=2 -d
  wait_for 30 running_is web 2
  rm -f "$LAB_TMP/stop"
  ( while [ ! -f "$LAB_TMP/stop" ]; do
      if who "$(lab_ip w1):8080" >/dev/null 2>&1; then echo ok; else echo fail; fi
    done > "$LAB_TMP/load" ) 3>&- &
  load=$!
  run m1 service update --force --update-parallelism 1 --update-delay 0s -d web
  [ "$status" -eq 0 ] || { touch "$LAB_TMP/stop"; echo "$output"; false; }
  completed() { [ "$(m1 service inspect web --format '{{.UpdateStatus.State}}')" = completed ]; }
  wait_for 60 completed || { touch "$LAB_TMP/stop"; false; }
  touch "$LAB_TMP/stop"
  wait "$load"
  ok=$(grep -c '^ok' "$LAB_TMP/load" || true)
  failed=$(grep -c '^fail' "$LAB_TMP/load" || true)
  echo "# under the rolling update: $ok requests answered, $failed failed" >&3
  [ "$ok" -ge 20 ]
  # None failed in the runs since the overlay's bridge stopped learning MACs on its VXLAN port
  # (before, a reused address was cut off for seconds: up to 18 % failed on a loaded machine). A
  # request caught between a task leaving the maps and its container stopping may still fail:
  # more than 5 % is a regression.
  [ "$((failed * 20))" -le "$((ok + failed))" ] || { echo "$failed of $((ok + failed)) failed"; false; }
}

@test "service discovery on an overlay: a VIP balancing inside containers, dnsrr, tasks.<service>" {
  run m1 network create -d overlay --attachable appnet
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run m1 service create --name vipweb --network appnet --replicas 2 nginx
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run m1 service create --name rrweb --network appnet --endpoint-mode dnsrr --replicas 2 nginx
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 running_is vipweb 2
  wait_for 30 running_is rrweb 2
  net_id=$(m1 network inspect appnet --format '{{.Id}}')
  vip=$(m1 service inspect vipweb --format '{{range .Endpoint.VirtualIPs}}{{if eq .NetworkID "'"$net_id"'"}}{{.Addr}}{{end}}{{end}}')
  vip=${vip%/*}
  [[ "$vip" == 10.0.* ]] || { echo "vip: $vip"; false; }
  run m1 service inspect rrweb --format '{{len .Endpoint.VirtualIPs}}'
  [ "$output" = 0 ] || { echo "$output"; false; }
  run lab_docker w2 run -dit --name client --network appnet busybox
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  cli() { lab_docker w2 exec client "$@"; }
  # The service's name is its VIP; tasks.<service> and a dnsrr name are the tasks' addresses.
  wait_for 10 cli nslookup vipweb
  run cli nslookup vipweb
  [[ "$output" == *"Address: $vip"* ]] || { echo "$output"; false; }
  [ "$(grep -c 'Address: ' <<<"$output")" -le 2 ]
  run cli nslookup tasks.vipweb
  [ "$(grep -c 'Address: 10\.' <<<"$output")" = 2 ] || { echo "$output"; false; }
  [[ "$output" != *"Address: $vip"* ]]
  run cli nslookup rrweb
  [ "$(grep -c 'Address: 10\.' <<<"$output")" = 2 ] || { echo "$output"; false; }
  # The VIP balances across both tasks from inside the client's namespace.
  for _ in $(seq 1 40); do cli timeout 5 wget -q -O - http://vipweb/cgi-bin/who | awk '{print $1}'; done | sort -u > "$LAB_TMP/vipspread"
  cat "$LAB_TMP/vipspread"
  [ "$(wc -l < "$LAB_TMP/vipspread")" = 2 ]
  run lab_docker w2 rm -f client
  run m1 service rm vipweb rrweb
  [ "$status" -eq 0 ] || { echo "$output"; false; }
}

@test "--publish mode=host binds on the nodes that run a task only" {
  run m1 service create --name hostweb --publish mode=host,published=8081,target=80 --constraint node.hostname==w1 nginx
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 running_is hostweb 1
  wait_for 10 who "$(lab_ip w1):8081"
  run who "$(lab_ip w2):8081"
  [ "$status" -ne 0 ]
  run m1 service rm hostweb
}

@test "a node cut: its tasks leave every node's balancing once it is Down" {
  run m1 service create --name gweb --mode global --publish published=8082,target=80 -d nginx
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 running_is gweb 3
  lab cut w2
  down() { [ "$(m1 node inspect w2 --format '{{.Status.State}}')" = down ]; }
  wait_for 15 down
  # From then on every request through m1 is answered (none goes to w2's task any more).
  all_ok() { for _ in $(seq 1 30); do who "$(lab_ip m1):8082" >/dev/null || return 1; done; }
  wait_for 5 all_ok
  lab heal w2
  ready() { [ "$(m1 node inspect w2 --format '{{.Status.State}}')" = ready ]; }
  wait_for 15 ready
  run m1 service rm gweb
}

@test "service rm and swarm leave leave no mesh table, ingress endpoint or overlay behind" {
  lab_docker w2 rm -f client >/dev/null 2>&1 || true  # an earlier test's, had it failed
  m1 service rm vipweb rrweb hostweb gweb >/dev/null 2>&1 || true
  run m1 service rm web
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  gone() { ! who "$(lab_ip w1):8080"; }
  wait_for 15 gone
  run m1 network rm appnet
  for n in w1 w2; do lab_docker "$n" swarm leave >/dev/null; done
  m1 swarm leave --force >/dev/null
  for n in $(lab_nodes); do
    [ "$(mesh_tables "$n")" = 0 ] || { echo "node $n keeps a mesh table"; false; }
    run nsenter --net="/run/netns/$LAB_NAME-$n" ip -o link show
    [[ "$output" != *ingress* ]] || { echo "node $n: $output"; false; }
    run ls /run/berth-lab/"$LAB_NAME"/"$n"/netns
    [[ "$output" != *ov-* ]] || { echo "node $n: $output"; false; }
  done
}
