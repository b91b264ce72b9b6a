#!/usr/bin/env bats
# Log drivers (json-file, local, none), their options and rotation, and `docker logs` over them:
# rotated and compressed files, logs -f across a rotation, since/tail/timestamps/details, the
# daemon's default driver, and Docker's refusals.

load helpers
bats_require_minimum_version 1.5.0

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }
teardown() { docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true; }

# The directory of a container's files (LogPath is empty for local and none).
cdir() { echo "$BT_DIR/data/containers/$(docker inspect -f '{{.Id}}' "$1")"; }

@test "json-file is the default; LogConfig and LogPath in inspect" {
  for cli in $CLIS; do
    $cli run -d --name lg-default busybox echo hi >/dev/null
    docker wait lg-default >/dev/null
    run docker inspect -f '{{json .HostConfig.LogConfig}} {{.LogPath}}' lg-default
    [[ "$output" == '{"Type":"json-file","Config":{}} '*"/lg-default"* || "$output" == '{"Type":"json-file","Config":{}} '*-json.log ]]
    run $cli logs lg-default
    [ "$output" = hi ]
    docker rm lg-default >/dev/null
  done
  docker run -d --name lg-opts --log-opt max-size=10m --log-opt max-file=2 busybox true >/dev/null
  run docker inspect -f '{{json .HostConfig.LogConfig}}' lg-opts
  [ "$output" = '{"Type":"json-file","Config":{"max-file":"2","max-size":"10m"}}' ]
}

@test "json-file rotates at max-size and keeps max-file files; logs reads across them" {
  docker run --name lg-rot --log-opt max-size=2k --log-opt max-file=3 busybox \
    sh -c 'i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
  d=$(cdir lg-rot)
  id=$(docker inspect -f '{{.Id}}' lg-rot)
  [ -f "$d/$id-json.log" ]
  [ -f "$d/$id-json.log.1" ]
  [ -f "$d/$id-json.log.2" ]
  [ ! -e "$d/$id-json.log.3" ]
  for f in "$d/$id-json.log.1" "$d/$id-json.log.2"; do
    size=$(stat -c %s "$f")
    [ "$size" -ge 2000 ] && [ "$size" -lt 2200 ]
  done
  for cli in $CLIS; do
    run $cli logs lg-rot
    [ "$status" -eq 0 ]
    [ "${lines[-1]}" = "line 300" ]
    # What is kept is a contiguous run of the last lines, none lost or repeated.
    first=${lines[0]#line }
    [ "$first" -gt 1 ]
    [ "$(printf '%s\n' "${lines[@]}")" = "$(seq "$first" 300 | sed 's/^/line /')" ]
    run $cli logs --tail 5 lg-rot
    [ "$output" = "$(seq 296 300 | sed 's/^/line /')" ]
  done
  # --tail reaching back into a rotated file
  n=$(docker logs lg-rot | wc -l)
  run docker logs --tail $((n - 3)) lg-rot
  [ "${#lines[@]}" -eq $((n - 3)) ]
  [ "${lines[-1]}" = "line 300" ]
}

@test "max-file=1 truncates in place" {
  docker run --name lg-trunc --log-opt max-size=1k busybox \
    sh -c 'i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
  d=$(cdir lg-trunc)
  [ "$(ls "$d" | grep -c json.log)" -eq 1 ]
  run docker logs lg-trunc
  [ "${lines[-1]}" = "line 200" ]
  [ "${#lines[@]}" -lt 200 ]
}

@test "compress=true gzips the rotated files (.N.gz) and logs reads them" {
  docker run --name lg-gz --log-opt max-size=2k --log-opt max-file=4 --log-opt compress=true busybox \
    sh -c 'i=1; while [ $i -le 400 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
  d=$(cdir lg-gz)
  id=$(docker inspect -f '{{.Id}}' lg-gz)
  for _ in $(seq 50); do [ ! -e "$d/$id-json.log.1" ] && break; sleep 0.1; done
  [ -f "$d/$id-json.log.1.gz" ]
  [ -f "$d/$id-json.log.2.gz" ]
  [ -f "$d/$id-json.log.3.gz" ]
  [ ! -e "$d/$id-json.log.4.gz" ]
  gzip -t "$d/$id-json.log.1.gz"
  zcat "$d/$id-json.log.1.gz" | grep -q '"stream":"stdout"'
  run docker logs lg-gz
  first=${lines[0]#line }
  [ "$(printf '%s\n' "${lines[@]}")" = "$(seq "$first" 400 | sed 's/^/line /')" ]
  run docker inspect -f '{{json .HostConfig.LogConfig.Config}}' lg-gz
  [ "$output" = '{"compress":"true","max-file":"4","max-size":"2k"}' ]
}

@test "logs -f follows across rotations without losing or repeating a line" {
  # ~94 rotations of 4k: max-file keeps them all, so a reader the machine's load holds back
  # however long still finds every line (with 50 kept, a reader 50 rotations behind has lost
  # the oldest for good, as with Docker's).
  docker run -d --name lg-follow --log-opt max-size=4k --log-opt max-file=200 busybox \
    sh -c 'sleep 1; i=1; while [ $i -le 5000 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
  run timeout 60 docker logs -f lg-follow
  [ "$status" -eq 0 ]
  [ "${#lines[@]}" -eq 5000 ]
  [ "$output" = "$(seq 1 5000 | sed 's/^/line /')" ]
  d=$(cdir lg-follow)
  [ "$(ls "$d" | grep -c 'json.log')" -gt 10 ]
}

@test "local driver: Docker's defaults, its own directory, logs reads it" {
  for cli in $CLIS; do
    $cli run --name lg-local --log-driver local busybox sh -c 'echo out; echo err >&2' >/dev/null 2>&1
    run docker inspect -f '{{json .HostConfig.LogConfig}}|{{.LogPath}}' lg-local
    [ "$output" = '{"Type":"local","Config":{}}|' ]
    d=$(cdir lg-local)
    [ -f "$d/local-logs/container.log" ]
    run $cli logs lg-local
    [[ "$output" == *out* && "$output" == *err* ]]
    run --separate-stderr docker logs lg-local
    [ "$output" = out ]
    [ "$stderr" = err ]
    docker rm lg-local >/dev/null
  done
  docker run --name lg-local2 --log-driver local --log-opt max-size=1k --log-opt max-file=3 busybox \
    sh -c 'i=1; while [ $i -le 300 ]; do echo "line $i"; i=$((i+1)); done' >/dev/null
  d=$(cdir lg-local2)
  for _ in $(seq 50); do [ ! -e "$d/local-logs/container.log.1" ] && break; sleep 0.1; done
  [ -f "$d/local-logs/container.log.1.gz" ]  # local compresses by default
  run docker logs lg-local2
  [ "${lines[-1]}" = "line 300" ]
  run docker run --rm --log-driver local --log-opt compress=true --log-opt max-file=1 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"compression cannot be enabled when max file count is 1"* ]]
}

