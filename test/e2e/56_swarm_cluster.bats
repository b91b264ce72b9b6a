#!/usr/bin/env bats
# Swarm mode, the cluster (issue 10): a real three-node swarm in a `berth lab` (1 manager, 2
# workers; namespaces on an underlay bridge, a berthd each, etcd on the manager, mutual TLS on
# 2377), driven through the official docker CLI and berth. Heartbeats every second, so Down comes
# within 3 s.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  lab_up swarm
}

teardown_file() { lab_teardown; }

m1() { lab_docker m1 "$@"; }
w1() { lab_docker w1 "$@"; }
w2() { lab_docker w2 "$@"; }
bm1() { "$BIN/berth" -H "$(lab_sock m1)" "$@"; }
# NODE STATE within SECONDS: waits until `node ls` on m1 shows the node in that state.
wait_state() {
  local node=$1 want=$2 secs=${3:-10}
  for _ in $(seq 1 $((secs * 10))); do
    [ "$(m1 node inspect "$node" --format '{{.Status.State}}' 2>/dev/null)" = "$want" ] && return 0
    sleep 0.1
  done
  echo "$node is $(m1 node inspect "$node" --format '{{.Status.State}}' 2>&1), not $want" >&2
  return 1
}
certs() { echo "/var/lib/berth-lab/$LAB_NAME/$1/swarm/certificates"; }

@test "swarm init: Docker's words, a manager that leads, and init twice is refused" {
  run m1 swarm init --advertise-addr "$(lab_ip m1)" --dispatcher-heartbeat 1s
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "${lines[0]}" == "Swarm initialized: current node ("*") is now a manager." ]]
  [[ "$output" == *"    docker swarm join --token SWMTKN-1-"*" $(lab_ip m1):2377"* ]]
  [[ "$output" == *"To add a manager to this swarm, run 'docker swarm join-token manager' and follow the instructions."* ]]
  run m1 node ls
  [[ "${lines[0]}" == "ID"*"HOSTNAME"*"STATUS"*"AVAILABILITY"*"MANAGER STATUS"*"ENGINE VERSION" ]]
  [[ "${lines[1]}" == *" * "*"m1"*"Ready"*"Active"*"Leader"* ]]
  [ "$(m1 info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}}')" = "active true 1" ]
  [ "$(m1 info --format '{{.Swarm.Cluster.Spec.Dispatcher.HeartbeatPeriod}}')" = 1s ]
  run -1 m1 swarm init --advertise-addr "$(lab_ip m1)"
  [[ "$output" == *"This node is already part of a swarm. Use \"docker swarm leave\" to leave this swarm and join another one."* ]]
  # Keys and certificates are the node's alone.
  [ "$(stat -c %a "$(certs m1)/swarm-node.key")" = 600 ]
  [ "$(stat -c %a "$(dirname "$(certs m1)")/etcd")" = 700 ]
  # The cluster root is an ECDSA P-256 CA named swarm-ca; the node certificate names the node.
  openssl x509 -in "$(certs m1)/swarm-root-ca.crt" -noout -text | grep -q "Subject: CN = swarm-ca"
  openssl x509 -in "$(certs m1)/swarm-root-ca.crt" -noout -text | grep -q "NIST CURVE: P-256"
  id=$(m1 info --format '{{.Swarm.NodeID}}')
  openssl x509 -in "$(certs m1)/swarm-node.crt" -noout -subject | grep -q "CN = $id"
  openssl x509 -in "$(certs m1)/swarm-node.crt" -noout -subject | grep -q "OU = swarm-manager"
}

