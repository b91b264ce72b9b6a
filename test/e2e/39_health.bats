#!/usr/bin/env bats
# Health checks (issue 8): Config.Healthcheck and the image's HEALTHCHECK run as execs with
# Docker's semantics: State.Health, "(healthy)" in ps, health_status events, the health filter,
# timeout, start period, retries, --no-healthcheck, and the check stopping, restarting with the
# container and resuming after a berthd restart. Intervals are a few hundred ms to keep it quick.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

# Waits (at most $3 s, default 10) until State.Health.Status of $1 is $2.
wait_health() {
  local tries=$(( ${3:-10} * 10 ))
  for _ in $(seq 1 "$tries"); do
    [ "$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "health of $1: $(docker inspect -f '{{json .State.Health}}' "$1")" >&2
  return 1
}

# Waits until {{.State.Health.FailingStreak}} of $1 is $2.
wait_streak() {
  for _ in $(seq 1 100); do
    [ "$(docker inspect -f '{{.State.Health.FailingStreak}}' "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "health of $1: $(docker inspect -f '{{json .State.Health}}' "$1")" >&2
  return 1
}

now() { date +%s.%N; }

@test "a check flips a container unhealthy and back: State.Health, ps, events, the health filter" {
  for cli in $CLIS; do
    local n=flip-$cli since=$(now)
    $cli run -d --name $n --health-cmd 'echo probing; test -f /tmp/ok' --health-interval 200ms \
      --health-retries 2 busybox sh -c 'touch /tmp/ok; exec sleep 600' >/dev/null
    # Before the first probe (the default interval is 30 s): "starting", no result yet.
    $cli run -d --name first-$cli --health-cmd true busybox sleep 600 >/dev/null
    run docker inspect -f '{{json .State.Health}}' first-$cli
    [ "$output" = '{"Status":"starting","FailingStreak":0,"Log":[]}' ]
    run $cli ps --filter name=first-$cli --format '{{.Status}}'
    [[ "$output" == "Up "*" (health: starting)" ]]
    [ "$($cli ps -q --filter health=starting --filter name=first-$cli)" != "" ]
    [ -z "$($cli ps -q --filter health=healthy --filter name=first-$cli)" ]
    docker rm -f first-$cli >/dev/null
    wait_health $n healthy
    run $cli ps --filter name=$n --format '{{.Status}}'
    [[ "$output" == "Up "*" (healthy)" ]]
    run docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}}:{{.Output}}{{end}}' $n
    [[ "$output" == *"0:probing"* ]]
    [ "$($cli ps -q --filter health=healthy --filter name=$n)" != "" ]
    [ -z "$($cli ps -q --filter health=unhealthy --filter name=$n)" ]
    [ -z "$($cli ps -q --filter health=none --filter name=$n)" ]

    $cli exec $n rm /tmp/ok
    wait_health $n unhealthy
    run $cli ps --filter name=$n --format '{{.Status}}'
    [[ "$output" == "Up "*" (unhealthy)" ]]
    [ "$($cli ps -q --filter health=unhealthy --filter name=$n)" != "" ]
    [ -z "$($cli ps -q --filter health=healthy --filter name=$n)" ]
    # At most the last five results; the failures that made it unhealthy are there.
    run docker inspect -f '{{.State.Health.FailingStreak}}' $n
    [ "$output" -ge 2 ]
    local codes=($(docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{end}}' $n))
    [ "${#codes[@]}" -ge 3 ] && [ "${#codes[@]}" -le 5 ]
    [ "${codes[-1]}" = 1 ] && [ "${codes[-2]}" = 1 ]

    $cli exec $n touch /tmp/ok
    wait_health $n healthy
    run docker inspect -f '{{.State.Health.FailingStreak}}' $n
    [ "$output" = 0 ]

    local until=$(now)
    run docker events --since "$since" --until "$until" --filter container=$n \
      --filter event=health_status --format '{{.Action}} {{.Actor.Attributes.name}}'
    [ "$output" = "health_status: healthy $n
health_status: unhealthy $n
health_status: healthy $n" ]
    # Each probe is an exec with dockerd's events; it is not kept once it has exited.
    run docker events --since "$since" --until "$until" --filter container=$n --format '{{.Action}}'
    [[ "$output" == *"exec_create: /bin/sh -c echo probing; test -f /tmp/ok"* ]]
    [[ "$output" == *"exec_start: /bin/sh -c echo probing; test -f /tmp/ok"* ]]
    [[ "$output" == *"exec_die"* ]]
    run docker events --since "$since" --until "$until" --filter container=$n --filter event=exec_die \
      --format '{{.Actor.Attributes.exitCode}}'
    [[ "$output" == *0* && "$output" == *1* ]]
    docker rm -f $n >/dev/null
  done
}

@test "a probe that outlives its timeout fails with Docker's message and is killed" {
  docker run -d --name slow --health-cmd 'sleep 30' --health-interval 200ms --health-timeout 300ms \
    --health-retries 1 busybox sleep 600 >/dev/null
  wait_health slow unhealthy
  run docker inspect -f '{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}' slow
  [ "$output" = "-1 Health check exceeded timeout (300ms)" ]
  # The timed-out probes were killed (SIGTERM): no sleep 30 piles up in the container.
  sleep 1
  run docker exec slow ps -o args
  [ "$(grep -c 'sleep 30' <<<"$output")" -le 1 ]
  docker rm -f slow >/dev/null
}

@test "failures inside the start period do not count; retries failures make it unhealthy" {
  # Start period: failing probes are logged but the streak stays 0 and the status "starting".
  docker run -d --name sp --health-cmd false --health-interval 200ms --health-retries 1 \
    --health-start-period 4s busybox sleep 600 >/dev/null
  for _ in $(seq 1 30); do
    [ "$(docker inspect -f '{{len .State.Health.Log}}' sp)" -gt 0 ] && break
    sleep 0.1
  done
  run docker inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' sp
  [ "$output" = "starting 0" ]
  run docker inspect -f '{{len .State.Health.Log}} {{(index .State.Health.Log 0).ExitCode}}' sp
  [[ "$output" =~ ^[1-5]\ 1$ ]]
  wait_health sp unhealthy 10
  # Retries: with 3, two failures leave it "starting", the third makes it unhealthy.
  docker run -d --name rt --health-cmd false --health-interval 1s --health-retries 3 busybox sleep 600 >/dev/null
  wait_streak rt 2
  run docker inspect -f '{{.State.Health.Status}}' rt
  [ "$output" = starting ]
  wait_streak rt 3
  run docker inspect -f '{{.State.Health.Status}}' rt
  [ "$output" = unhealthy ]
  docker rm -f sp rt >/dev/null
}

@test "the image's HEALTHCHECK runs, container fields override it, --no-healthcheck disables it" {
  docker import -c 'HEALTHCHECK --interval=200ms --retries=1 CMD test -f /tmp/ok' -c 'CMD ["sleep", "600"]' \
    "$BT_DIR/busybox.tar" hcimage >/dev/null
  run docker image inspect -f '{{json .Config.Healthcheck}}' hcimage
  [ "$output" = '{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":200000000,"Retries":1}' ]
  # A loaded image keeps its Healthcheck (docker save | docker load).
  docker save hcimage > "$BT_DIR/hc.tar"
  docker rmi hcimage >/dev/null
  docker load -i "$BT_DIR/hc.tar" >/dev/null
  run docker image inspect -f '{{json .Config.Healthcheck}}' hcimage
  [ "$output" = '{"Test":["CMD-SHELL","test -f /tmp/ok"],"Interval":200000000,"Retries":1}' ]
  docker run -d --name img hcimage >/dev/null
  wait_health img unhealthy
  # --health-cmd replaces the test; the image's interval and retries stay.
  docker run -d --name over --health-cmd true hcimage >/dev/null
  run docker inspect -f '{{json .Config.Healthcheck}}' over
  [ "$output" = '{"Test":["CMD-SHELL","true"],"Interval":200000000,"Retries":1}' ]
  wait_health over healthy
  for cli in $CLIS; do
    $cli run -d --name none-$cli --no-healthcheck hcimage >/dev/null
    # dockerd's merge: NONE is the test, the image's other fields stay (and do nothing).
    run docker inspect -f '{{json .Config.Healthcheck}} {{json .State.Health}}' none-$cli
    [ "$output" = '{"Test":["NONE"],"Interval":200000000,"Retries":1} null' ]
    run $cli ps --filter name=none-$cli --format '{{.Status}}'
    [[ "$output" == "Up "* && "$output" != *"("* ]]
    [ "$($cli ps -q --filter health=none --filter name=none-$cli)" != "" ]
  done
  # The exec form is CMD; NONE takes no arguments; an unknown type is refused.
  docker import -c 'HEALTHCHECK CMD ["true"]' "$BT_DIR/busybox.tar" hcexec >/dev/null
  run docker image inspect -f '{{json .Config.Healthcheck}}' hcexec
  [ "$output" = '{"Test":["CMD","true"]}' ]
  run docker import -c 'HEALTHCHECK NONE x' "$BT_DIR/busybox.tar" hcbad
  [ "$status" -ne 0 ]
  [[ "$output" == *"HEALTHCHECK NONE takes no arguments"* ]]
  run docker import -c 'HEALTHCHECK RUN true' "$BT_DIR/busybox.tar" hcbad
  [[ "$output" == *'Unknown type "RUN" in HEALTHCHECK (try CMD)'* ]]
  docker rm -f img over none-docker none-berth >/dev/null 2>&1 || true
  docker rmi hcimage hcexec >/dev/null
}

@test "the check stops with the container, restarts with it, and resumes after a berthd restart" {
  docker run -d --name life --health-cmd true --health-interval 2s busybox sleep 600 >/dev/null
  wait_health life healthy
  docker stop -t 0 life >/dev/null
  local n1=$(docker inspect -f '{{len .State.Health.Log}} {{(index .State.Health.Log 0).Start}}' life)
  sleep 1.5
  # No probe ran while stopped; State.Health keeps its last status, ps shows none.
  [ "$(docker inspect -f '{{len .State.Health.Log}} {{(index .State.Health.Log 0).Start}}' life)" = "$n1" ]
  run docker inspect -f '{{.State.Health.Status}}' life
  [ "$output" = healthy ]
  run docker ps -a --filter name=life --format '{{.Status}}'
  [[ "$output" == "Exited (137) "* && "$output" != *health* ]]
  docker start life >/dev/null
  run docker inspect -f '{{.State.Health.Status}} {{.State.Health.FailingStreak}}' life
  [ "$output" = "starting 0" ]
  wait_health life healthy

  # berthd dies and comes back: the stored State.Health is there, the check runs again.
  wait_streak life 0
  local last=$(docker inspect -f '{{(index .State.Health.Log 0).End}}' life)
  berth_kill_daemon
  berth_start_daemon
  local since=$(now)
  # (a probe may have ended between that inspect and the kill: the log may have moved by one)
  run docker inspect -f '{{range .State.Health.Log}}{{.End}} {{end}}' life
  [[ "$output" == *"$last"* ]]
  last=$output
  run docker inspect -f '{{.State.Health.Status}}' life
  [ "$output" = starting ]
  wait_health life healthy
  run docker inspect -f '{{range .State.Health.Log}}{{.End}} {{end}}' life
  [ "$output" != "$last" ]
  run docker events --since "$since" --until "$(now)" --filter container=life \
    --filter event=health_status --format '{{.Action}}'
  [ "$output" = "health_status: healthy" ]
  docker rm -f life >/dev/null
}

@test "bad health settings: docker's and dockerd's messages, nothing created" {
  for cli in $CLIS; do
    run $cli run --health-interval 1x busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *'invalid argument "1x" for "--health-interval" flag: time: unknown unit "x" in duration "1x"'* ]]
    run $cli run --health-timeout -1s busybox true
    [[ "$output" == *"--health-timeout cannot be negative"* ]]
    run $cli run --health-retries -1 busybox true
    [[ "$output" == *"--health-retries cannot be negative"* ]]
    run $cli run --no-healthcheck --health-cmd true busybox true
    [[ "$output" == *"--no-healthcheck conflicts with --health-* options"* ]]
    run $cli create --name tiny --health-interval 1ns busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Interval in Healthcheck cannot be less than 1ms"* ]]
  done
  run api -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST \
    -d '{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Test":["CMD","true"],"Retries":-1}}' \
    http://x/v1.41/containers/create?name=neg
  [ "$output" = 400 ]
  run api -H 'Content-Type: application/json' -X POST \
    -d '{"Image":"busybox","Cmd":["true"],"Healthcheck":{"Timeout":500}}' http://x/v1.41/containers/create
  [ "$output" = '{"message":"Timeout in Healthcheck cannot be less than 1ms"}' ]
  [ -z "$(docker ps -aq --filter name=tiny --filter name=neg)" ]
}