@test "none: nothing is kept and docker logs answers Docker's error" {
  for cli in $CLIS; do
    $cli run --name lg-none --log-driver none busybox echo hidden >/dev/null
    run docker inspect -f '{{json .HostConfig.LogConfig}}|{{.LogPath}}' lg-none
    [ "$output" = '{"Type":"none","Config":{}}|' ]
    [ -z "$(ls "$(cdir lg-none)" | grep -e json.log -e local-logs)" ]
    run $cli logs lg-none
    [ "$status" -ne 0 ]
    [[ "$output" == *"configured logging driver does not support reading"* ]]
    docker rm lg-none >/dev/null
  done
  docker run --name lg-none2 --log-driver none busybox true
  run api -o /dev/null -w '%{http_code}' "http://x/v1.41/containers/lg-none2/logs?stdout=1"
  [ "$output" = 501 ]
  # attach?logs=1 replays nothing and ends
  run api -X POST "http://x/v1.41/containers/lg-none2/attach?logs=1&stream=0&stdout=1"
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "unknown drivers and options are refused with Docker's words, nothing created" {
  for cli in $CLIS; do
    run $cli create --name lg-bad --log-driver nosuch busybox
    [ "$status" -ne 0 ]
    [[ "$output" == *"logger: no log driver named 'nosuch' is registered"* ]]
    run $cli create --name lg-bad --log-opt bogus=1 busybox
    [[ "$output" == *"unknown log opt 'bogus' for json-file log driver"* ]]
    run $cli create --name lg-bad --log-driver local --log-opt bogus=1 busybox
    [[ "$output" == *"unknown log opt 'bogus' for log driver local"* ]]
    run $cli create --name lg-bad --log-opt max-size=lots busybox
    [[ "$output" == *"invalid size: 'lots'"* ]]
    run $cli create --name lg-bad --log-opt max-file=0 busybox
    [[ "$output" == *"max-file cannot be less than 1"* ]]
    run $cli create --name lg-bad --log-opt compress=true busybox
    [[ "$output" == *"compress cannot be true when max-file is less than 2 or max-size is not set"* ]]
    run $cli create --name lg-bad --log-driver syslog busybox
    [[ "$output" == *"log driver 'syslog' is not supported by Berth"* ]]
  done
  [ -z "$(docker ps -aq)" ]
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"x","Config":{}}}}' \
    "http://x/v1.41/containers/create"
  [ "$output" = 400 ]
  run api -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"x","Config":{}}}}' \
    "http://x/v1.41/containers/create"
  [[ "$output" == *"logger: no log driver named 'x' is registered"* ]]
  # none takes any option at the API, as dockerd's does (the docker CLI refuses them itself)
  api -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"none","Config":{"whatever":"1"}}}}' \
    "http://x/v1.41/containers/create?name=lg-none-opt" >/dev/null
  run docker inspect -f '{{json .HostConfig.LogConfig}}' lg-none-opt
  [ "$output" = '{"Type":"none","Config":{"whatever":"1"}}' ]
}

