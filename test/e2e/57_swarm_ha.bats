#!/usr/bin/env bats
# Swarm mode with three managers and two workers (issue 10): every manager an etcd member, the
# leader an etcd lease. The leader killed while a client writes, quorum lost and regained,
# promote and demote, a manager killed and restarted. Heartbeats every second.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  lab_up ha --managers 3 --workers 2
}

teardown_file() { lab_teardown; }

d() { local n=$1; shift; lab_docker "$n" "$@"; }
# The manager status of every node as NODE=STATUS, sorted, seen from manager $1.
managers_seen() {
  d "$1" node ls --format '{{.Hostname}}={{.ManagerStatus}}' | sort | tr '\n' ' '
}
leader_seen() { d "$1" node ls --format '{{.Hostname}} {{.ManagerStatus}}' 2>/dev/null | awk '$2=="Leader"{print $1}'; }
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
state_is() { [ "$(d "$1" node inspect "$2" --format '{{.Status.State}}')" = "$3" ]; }
new_leader() { local l; l=$(leader_seen m2); [ -n "$l" ] && [ "$l" != m1 ]; }
control() { [ "$(d "$1" info --format '{{.Swarm.ControlAvailable}}')" = "$2" ]; }

@test "three managers and two workers join; node ls shows one Leader and two Reachable" {
  run d m1 swarm init --advertise-addr "$(lab_ip m1)" --dispatcher-heartbeat 1s
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  mt=$(d m1 swarm join-token -q manager)
  wt=$(d m1 swarm join-token -q worker)
  for n in m2 m3; do
    run d "$n" swarm join --token "$mt" "$(lab_ip m1):2377"
    [ "$status" -eq 0 ] || { echo "$n: $output"; false; }
    [ "$output" = "This node joined a swarm as a manager." ]
  done
  for n in w1 w2; do
    run d "$n" swarm join --token "$wt" "$(lab_ip m1):2377"
    [ "$output" = "This node joined a swarm as a worker." ]
  done
  [ "$(managers_seen m2)" = "m1=Leader m2=Reachable m3=Reachable w1= w2= " ]
  [ "$(d m3 info --format '{{.Swarm.Managers}} {{.Swarm.Nodes}} {{.Swarm.ControlAvailable}}')" = "3 5 true" ]
}

@test "kill -9 of the leader while a client writes: every acknowledged write survives, a new leader answers" {
  : > "$LAB_TMP/acked"
  (
    for i in $(seq 1 60); do
      if d m2 node update --label-add "k$i=v$i" w1 >/dev/null 2>&1; then echo "k$i" >> "$LAB_TMP/acked"; fi
      sleep 0.05
    done
  ) 3>&- &
  writer=$!
  sleep 1
  start=$(date +%s%N)
  lab kill m1
  wait_for 10 new_leader || true
  took=$(( ($(date +%s%N) - start) / 1000000 ))
  new=$(leader_seen m2)
  echo "new leader $new after ${took} ms" >&3
  [[ "$new" == m2 || "$new" == m3 ]]
  wait "$writer"
  [ "$(wc -l < "$LAB_TMP/acked")" -gt 0 ]
  labels=$(d m3 node inspect w1 --format '{{json .Spec.Labels}}')
  while read -r k; do
    [[ "$labels" == *"\"$k\""* ]] || { echo "acknowledged $k lost: $labels"; false; }
  done < "$LAB_TMP/acked"
  # m1's heartbeats stopped: it is Down and Unreachable.
  wait_for 8 state_is m2 m1 down
  [[ "$(managers_seen m3)" == "m1=Unreachable "* ]]
  # The workers' agents followed the leader: the new one has their heartbeats.
  state_is m3 w1 ready
  state_is m3 w2 ready
}

@test "two of three managers down: writes are refused with Docker's words, and work again when one returns" {
  lab stop m2
  run -1 d m3 node update --label-add lost=1 w2
  [[ "$output" == *"The swarm does not have a leader. It's possible that too few managers are online. Make sure more than half of the managers are online."* ]]
  run -1 d m3 node ls
  [[ "$output" == *"The swarm does not have a leader"* ]]
  lab start m2
  wait_for 20 d m3 node update --label-add back=1 w2
  [ "$(d m2 node inspect w2 --format '{{index .Spec.Labels "back"}}')" = 1 ]
}

