#!/usr/bin/env bats
# The daemon keeps answering under load: containers looping name lookups on a network while many
# others start, stop, connect and disconnect on it (once, the DNS thread and a starting container
# waited for each other and every route froze). Then a census: nothing is left behind.

load helpers

setup_file() {
  berth_setup_daemon
}
teardown_file() { berth_teardown_daemon; }

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }

# Milliseconds a command takes, or 99999 when it did not finish within 5 s.
timed_ms() {
  local t0=$(date +%s%N)
  timeout 5 "$@" >/dev/null 2>&1 || { echo 99999; return; }
  echo $((($(date +%s%N) - t0) / 1000000))
}

@test "name lookups during 200 container starts, stops, connects and disconnects: every docker ps answers within 1 s" {
  docker network create busy >/dev/null
  docker network create side >/dev/null
  # Known and unknown names, looping (a short sleep keeps 4 loopers from starving 2 cores).
  for i in 1 2 3 4; do
    docker run -d --name "looper$i" --net busy busybox sh -c \
      'while :; do nslookup looper1 127.0.0.11 >/dev/null 2>&1; nslookup no-such-name 127.0.0.11 >/dev/null 2>&1; usleep 20000; done' >/dev/null
  done
  # The loopers' lookups are answered before the churn starts.
  run docker exec looper2 nslookup looper1 127.0.0.11
  [ "$status" -eq 0 ]
  [[ "$output" == *"Address"*"172."* ]]

  # 2 workers x 100 containers: run on `busy`, connect to `side`, disconnect, stop, remove. (Two:
  # on this 2-core machine more CLI processes at once measure the scheduler, not the daemon.)
  for w in 1 2; do
    (
      for i in $(seq 1 100); do
        n="churn-$w-$i"
        # A frozen daemon must fail the test, not hang it: every step has a deadline.
        timeout 20 docker run -d --name "$n" --net busy busybox sleep 600 >/dev/null || echo "run $n failed" >&2
        timeout 20 docker network connect side "$n" || echo "connect $n failed" >&2
        timeout 20 docker network disconnect side "$n" || echo "disconnect $n failed" >&2
        timeout 20 docker stop -t 0 "$n" >/dev/null || echo "stop $n failed" >&2
        timeout 20 docker rm "$n" >/dev/null || echo "rm $n failed" >&2
        [ -s "$BT_DIR/churn.err" ] && exit 1
      done
    ) 2>>"$BT_DIR/churn.err" 3>&- &
    echo $! >>"$BT_DIR/churn.pids"
  done

  local slow=0 samples=0 worst=0 api_worst=0
  while :; do
    local alive=0
    for p in $(cat "$BT_DIR/churn.pids"); do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || break
    ms=$(timed_ms docker ps)
    samples=$((samples + 1))
    [ "$ms" -gt "$worst" ] && worst=$ms
    [ "$ms" -gt 1000 ] && slow=$((slow + 1))
    # The daemon's own share, without the CLI's start-up: the list route alone.
    api_ms=$(timed_ms curl -sf --unix-socket "$BT_SOCK" http://x/v1.41/containers/json)
    [ "$api_ms" -gt "$api_worst" ] && api_worst=$api_ms
    sleep 0.2
  done
  echo "docker ps: $samples samples, worst $worst ms, $slow over 1 s; GET /containers/json worst $api_worst ms" >&3
  [ "$samples" -gt 5 ]
  [ "$slow" -eq 0 ]
  # Every churn step succeeded.
  run cat "$BT_DIR/churn.err"
  [ -z "$output" ]

  # Lookups still answer after the churn, and names of removed containers are gone.
  run docker exec looper3 nslookup looper4 127.0.0.11
  [ "$status" -eq 0 ]
  run docker exec looper3 nslookup churn-1-1 127.0.0.11
  [ "$status" -ne 0 ]

  docker rm -f looper1 looper2 looper3 looper4 >/dev/null
  docker network rm busy side >/dev/null

  # Census: no container, sandbox, veth, bridge besides berth0, port element or shim left.
  [ -z "$(docker ps -aq)" ]
  berth_wait_veths 0
  berth_wait_bridges_reaped
  [ "$(in_ns ip -o link show type bridge | awk -F': ' '{print $2}' | grep -vc '^berth0$')" -eq 0 ]
  [ -z "$(ls "$BT_DIR/exec/netns")" ]
  [ -z "$(ls "$BT_DIR/exec/c")" ]
  [ -z "$(ls "$BT_DIR/data/containers")" ]
  run in_ns nft -j list map inet berth published_any
  [ "$(echo "$output" | jq '[.nftables[] | select(.map) | .map.elem // [] | length] | add')" -eq 0 ]
  [ -z "$(pgrep -f "berth-shim.*$BT_DIR" || true)" ]
}
