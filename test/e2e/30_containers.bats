#!/usr/bin/env bats
# The container lifecycle through both CLIs on a real berthd, runc and berth-shim.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }
teardown() { docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true; }

@test "run --rm prints the output and returns the container's exit code" {
  for cli in $CLIS; do
    run $cli run --rm busybox sh -c 'echo out; echo err >&2; exit 3'
    [ "$status" -eq 3 ]
    [[ "$output" == *out* ]]
    [[ "$output" == *err* ]]
  done
  [ -z "$(docker ps -aq)" ]
}

@test "run -d, ps, inspect: Docker's fields and the short-id hostname" {
  for cli in $CLIS; do
    run $cli run -d -it --name "d-$cli" busybox
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^[0-9a-f]{64}$ ]]
    local id=$output
    run $cli ps --format '{{.Names}} {{.Status}}'
    [[ "$output" == *"d-$cli Up"* ]]
    run $cli inspect -f '{{.Name}} {{.State.Status}} {{.State.Running}} {{.Config.Hostname}} {{.HostConfig.LogConfig.Type}}' "d-$cli"
    [ "$output" = "/d-$cli running true ${id:0:12} json-file" ]
    run $cli exec "d-$cli" hostname
    [ "$output" = "${id:0:12}" ]
    run $cli ps -q --filter "name=d-$cli"
    [ "$output" = "${id:0:12}" ]
  done
}

@test "ps -a shows exited containers with their code; --filter status and exited" {
  docker run --name ex1 busybox sh -c 'exit 2' || true
  docker create --name cr1 busybox true >/dev/null
  for cli in $CLIS; do
    run $cli ps -a --format '{{.Names}} {{.Status}}'
    [[ "$output" == *"ex1 Exited (2)"* ]]
    [[ "$output" == *"cr1 Created"* ]]
    run $cli ps -a --filter status=created --format '{{.Names}}'
    [ "$output" = "cr1" ]
    run $cli ps -a --filter exited=2 --format '{{.Names}}'
    [ "$output" = "ex1" ]
  done
}

@test "run options: -e -w -u --hostname --entrypoint -v" {
  mkdir -p "$BT_DIR/vol"
  echo hostfile > "$BT_DIR/vol/f"
  chmod 777 "$BT_DIR/vol"  # the container writes as nobody
  for cli in $CLIS; do
    run $cli run --rm -e A=1 -e B=two -w /tmp -u nobody --hostname hh -v "$BT_DIR/vol:/data" busybox \
      sh -c 'echo $A $B $(pwd) $(id -u) $(hostname) $(cat /data/f); echo w > /data/out-'"$cli"
    [ "$status" -eq 0 ]
    [ "$output" = "1 two /tmp 65534 hh hostfile" ]
    [ -f "$BT_DIR/vol/out-$cli" ]
    run $cli run --rm --entrypoint /bin/echo busybox via entrypoint
    [ "$output" = "via entrypoint" ]
    run $cli run --rm -v "$BT_DIR/vol:/data:ro" busybox sh -c 'echo x > /data/ro'
    [ "$status" -ne 0 ]
  done
}

@test "--memory and --cpus become cgroup limits" {
  for cli in $CLIS; do
    id=$($cli run -d --memory 64m --cpus 0.5 busybox sleep 30)
    [ "$(cat /sys/fs/cgroup/memory/berth/$id/memory.limit_in_bytes)" -eq 67108864 ]
    [ "$(cat /sys/fs/cgroup/cpu/berth/$id/cpu.cfs_quota_us)" -eq 50000 ]
    run $cli inspect -f '{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}' $id
    [ "$output" = "67108864 500000000" ]
    $cli rm -f $id
  done
}