@test "since, until, tail, timestamps and details" {
  docker run --name lg-time busybox sh -c 'echo one; echo two >&2; sleep 1; echo three; sleep 1; echo four' >/dev/null 2>&1
  run docker logs -t lg-time
  [ "${#lines[@]}" -eq 4 ]
  [[ "${lines[0]}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{9}Z\ one$ ]]
  # stdout alone: the CLI writes stderr on its own pipe, in its own order
  t3=$(docker logs -t lg-time 2>/dev/null | sed -n 2p | cut -d' ' -f1)
  run docker logs --since "$t3" lg-time
  [ "$output" = "$(printf 'three\nfour')" ]
  run --separate-stderr docker logs --until "$t3" lg-time
  [ "$output" = "$(printf 'one\nthree')" ]
  [ "$stderr" = two ]
  run docker logs --tail 1 lg-time
  [ "$output" = four ]
  run docker logs --tail 0 lg-time
  [ -z "$output" ]
  run --separate-stderr docker logs --details lg-time
  [ "${lines[0]}" = " one" ]
  run berth logs --tail 2 -t lg-time
  [[ "${lines[1]}" == *Z\ four ]]
  # escapes and long lines come back byte for byte
  docker run --name lg-esc busybox sh -c 'printf "tab\there \"q\" back\\\\slash <&> \\001\n"; head -c 300000 /dev/zero | tr "\\0" a; echo; printf "partial"' >/dev/null
  run docker logs lg-esc
  [ "${lines[0]}" = "$(printf 'tab\there "q" back\\slash <&> \001')" ]
  [ "${#lines[1]}" -eq 300000 ]
  [ "${lines[2]}" = partial ]
}

@test "the daemon's --log-driver and --log-opt are the defaults; daemon.json too" {
  berth_stop_daemon
  BERTH_DAEMON_FLAGS="--log-driver local --log-opt max-size=5m" berth_start_daemon
  docker run --name lg-dd busybox echo x >/dev/null
  run docker inspect -f '{{json .HostConfig.LogConfig}}' lg-dd
  [ "$output" = '{"Type":"local","Config":{"max-size":"5m"}}' ]
  # a container naming the driver keeps its options and takes the daemon's missing ones
  docker run --name lg-dd2 --log-driver local --log-opt max-file=2 busybox true >/dev/null
  run docker inspect -f '{{json .HostConfig.LogConfig}}' lg-dd2
  [ "$output" = '{"Type":"local","Config":{"max-file":"2","max-size":"5m"}}' ]
  docker run --name lg-dd3 --log-driver json-file busybox true >/dev/null
  run docker inspect -f '{{json .HostConfig.LogConfig}}' lg-dd3
  [ "$output" = '{"Type":"json-file","Config":{}}' ]
  docker rm -f lg-dd lg-dd2 lg-dd3 >/dev/null
  berth_stop_daemon
  echo '{"log-driver":"none"}' > "$BT_DIR/daemon.json"
  BERTH_DAEMON_FLAGS="--config-file $BT_DIR/daemon.json" berth_start_daemon
  docker run --name lg-dj busybox true >/dev/null
  run docker inspect -f '{{.HostConfig.LogConfig.Type}}' lg-dj
  [ "$output" = none ]
  docker rm -f lg-dj >/dev/null
  berth_stop_daemon
  run nsenter --net="/run/netns/$BT_NS" "$BIN/berthd" --log-driver nosuch -H "unix://$BT_DIR/x.sock" \
    --data-root "$BT_DIR/data" --exec-root "$BT_DIR/exec"
  [ "$status" -ne 0 ]
  [[ "$output" == *"logger: no log driver named 'nosuch' is registered"* ]]
  berth_start_daemon
}