@test "the killed manager restarts with its certificate and its etcd member is healthy again" {
  lab start m1
  wait_for 20 state_is m2 m1 ready
  lab exec m1 -- curl -sf -m 3 --cacert "/var/lib/berth-lab/$LAB_NAME/m1/swarm/certificates/swarm-root-ca.crt" \
    --cert "/var/lib/berth-lab/$LAB_NAME/m1/swarm/certificates/swarm-node.crt" \
    --key "/var/lib/berth-lab/$LAB_NAME/m1/swarm/certificates/swarm-node.key" \
    https://127.0.0.1:2379/health | grep -q '"health":"true"'
  [[ "$(managers_seen m1)" == "m1=Reachable "* || "$(managers_seen m1)" == "m1=Leader "* ]]
}

@test "demote and promote: the member leaves and rejoins the store, the certificate follows the role" {
  run d m1 node demote m3
  [ "$output" = "Manager m3 demoted in the swarm." ] || { echo "$output"; false; }
  wait_for 10 control m3 false
  openssl x509 -in "/var/lib/berth-lab/$LAB_NAME/m3/swarm/certificates/swarm-node.crt" -noout -subject | grep -q "OU = swarm-worker"
  run -1 d m3 node ls
  [[ "$output" == *"This node is not a swarm manager"* ]]
  run d m1 node promote w2
  [ "$output" = "Node w2 promoted to a manager in the swarm." ]
  wait_for 20 control w2 true
  wait_for 10 d w2 node ls
  # Reachable once its heartbeat has reached the leader as a manager's (a loaded machine takes
  # a period or two).
  w2_manages() { [[ "$(managers_seen w2)" == *"w2=Reachable"* || "$(managers_seen w2)" == *"w2=Leader"* ]]; }
  wait_for 20 w2_manages || { managers_seen w2; false; }
}

@test "the leader killed in the middle of a rolling update: the new leader carries on, no slot duplicated or lost" {
  lab_import_busybox
  for n in $(lab_nodes); do
    d "$n" import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' "$LAB_TMP/busybox.tar" web:latest >/dev/null
    d "$n" tag web:latest web:v2
  done
  leader=$(leader_seen m1)
  [ -n "$leader" ]
  other=m1; [ "$leader" = m1 ] && other=m2
  run d "$other" service create --detach --name roll --replicas 6 --stop-grace-period 1s \
    --update-parallelism 1 --update-delay 2s web
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  wait_for 30 bash -c "[ \"\$(docker -H $(lab_sock $other) service ps roll --filter desired-state=running --format '{{.CurrentState}}' | grep -c ^Running)\" = 6 ]"
  d "$other" service update --detach --image web:v2 roll >/dev/null
  # Some but not all slots updated, then the leader dies.
  wait_for 30 bash -c "docker -H $(lab_sock $other) service ps roll --filter desired-state=running --format '{{.Image}} {{.CurrentState}}' | grep -q '^web:v2 Running'"
  lab kill "$leader"
  wait_for 60 bash -c "[ \"\$(docker -H $(lab_sock $other) service inspect roll --format '{{.UpdateStatus.State}}')\" = completed ]"
  # Every slot 1..6 has exactly one task desired running, running the new image.
  run d "$other" service ps roll --filter desired-state=running --format '{{.Name}} {{.Image}} {{.CurrentState}}'
  [ "$(echo "$output" | awk '{print $1}' | sort | tr '\n' ' ')" = "roll.1 roll.2 roll.3 roll.4 roll.5 roll.6 " ] || { echo "$output"; false; }
  [ "$(echo "$output" | awk '{print $2}' | sort -u)" = web:v2 ]
  [ "$(echo "$output" | grep -c Running)" = 6 ]
  lab start "$leader"
  d "$other" service rm roll >/dev/null
}