@test "logs: --tail, -t, and -f that ends when the container exits" {
  # "late" waits for the test's go-ahead, not for a second to pass: under load the lines before
  # it could take longer than any fixed sleep, and --tail 2 must still see line5 and oops.
  docker run -d --name lg busybox sh -c 'for i in 1 2 3 4 5; do echo line$i; done; echo oops >&2; until [ -e /tmp/go ]; do sleep 0.05; done; echo late'
  local i seen=
  for i in $(seq 1 100); do docker logs lg 2>&1 | grep -q oops && { seen=1; break; }; sleep 0.1; done
  [ -n "$seen" ] || { echo "no oops in the log after 10 s"; docker logs lg; false; }
  for cli in $CLIS; do
    run $cli logs --tail 2 lg
    [[ "$output" == *line5* ]]
    [[ "$output" == *oops* ]]
    [[ "$output" != *line4* ]]
    run $cli logs -t lg
    [[ "${lines[0]}" =~ ^20[0-9-]+T[0-9:.]+Z\ line1$ ]]
  done
  # -f follows while the container runs: started before "late" is written (it has printed oops:
  # it is attached), it shows "late" and ends when the container exits.
  timeout 10 docker logs -f lg >"$BT_DIR/follow.out" 2>&1 &
  local follow=$!
  for i in $(seq 1 100); do grep -q oops "$BT_DIR/follow.out" && break; sleep 0.1; done
  docker exec lg touch /tmp/go
  wait "$follow" || { echo "logs -f ended with $?"; cat "$BT_DIR/follow.out"; false; }
  run cat "$BT_DIR/follow.out"
  [[ "$output" == *late* ]]
  # The log is Docker's json-file format on disk.
  local path=$(docker inspect -f '{{.LogPath}}' lg)
  head -1 "$path" | jq -e '.stream == "stdout" and .log == "line1\n"' >/dev/null
  # stdout and stderr stay apart.
  run bash -c "docker logs lg 2>/dev/null"
  [[ "$output" != *oops* ]]
}

@test "exec: output, exit code, -e -u -w, and stdin" {
  docker run -d --name ex busybox sleep 60
  for cli in $CLIS; do
    run $cli exec ex sh -c 'exit 7'
    [ "$status" -eq 7 ]
    # The CLI reads the exit code as soon as the stream ends: it must be recorded by then.
    for _ in $(seq 1 20); do
      run $cli exec ex false
      [ "$status" -eq 1 ]
    done
    run $cli exec -e X=y -u nobody -w /tmp ex sh -c 'echo $X $(id -u) $(pwd)'
    [ "$output" = "y 65534 /tmp" ]
    run bash -c "echo piped | $([ $cli = berth ] && echo "$BIN/berth" || echo docker) exec -i ex cat"
    [ "$output" = "piped" ]
    run $cli exec ex nosuchbinary
    [ "$status" -eq 127 ] || [ "$status" -eq 126 ]
  done
}

@test "run -it and exec -it get a terminal of the client's size" {
  run script -qec "docker run -it --rm busybox sh -c 'tty; stty size'" /dev/null
  [ "$status" -eq 0 ]
  [[ "$output" == */dev/pts/0* ]]
  docker run -d -it --name tt busybox
  run script -qec "stty rows 33 cols 101; docker exec -it tt stty size" /dev/null
  echo "docker exec -it: $output"
  [[ "$output" == *"33 101"* ]]
  run script -qec "stty rows 33 cols 101; $BIN/berth exec -it tt stty size" /dev/null
  echo "berth exec -it: $output"
  [[ "$output" == *"33 101"* ]]
}

@test "stop -t, kill -s, restart, wait" {
  for cli in $CLIS; do
    $cli run -d --name "s-$cli" busybox sh -c 'trap "exit 42" TERM; while :; do sleep 0.1; done'
    sleep 0.3
    run $cli stop -t 5 "s-$cli"
    [ "$status" -eq 0 ]
    run $cli inspect -f '{{.State.Status}} {{.State.ExitCode}}' "s-$cli"
    [ "$output" = "exited 42" ]
    $cli start "s-$cli"
    sleep 0.2
    $cli kill -s KILL "s-$cli"
    run $cli wait "s-$cli"
    [ "$output" = "137" ]
    $cli restart -t 1 "s-$cli"
    run $cli inspect -f '{{.State.Status}}' "s-$cli"
    [ "$output" = "running" ]
  done
}

