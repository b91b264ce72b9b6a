#!/usr/bin/env bats
# Bad input gets Docker's status code and message, a non-zero exit, and changes nothing.

bats_require_minimum_version 1.5.0
load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

count_rows() { ls "$BT_DIR/data/containers" | wc -l; }

@test "malformed JSON is a 400 and creates nothing" {
  local before=$(count_rows)
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", ' http://x/v1.41/containers/create
  [ "$output" = "400" ]
  run api -X POST -H 'Content-Type: application/json' -d '{"Image": "busybox",' http://x/v1.41/containers/create
  [[ "$output" == *"invalid JSON"* ]]
  [ "$(count_rows)" -eq "$before" ]
}

@test "a field of the wrong type is a 400" {
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "Cmd": "not-a-list", "HostConfig": {"Memory": "lots"}}' \
    http://x/v1.41/containers/create
  [ "$output" = "400" ]
  [ -z "$(docker ps -aq)" ]
}

@test "names that break Docker's rule are refused" {
  for cli in $CLIS; do
    run $cli create --name 'bad name!' busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"Invalid container name (bad name!), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"* ]]
  done
  [ -z "$(docker ps -aq)" ]
}

@test "a duplicate name is a 409 naming the holder" {
  id=$(docker create --name dup busybox true)
  for cli in $CLIS; do
    run $cli create --name dup busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Conflict. The container name \"/dup\" is already in use by container \"$id\""* ]]
  done
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox"}' 'http://x/v1.41/containers/create?name=dup'
  [ "$output" = "409" ]
  [ "$(docker ps -aq | wc -l)" -eq 1 ]
  docker rm dup
}

@test "an unknown image is a 404 and run exits 125" {
  for cli in $CLIS; do
    run $cli run --rm nosuchimage:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"nosuchimage"* ]]
  done
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"nosuchimage:1"}' http://x/v1.41/containers/create
  [ "$output" = "404" ]
  [ -z "$(docker ps -aq)" ]
}

@test "a missing binary exits 127, the container stays Created, nothing runs or stays mounted" {
  for cli in $CLIS; do
    run -127 $cli run --name "nb-$cli" busybox /no/such/binary
    [[ "$output" == *"no such file or directory"* ]] || [[ "$output" == *"not found"* ]]
    run $cli inspect -f '{{.State.Status}} {{.State.ExitCode}}' "nb-$cli"
    [ "$output" = "created 127" ]
  done
  [ -z "$(runc --root "$BT_DIR/exec/runc" list -q)" ]
  ! grep -q "$BT_DIR/exec/c/" /proc/self/mountinfo
  docker rm nb-docker nb-berth
}

@test "unknown containers are 404 with docker's message" {
  for cli in $CLIS; do
    for verb in start stop rm logs; do
      run $cli $verb nosuchcontainer
      [ "$status" -ne 0 ]
      [[ "$output" == *"No such container: nosuchcontainer"* ]]
    done
  done
}

@test "bad restart policy, memory and cpus values are refused before anything is made" {
  run docker run -d --restart bogus busybox true
  [ "$status" -ne 0 ]
  run docker run -d --memory 1m busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Minimum memory limit allowed is 6MB"* ]]
  run docker run -d --cpus 64 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Range of CPUs"* ]]
  run docker run -d --rm --restart always busybox true
  [ "$status" -ne 0 ]
  [ -z "$(docker ps -aq)" ]
}

@test "exec in a stopped container is a 409" {
  docker create --name stopped busybox true >/dev/null
  run docker exec stopped true
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not running"* ]]
  docker rm stopped
}