@test "join-token prints Docker's lines; workers join; a worker may not read cluster state" {
  run m1 swarm join-token worker
  [ "${lines[0]}" = "To add a worker to this swarm, run the following command:" ]
  [[ "${lines[1]}" == "    docker swarm join --token SWMTKN-1-"*" $(lab_ip m1):2377" ]]
  token=$(m1 swarm join-token -q worker)
  [[ "$token" =~ ^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$ ]]
  [ "$(bm1 swarm join-token -q worker)" = "$token" ]
  run w1 swarm join --token "$token" "$(lab_ip m1):2377"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "This node joined a swarm as a worker." ]
  run "$BIN/berth" -H "$(lab_sock w2)" swarm join --token "$token" "$(lab_ip m1)"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = "This node joined a swarm as a worker." ]
  run m1 node ls --format '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'
  [[ "$output" == *"m1 Ready Active Leader"* ]]
  [[ "$output" == *"w1 Ready Active "* ]]
  [[ "$output" == *"w2 Ready Active "* ]]
  run -1 w1 node ls
  [[ "$output" == *"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."* ]]
  [ "$(w1 info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}')" = "active false" ]
  [[ "$(w1 info --format '{{json .Swarm.RemoteManagers}}')" == *"$(lab_ip m1):2377"* ]]
  run -1 w1 swarm join --token "$token" "$(lab_ip m1):2377"
  [[ "$output" == *"This node is already part of a swarm"* ]]
  openssl x509 -in "$(certs w1)/swarm-node.crt" -noout -subject | grep -q "OU = swarm-worker"
}

@test "bogus, forged and rotated tokens are refused; a forged CA digest before the token is sent" {
  good=$(m1 swarm join-token -q worker)
  # Right CA digest, wrong secret: the manager refuses it.
  wrong="${good%-*}-0000000000000000000000000"
  # w2 leaves (its record stays, Down, as Docker's) and tries to come back with bad tokens.
  old_w2=$(m1 node inspect w2 --format '{{.ID}}')
  run w2 swarm leave
  [ "$output" = "Node left the swarm." ]
  run -1 w2 swarm join --token bogus "$(lab_ip m1):2377"
  [[ "$output" == *"invalid join token"* ]]
  run -1 w2 swarm join --token "$wrong" "$(lab_ip m1):2377"
  [[ "$output" == *"A valid join token is necessary to join this cluster"* ]]
  # A forged digest (another root's): the joining node refuses the manager before sending.
  forged="SWMTKN-1-$(printf '%050d' 7)-${good##*-}"
  before=$(grep -c "joined as" "/var/lib/berth-lab/$LAB_NAME/m1.log" || true)
  run -1 w2 swarm join --token "$forged" "$(lab_ip m1):2377"
  [[ "$output" == *"remote CA does not match fingerprint"* ]]
  [ "$(grep -c "joined as" "/var/lib/berth-lab/$LAB_NAME/m1.log" || true)" = "$before" ]
  # Rotation: the old token stops working at once, the new one works.
  run m1 swarm join-token --rotate worker
  [[ "$output" == *"Successfully rotated worker join token."* ]]
  new=$(m1 swarm join-token -q worker)
  [ "$new" != "$good" ]
  run -1 w2 swarm join --token "$good" "$(lab_ip m1):2377"
  [[ "$output" == *"A valid join token is necessary to join this cluster"* ]]
  run w2 swarm join --token "$new" "$(lab_ip m1):2377"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(m1 node ls --filter name=w2 --format '{{.Status}}' | sort | tr '\n' ' ')" = "Down Ready " ]
  [ "$(m1 node inspect "$old_w2" --format '{{.Status.Message}}')" = "node left the swarm" ]
  run m1 node rm "$old_w2"
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(m1 node ls -q | wc -l)" = 3 ]
}

@test "the cluster port speaks only TLS, and only to certificates of this swarm" {
  # Plain HTTP is not answered.
  run lab exec w1 -- curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$(lab_ip m1):2377/heartbeat"
  [ "$output" != 200 ]
  [ "$output" = 000 ]
  # TLS without a node certificate: no heartbeat.
  run lab exec w1 -- curl -sk -m 3 -X POST -d '{}' "https://$(lab_ip m1):2377/heartbeat"
  [[ "$output" == *"a node certificate of this swarm is required"* ]]
  # With w1's certificate, the leader answers.
  run lab exec w1 -- curl -s -m 3 -X POST -d '{}' --cacert "$(certs w1)/swarm-root-ca.crt" \
    --cert "$(certs w1)/swarm-node.crt" --key "$(certs w1)/swarm-node.key" \
    --resolve "swarm-manager:2377:$(lab_ip m1)" https://swarm-manager:2377/heartbeat
  [ "$(echo "$output" | jq -r .leader)" = true ]
  [ "$(echo "$output" | jq -r .role)" = worker ]
}

