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
  # Go's own words, as Docker answers (the body is decoded as Docker decodes it).
  run api -X POST -H 'Content-Type: application/json' -d '{"Image": "busybox",' http://x/v1.41/containers/create
  [ "$output" = '{"message":"unexpected EOF"}' ]
  run api -X POST -H 'Content-Type: application/json' -d '{bad' http://x/v1.41/containers/create
  [[ "$output" == *"invalid character 'b' looking for beginning of object key string"* ]]
  [ "$(count_rows)" -eq "$before" ]
}

@test "a field of the wrong type anywhere is a 400 with Go's message, and nothing is left behind" {
  local before=$(count_rows)
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "Cmd": "not-a-list", "HostConfig": {"Memory": "lots"}}' \
    http://x/v1.41/containers/create
  [ "$output" = "400" ]
  run api -X POST -H 'Content-Type: application/json' -d '{"Image": "busybox", "Env": "notalist"}' \
    http://x/v1.41/containers/create
  [[ "$output" == *"json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of type []string"* ]]
  docker network create badnet >/dev/null
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "HostConfig": {"NetworkMode": "badnet"}, "NetworkingConfig": {"EndpointsConfig": {"badnet": {"Aliases": [1]}}}}' \
    http://x/v1.41/containers/create
  [[ "$output" == *"cannot unmarshal number into Go struct field"*"Aliases of type string"*" 400" ]]
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "HostConfig": {"RestartPolicy": {"Name": "sometimes"}}}' http://x/v1.41/containers/create
  [[ "$output" == *"invalid restart policy 'sometimes'"*" 400" ]]
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "HostConfig": {"ShmSize": -1}}' http://x/v1.41/containers/create
  [[ "$output" == *"SHM size can not be less than 0"*" 400" ]]
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image": "busybox", "HostConfig": {"Memory": 1.5}}' http://x/v1.41/containers/create
  [[ "$output" == *"cannot unmarshal number 1.5 into Go struct field"*"Memory of type int64"*" 400" ]]
  docker network rm badnet >/dev/null
  [ -z "$(docker ps -aq)" ]
  [ "$(count_rows)" -eq "$before" ]
}

@test "filters: Docker's decoding and words; unknown keys and values are refused" {
  run api -w ' %{http_code}' 'http://x/v1.41/containers/json?filters=%7B%22nosuch%22%3A%7B%22x%22%3Atrue%7D%7D'
  [[ "$output" == *"Invalid filter 'nosuch'"*" 400" ]]
  run api -w ' %{http_code}' 'http://x/v1.41/containers/json?filters=%7B%22status%22%3A%5B%22sleepy%22%5D%7D'
  [[ "$output" == *"Invalid filter 'status=sleepy'"*" 400" ]]
  run api -w ' %{http_code}' 'http://x/v1.41/networks?filters=notjson'
  [[ "$output" == *" 400" ]]
  run api -w ' %{http_code}' 'http://x/v1.41/images/json?filters=%7B%22dangling%22%3A%5B%22maybe%22%5D%7D'
  [[ "$output" == *"Invalid filter 'dangling=maybe'"*" 400" ]]
  run docker ps --filter nosuch=1
  [ "$status" -ne 0 ]
  [[ "$output" == *"Invalid filter 'nosuch'"* ]]
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