@test "wait on a running container returns its exit code when it exits" {
  docker run -d --name w1 busybox sh -c 'sleep 0.5; exit 5'
  run berth wait w1
  [ "$output" = "5" ]
}

@test "--restart on-failure:2 restarts twice then stops" {
  docker run -d --name rs --restart on-failure:2 busybox sh -c 'exit 1'
  for _ in $(seq 1 50); do
    [ "$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' rs)" = "exited 2" ] && break
    sleep 0.1
  done
  run docker inspect -f '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}' rs
  [ "$output" = "exited 2 1" ]
}

@test "rm refuses a running container without -f; rm -f removes everything it had" {
  for cli in $CLIS; do
    id=$($cli run -d busybox sleep 60)
    run $cli rm $id
    [ "$status" -ne 0 ]
    [[ "$output" == *"You cannot remove a running container"* ]]
    run $cli rm -f $id
    [ "$status" -eq 0 ]
    [ ! -e "$BT_DIR/data/containers/$id" ]
    [ ! -e "$BT_DIR/exec/c/$id" ]
    ! grep -q "$id" /proc/self/mountinfo
    [ -z "$(runc --root "$BT_DIR/exec/runc" list -q)" ]
  done
}

@test "rename, top, stats --no-stream, attach, container prune" {
  docker run -d -it --name old busybox
  for cli in $CLIS; do
    $cli rename old new
    run $cli ps --format '{{.Names}}'
    [ "$output" = "new" ]
    $cli rename new old
    run $cli top old
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *PID* ]]
    [[ "$output" == *"sh"* ]]
    run $cli stats --no-stream --format '{{.Name}} {{.PIDs}}' old
    [ "$status" -eq 0 ]
    [ "$output" = "old 1" ]
  done
  docker run -d --name att busybox sh -c 'sleep 0.5; echo attached-out'
  run timeout 10 docker attach att
  [[ "$output" == *attached-out* ]]
  docker create --name pr1 busybox true >/dev/null
  run docker container prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"Total reclaimed space"* ]]
  run docker ps -a --format '{{.Names}}'
  [[ "$output" != *pr1* ]]
  [[ "$output" == *old* ]]
}

@test "50 run -d in a row then rm -f leaves no mounts, runc state or shims" {
  for i in $(seq 1 50); do docker run -d busybox sleep 60 >/dev/null; done
  [ "$(docker ps -q | wc -l)" -eq 50 ]
  docker rm -f $(docker ps -aq) >/dev/null
  [ -z "$(docker ps -aq)" ]
  [ -z "$(runc --root "$BT_DIR/exec/runc" list -q)" ]
  ! grep -q "$BT_DIR/exec/c/" /proc/self/mountinfo
  [ -z "$(ls "$BT_DIR/exec/c")" ]
}

@test "restarts in parallel, as compose restart makes them, each come back with its network" {
  docker network create rnet >/dev/null
  for n in r1 r2 r3; do docker run -d --name $n --net rnet busybox sleep 300 >/dev/null; done
  for _ in 1 2 3 4 5; do
    pids=()
    for n in r1 r2 r3; do docker restart -t 0 $n >/dev/null & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p"; done
    # The stop's teardown never takes the new run's namespace: each has its address and runs.
    for n in r1 r2 r3; do
      [ "$(docker inspect -f '{{.State.Running}}' $n)" = true ]
      docker exec $n ip -4 addr show eth0 | grep -q 'inet '
    done
  done
  docker rm -f r1 r2 r3 >/dev/null
  docker network rm rnet >/dev/null
}