@test "swarm networks: ingress at init; overlays made, listed, inspected and removed on managers" {
  run m1 network ls --format '{{.Name}} {{.Driver}} {{.Scope}}'
  [[ "$output" == *"ingress overlay swarm"* ]] || { echo "$output"; false; }
  fmt='{{.Scope}} {{.Driver}} {{.Ingress}} {{.Attachable}} {{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}} {{index .Options "com.docker.network.driver.overlay.vxlanid_list"}}'
  run m1 network inspect ingress --format "$fmt"
  [ "$output" = "swarm overlay true false 10.0.0.0/24 10.0.0.1 4096" ] || { echo "$output"; false; }
  # The first overlay gets the next /24 of the default pool and VNI 4097, as in Docker.
  run m1 network create -d overlay --attachable ov1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "${#output}" -eq 25 ]
  id=$output
  run m1 network inspect ov1 --format "$fmt"
  [ "$output" = "swarm overlay false true 10.0.1.0/24 10.0.1.1 4097" ] || { echo "$output"; false; }
  # A subnet the user names may overlap another overlay's (each has its own namespace on a node).
  run m1 network create -d overlay --subnet 10.0.1.0/24 --label team=a ov2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run m1 network inspect ov2 --format "$fmt"
  [ "$output" = "swarm overlay false false 10.0.1.0/24 10.0.1.1 4098" ] || { echo "$output"; false; }
  run m1 network ls --filter driver=overlay --filter label=team=a --format '{{.Name}}'
  [ "$output" = "ov2" ]
  run bm1 network ls
  [[ "$output" == *"${id:0:12}   ov1 "*"overlay   swarm"* ]] || { echo "$output"; false; }
  # Refusals: a taken name, encryption (no IPsec here), a worker, a service on the ingress
  # network, a name that is no network.
  run m1 network create -d overlay ov1
  [ "$status" -ne 0 ]
  [[ "$output" == *"network ov1 already exists"* ]] || { echo "$output"; false; }
  run m1 network create -d overlay -o encrypted sec
  [ "$status" -ne 0 ]
  [[ "$output" == *"IPsec"* ]] || { echo "$output"; false; }
  run w1 network create -d overlay wov
  [ "$status" -ne 0 ]
  [[ "$output" == *"This node is not a swarm manager."* ]] || { echo "$output"; false; }
  run w1 network ls --format '{{.Name}}'
  [[ "$output" != *ov1* ]]
  run m1 service create --detach --name oning --network ingress busybox sleep 100
  [ "$status" -ne 0 ]
  [[ "$output" == *"Service cannot be explicitly attached to the ingress network"* ]] || { echo "$output"; false; }
  # A network a service uses stays (swarmkit's words), and the service names it by id.
  m1 service create --detach --name onov --network ov1 busybox sleep 100 >/dev/null
  run m1 service inspect onov --format '{{range .Spec.TaskTemplate.Networks}}{{.Target}}{{end}}'
  [ "$output" = "$id" ] || { echo "$output"; false; }
  run m1 network rm ov1
  [ "$status" -ne 0 ]
  [[ "$output" == *"network $id is in use by service "* ]] || { echo "$output"; false; }
  m1 service rm onov >/dev/null
  run m1 network inspect nosuchnet
  [ "$status" -ne 0 ]
  [[ "$output" == *"network nosuchnet not found"* ]] || { echo "$output"; false; }
  # Removed, the VNI and the pooled subnet are free again.
  run m1 network rm ov1 ov2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  run m1 network ls --format '{{.Name}}'
  [[ "$output" != *ov1* && "$output" != *ov2* ]]
  m1 network create -d overlay ov3 >/dev/null
  run m1 network inspect ov3 --format "$fmt"
  [ "$output" = "swarm overlay false false 10.0.1.0/24 10.0.1.1 4097" ] || { echo "$output"; false; }
  m1 network rm ov3
}

