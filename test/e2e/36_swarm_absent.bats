#!/usr/bin/env bats
# A node that is not in a swarm: every swarm-mode route answers Docker's 503 "This node is not
# part of a swarm" (tear-downs call swarm/leave?force=1 unconditionally and rely on it), through
# the API and the docker CLI; init and join with bad input are refused and change nothing.

bats_require_minimum_version 1.5.0
load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

# "STATUS BODY" of a request.
call() { curl -s --unix-socket "$BT_SOCK" -o /dev/stdout -w ' %{http_code}' -X "$1" "http://x/v1.41$2"; }

@test "swarm routes answer 503 with Docker's message, as the reference trace shows" {
  for route in "POST /swarm/leave?force=1" "GET /swarm" "POST /swarm/update" "GET /swarm/unlockkey" \
      "GET /nodes" "GET /nodes/x" "DELETE /nodes/x" "POST /nodes/x/update" \
      "GET /services" "POST /services/create" "GET /services/x" "DELETE /services/x" \
      "POST /services/x/update" "GET /services/x/logs" "GET /tasks" "GET /tasks/x" \
      "GET /tasks/x/logs" "GET /secrets" "POST /secrets/create" "GET /configs" "DELETE /configs/x"; do
    out=$(call $route)
    [ "${out##* }" = 503 ] || { echo "$route: $out"; false; }
    [ "$(echo "${out% *}" | jq -r .message)" = "This node is not part of a swarm" ] || { echo "$route: $out"; false; }
  done
  # A route API 1.41 does not have stays unknown.
  out=$(call POST /nodes/create)
  [ "${out##* }" = 404 ]
}

@test "docker swarm leave -f, node ls, service ls fail with Docker's words" {
  for cli in docker; do
    run -1 $cli swarm leave -f
    [[ "$output" == *"This node is not part of a swarm"* ]] || { echo "$cli: $output"; false; }
    run -1 $cli node ls
    [[ "$output" == *"This node is not part of a swarm"* ]] || { echo "$cli: $output"; false; }
    run -1 $cli service ls
    [[ "$output" == *"This node is not part of a swarm"* ]] || { echo "$cli: $output"; false; }
  done
}

@test "swarm init and join with bad input are refused and leave the node outside any swarm" {
  run -1 docker swarm init --advertise-addr eth9
  [[ "$output" == *"advertise address must be a non-zero IP address"* ]]
  run -1 docker swarm join --token bogus 127.0.0.1:2377
  [[ "$output" == *"invalid join token"* ]]
  run -1 "$BIN/berth" swarm join --token SWMTKN-1-bogus 127.0.0.1:2377
  [[ "$output" == *"invalid join token"* ]]
  [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = inactive ]
  [ ! -e "$BT_DIR/data/swarm" ]
}
