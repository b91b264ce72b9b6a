#!/usr/bin/env bats
# kill -9 of berthd with containers running: containers keep running under their shims, logs
# and exit codes are kept, and a restarted berthd adopts them.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

@test "kill -9 berthd, restart: running containers adopted, exits recorded, logs kept" {
  docker run -d --name keep busybox sh -c 'echo before; sleep 600'
  docker run -d --name dies busybox sh -c 'sleep 1; echo dying; exit 9'
  docker create --name made busybox true >/dev/null
  local keep_pid=$(docker inspect -f '{{.State.Pid}}' keep)
  berth_kill_daemon
  # While berthd is down the containers run on; one of them exits.
  sleep 2
  kill -0 "$keep_pid"
  berth_start_daemon
  run docker inspect -f '{{.State.Status}} {{.State.Pid}}' keep
  [ "$output" = "running $keep_pid" ]
  run docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' dies
  [ "$output" = "exited 9" ]
  run docker logs dies
  [ "$output" = "dying" ]
  run docker inspect -f '{{.State.Status}}' made
  [ "$output" = "created" ]
  # The adopted container is fully usable: exec, logs, stop.
  run docker exec keep echo adopted
  [ "$output" = "adopted" ]
  run docker logs keep
  [ "$output" = "before" ]
  run docker stop -t 1 keep
  [ "$status" -eq 0 ]
  run docker inspect -f '{{.State.Status}}' keep
  [ "$output" = "exited" ]
}

@test "a clean berthd restart keeps running containers (live restore)" {
  docker run -d --name live busybox sleep 600
  local pid=$(docker inspect -f '{{.State.Pid}}' live)
  berth_stop_daemon
  kill -0 "$pid"
  berth_start_daemon
  run docker inspect -f '{{.State.Status}} {{.State.Pid}}' live
  [ "$output" = "running $pid" ]
  docker rm -f live
}

@test "a second berthd on the same roots is refused" {
  run "$BIN/berthd" -H "unix://$BT_DIR/other.sock" --data-root "$BT_DIR/data" --exec-root "$BT_DIR/exec"
  [ "$status" -ne 0 ]
  [[ "$output" == *"pid file found"* ]]
}

@test "a shim killed with SIGKILL: its container's processes go too, the exit is recorded, it starts again" {
  docker run -d --name orphan busybox sleep 600
  local id=$(docker inspect -f '{{.Id}}' orphan)
  local pid=$(docker inspect -f '{{.State.Pid}}' orphan)
  local shim=$(cat "$BT_DIR/exec/c/${id:0:12}/shim.pid")
  [ -n "$shim" ]
  kill -9 "$shim"
  local i
  for i in $(seq 100); do
    [ "$(docker inspect -f '{{.State.Status}}' orphan)" = exited ] && break
    sleep 0.1
  done
  run docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' orphan
  echo "after the kill: $output"
  [ "$output" = "exited 255" ]
  # Nobody holds the container's stdio any more: its process must not run on (a zombie waiting
  # for a reaper that is not ours counts as gone).
  if [ -e "/proc/$pid" ]; then
    run grep '^State:' "/proc/$pid/status"
    echo "container init $pid: $output"
    [[ "$output" == *zombie* ]] || [ ! -e "/proc/$pid" ]
  fi
  # runc's state and cgroups went with it, so the id can run again.
  docker start orphan
  run docker inspect -f '{{.State.Status}}' orphan
  [ "$output" = running ]
  docker rm -f orphan
}
