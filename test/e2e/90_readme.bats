#!/usr/bin/env bats
# The README is tested: the ```sh blocks of its "A first session" section (the first session and the
# networking walk-through) run verbatim, line by line, against a berthd started with no flags, as
# `make run` starts it, from a working directory whose build/bin is the build under test. So that the
# README's real defaults (/run/berth.sock, /var/lib/berth, /run/berth) touch nothing of the host's,
# tools/readme_session.bash runs in a private mount namespace with tmpfs over /run and
# /var/lib/berth, and berthd in a network namespace made there. Then the outputs that matter are
# checked, not only the exit codes.

load helpers

README="$BATS_TEST_DIRNAME/../../README.md"

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (mount and network namespaces, runc)"
  command -v docker >/dev/null || skip "the README drives the official docker CLI, which is not installed"
  export RD=$(mktemp -d /tmp/bt-readme.XXXXXX)
  # The host's state before, to check afterwards that the test left it as it was.
  [ -e /run/berth.sock ] && echo yes > "$RD/host-sock-before" || echo no > "$RD/host-sock-before"
  [ -e /var/lib/berth ] && echo yes > "$RD/host-data-before" || echo no > "$RD/host-data-before"
  # Every ```sh block between "## A first session" and the next "## " heading, one file each.
  awk -v dir="$RD" '
    /^## / { in_section = ($0 == "## A first session") }
    in_section && /^```sh[[:space:]]*$/ { n++; inblock = 1; next }
    inblock && /^```/ { inblock = 0; next }
    inblock { print > (dir "/block_" n ".sh") }
  ' "$README"
  mkdir -p "$RD/work/build"
  ln -s "$BIN" "$RD/work/build/bin"
  # The session's own teardown runs on exit; the time limit only guards against a wedged kernel call.
  timeout -k 30 900 unshare --mount --propagation private \
    bash "$BATS_TEST_DIRNAME/tools/readme_session.bash" "$RD/work" "$RD/out" "$RD"/block_*.sh \
    >"$RD/session.log" 2>&1 3>&- || true
}

teardown_file() {
  [ -n "${RD:-}" ] && rm -rf "$RD"
  return 0
}

# The output of the README line that starts with $1 (the first such line run); fails if none was.
out_of() {
  local n=1
  while [ -f "$RD/out/$n.cmd" ]; do
    if [[ "$(cat "$RD/out/$n.cmd")" == "$1"* ]]; then
      cat "$RD/out/$n.out"
      return 0
    fi
    n=$((n + 1))
  done
  echo "no README command starting with '$1' was run" >&2
  return 1
}

@test "README: the first session and the networking walk-through are where the test looks" {
  [ -s "$RD/block_1.sh" ]
  [ -s "$RD/block_2.sh" ]
  grep -q '^docker run --rm busybox echo hello' "$RD/block_1.sh"
  grep -q '^docker network create testNetwork' "$RD/block_2.sh"
}

@test "README: every command of both blocks runs with exit status 0" {
  if [ -f "$RD/out/failed" ]; then
    cat "$RD/out/failed"
    local last=1
    while [ -f "$RD/out/$((last + 1)).cmd" ]; do last=$((last + 1)); done
    [ -f "$RD/out/$last.out" ] && { echo "--- its output:"; cat "$RD/out/$last.out"; }
    echo "--- berthd.log (last 30 lines):"
    tail -30 "$RD/out/berthd.log" 2>/dev/null
    echo "--- session:"
    cat "$RD/session.log"
    false
  fi
  # Both blocks ran to their last line: the network block ends by removing what it made.
  out_of "docker rm -f c1 c2 web && docker network rm testNetwork" >/dev/null
}

@test "README: the image works: hello, hostname, berth's run and ps" {
  run out_of "docker run --rm busybox echo hello"
  [ "$output" = "hello" ]
  run out_of "docker ps"
  [[ "${lines[0]}" == "CONTAINER ID"*"IMAGE"*"NAMES" ]]
  [[ "${lines[1]}" == *"busybox"*"Up "*"b1"* ]]
  run out_of "docker exec b1 hostname"
  [[ "$output" =~ ^[0-9a-f]{12}$ ]]
  run out_of "build/bin/berth images"
  [[ "${lines[0]}" == "REPOSITORY"*"TAG"*"IMAGE ID"* ]]
  [[ "${lines[1]}" == "busybox"*"latest"* ]]
  run out_of "build/bin/berth run --rm -e WHO=berth busybox"
  [ "$output" = "hi from berth" ]
  run out_of "build/bin/berth ps -a --format"
  [[ "${lines[0]}" =~ ^NAMES[[:space:]]+STATUS$ ]]
}

@test "README: networks: DNS by name, inspect, published port, --net=none" {
  run out_of "docker exec c1 ping -c1 c2"
  [[ "$output" == *"1 packets transmitted, 1 packets received, 0% packet loss"* ]]
  run out_of "docker network inspect testNetwork"
  [ "$(echo "$output" | jq -r '[.[0].Containers[].Name] | sort | join(" ")')" = "c1 c2" ]
  [ "$(echo "$output" | jq -r '[.[0].Containers[] | select(.IPv4Address | test("/")) | select(.MacAddress != "")] | length')" = 2 ]
  run out_of "docker port web"
  [[ "$output" == "80/tcp -> 0.0.0.0:8080"* ]]
  run out_of "docker run --net=none --rm busybox ip addr"
  # One interface, and it is lo.
  [ "$(echo "$output" | grep -cE '^[0-9]+: ')" -eq 1 ]
  [[ "${lines[0]}" == "1: lo:"* ]]
}

@test "README: nothing is left behind, and the host's socket and data root were never touched" {
  [ -s "$RD/out/mntns" ]
  # No process (berthd, a shim, a runc) was left in the session's mount namespace: the session
  # looks itself, at its end (from here, once the namespace is gone, its inode number may
  # belong to a new one, a container's of a test running alongside).
  [ -f "$RD/out/left" ]
  local left
  left=$(cat "$RD/out/left")
  [ -z "$left" ] || { echo "left running: $left"; false; }
  [ -e /run/berth.sock ] && now=yes || now=no
  [ "$now" = "$(cat "$RD/host-sock-before")" ]
  [ -e /var/lib/berth ] && now=yes || now=no
  [ "$now" = "$(cat "$RD/host-data-before")" ]
  # The netns lived in the session's /run: the host's /run/netns never saw it.
  ! ls /run/netns 2>/dev/null | grep -q '^bt-readme-'
}
