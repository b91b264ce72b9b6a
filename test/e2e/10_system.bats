#!/usr/bin/env bats
# The daemon's identity endpoints through both CLIs: _ping, version negotiation, info, events.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

@test "ping answers OK with Docker's headers" {
  run curl -si --unix-socket "$BT_SOCK" http://x/_ping
  [ "$status" -eq 0 ]
  [[ "$output" == *"Api-Version: 1.41"* ]]
  [[ "$output" == *"Ostype: linux"* ]]
  [[ "$output" == *"OK"* ]]
}

@test "version: the docker 28 CLI negotiates down to 1.41" {
  run docker version
  [ "$status" -eq 0 ]
  [[ "$output" == *"API version:       1.41 (downgraded from"* ]]
  [[ "$output" == *"Server: Berth"* ]]
  run berth version
  [ "$status" -eq 0 ]
  [[ "$output" == *"Server"* ]]
  [[ "$output" == *"1.41"* ]]
}

@test "a client asking for a newer API than 1.41 gets Docker's error" {
  run curl -s --unix-socket "$BT_SOCK" http://x/v1.99/info
  [[ "$output" == *"client version 1.99 is too new. Maximum supported API version is 1.41"* ]]
}

@test "info reports counts, driver and root dir" {
  for cli in $CLIS; do
    run $cli info --format '{{.Driver}} {{.DockerRootDir}} {{.OSType}} {{.Images}}'
    [ "$status" -eq 0 ]
    [ "$output" = "overlay2 $BT_DIR/data linux 1" ]
  done
}

@test "events streams container events as they happen" {
  docker events --filter type=container --format '{{.Action}} {{.Actor.Attributes.name}}' > "$BT_DIR/events.out" &
  local ev=$!
  sleep 0.3
  docker run --rm --name evtest busybox true
  sleep 0.3
  kill $ev
  grep -q "create evtest" "$BT_DIR/events.out"
  grep -q "start evtest" "$BT_DIR/events.out"
  grep -q "die evtest" "$BT_DIR/events.out"
  grep -q "destroy evtest" "$BT_DIR/events.out"
}

@test "events --since/--until replays history and ends" {
  local since=$(date +%s)
  docker run --rm --name evhist busybox true
  run docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=evhist --format '{{.Action}}'
  [ "$status" -eq 0 ]
  [[ "$output" == *"start"* ]]
  [[ "$output" == *"die"* ]]
}

@test "plugins: none are listed or found; installing one is refused" {
  run docker plugin ls --format '{{.Name}}'
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  run docker plugin inspect vieux/sshfs
  [ "$status" -ne 0 ]
  [[ "$output" == *'plugin "vieux/sshfs" not found'* ]]
  run docker plugin install --grant-all-permissions vieux/sshfs
  [ "$status" -ne 0 ]
  [[ "$output" == *"Berth does not run managed plugins"* ]]
  # berth inspect looks through plugins as the docker CLI does.
  run "$BIN/berth" inspect --type plugin vieux/sshfs
  [ "$status" -ne 0 ]
  [[ "$output" == *'plugin "vieux/sshfs" not found'* ]]
}