@test "a node cut off goes Down within 3 heartbeats and comes back Ready when healed" {
  lab cut w1
  start=$(date +%s%N)
  wait_state w1 down 8
  took=$(( ($(date +%s%N) - start) / 1000000 ))
  echo "down after ${took} ms" >&3
  [ "$took" -le 4500 ]
  [ "$(m1 node inspect w1 --format '{{.Status.Message}}')" = "heartbeat failure" ]
  lab heal w1
  wait_state w1 ready 8
}

@test "node rm: an active node needs -f, and a removed node's certificate is refused" {
  w1id=$(m1 node inspect w1 --format '{{.ID}}')
  run -1 m1 node rm "$w1id"
  [[ "$output" == *"rpc error: code = FailedPrecondition desc = node $w1id is not down and can't be removed"* ]]
  run m1 node rm -f w1
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$output" = w1 ]
  run -1 m1 node inspect "$w1id"
  [[ "$output" == *"node $w1id not found"* ]]
  run lab exec w1 -- curl -s -m 3 -X POST -d '{}' --cacert "$(certs w1)/swarm-root-ca.crt" \
    --cert "$(certs w1)/swarm-node.crt" --key "$(certs w1)/swarm-node.key" \
    --resolve "swarm-manager:2377:$(lab_ip m1)" https://swarm-manager:2377/heartbeat
  [[ "$output" == *"was removed from the swarm"* ]]
  # The removed node still thinks it is in the swarm until it leaves (as Docker's w2 did).
  [ "$(w1 info --format '{{.Swarm.LocalNodeState}}')" = active ]
  run w1 swarm leave
  [ "$output" = "Node left the swarm." ]
  [ "$(w1 info --format '{{.Swarm.LocalNodeState}}')" = inactive ]
  [ ! -e "/var/lib/berth-lab/$LAB_NAME/w1/swarm" ]
}

@test "node update: labels and availability; the last manager may not leave or be demoted" {
  run m1 node update --availability drain --label-add zone=a w2
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(m1 node inspect w2 --format '{{.Spec.Availability}} {{index .Spec.Labels "zone"}}')" = "drain a" ]
  run -1 m1 node update --availability bogus w2
  [[ "$output" == *"invalid"* ]]
  run m1 node update --availability active --label-rm zone w2
  [ "$(m1 node inspect w2 --format '{{.Spec.Availability}} {{len .Spec.Labels}}')" = "active 0" ]
  run -1 m1 swarm leave
  [[ "$output" == *"You are attempting to leave the swarm on a node that is participating as a manager. Removing the last manager erases all current state of the swarm. Use \`--force\` to ignore this message."* ]]
  run -1 m1 node demote m1
  [[ "$output" == *"attempting to demote the last manager of the swarm"* ]]
}

@test "a worker and the manager killed and restarted rejoin with their stored certificates" {
  lab kill w2
  lab start w2
  wait_state w2 ready 10
  lab kill m1
  lab start m1
  for _ in $(seq 1 100); do m1 node ls >/dev/null 2>&1 && break; sleep 0.1; done
  run m1 node ls --format '{{.Hostname}} {{.Status}} {{.ManagerStatus}}'
  [[ "$output" == *"m1 Ready Leader"* ]] || { echo "$output"; false; }
  wait_state w2 ready 10
}

@test "swarm leave -f on the last manager ends the swarm; info says inactive" {
  run m1 swarm leave -f
  [ "$output" = "Node left the swarm." ]
  [ "$(m1 info --format '{{.Swarm.LocalNodeState}}')" = inactive ]
  run -1 m1 node ls
  [[ "$output" == *"This node is not part of a swarm"* ]]
  # etcd went with it.
  [ "$(lab exec m1 -- sh -c 'ss -Hltn "sport = :2379" | wc -l')" = 0 ]
  w2 swarm leave >/dev/null
}
