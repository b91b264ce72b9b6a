#!/usr/bin/env bats
# API semantics that client libraries depend on, each checked with the exact request a client
# library (docker-py, the Go SDK) sends, and through both CLIs where they apply: kill waits for
# the exit, exec framing follows the start body, attach?logs=1&stream=0, detach keys, JSON nulls,
# load errors inside the stream, Docker's words for a pull.

bats_require_minimum_version 1.5.0
load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }
teardown() { docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true; }

HIJACK="$BATS_TEST_DIRNAME/tools/hijack.py"
hijack() { python3 "$HIJACK" "$BT_SOCK" "$@"; }
# The stream's bytes as hex, one string.
hex() { od -An -v -tx1 | tr -d ' \n'; }
# POST a JSON body, print the answer's body; $status is curl's.
post_json() { api -X POST -H 'Content-Type: application/json' -d "$2" "http://x/v1.41$1"; }
exec_create() { post_json "/containers/$1/exec" "$2" | jq -r .Id; }

@test "kill (SIGKILL) answers after the exit: inspect says stopped, DELETE without force works" {
  for i in 1 2 3 4 5; do
    id=$(docker run -d busybox sleep 1000)
    # docker-py: kill() sends no signal; remove() sends v, link and force as False.
    run api -o /dev/null -w '%{http_code}' -X POST "http://x/v1.41/containers/$id/kill"
    [ "$output" = 204 ]
    [ "$(api "http://x/v1.41/containers/$id/json" | jq -r .State.Running)" = false ]
    run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/v1.41/containers/$id?v=False&link=False&force=False"
    [ "$output" = 204 ]
  done
  for cli in $CLIS; do
    $cli run -d --name "k-$cli" busybox sleep 1000 >/dev/null
    $cli kill "k-$cli" >/dev/null
    run $cli rm "k-$cli"
    [ "$status" -eq 0 ]
  done
  [ -z "$(docker ps -aq)" ]
}

@test "exec output is framed as the start body's Tty says, not the exec's own" {
  docker run -d --name ex busybox sleep 1000 >/dev/null
  # A non-TTY exec started with Tty true: raw, stdout and stderr merged, no frame headers.
  id=$(exec_create ex '{"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":false,"Privileged":false,"User":"","Cmd":["sh","-c","echo out; sleep 0.2; echo err >&2"],"Env":null}')
  run --separate-stderr hijack POST "/v1.41/exec/$id/start" --body '{"Tty":true,"Detach":false}'
  [ "$status" -eq 0 ]
  [ "$output" = $'out\nerr' ]
  # A TTY exec started with Tty false: stdcopy frames (stdout, 5 bytes "out\r\n").
  id=$(exec_create ex '{"AttachStdin":false,"AttachStdout":true,"AttachStderr":true,"Tty":true,"Privileged":false,"User":"","Cmd":["echo","out"],"Env":null}')
  [ "$(hijack POST "/v1.41/exec/$id/start" --body '{"Tty":false,"Detach":false}' 2>/dev/null | hex)" = \
    "0100000000000005$(printf 'out\r\n' | hex)" ]
  # Both false: a frame per stream, as the CLIs use it.
  id=$(exec_create ex '{"AttachStdout":true,"AttachStderr":true,"Cmd":["sh","-c","echo out; sleep 0.2; echo err >&2"]}')
  [ "$(hijack POST "/v1.41/exec/$id/start" --body '{"Tty":false}' 2>/dev/null | hex)" = \
    "0100000000000004$(printf 'out\n' | hex)0200000000000004$(printf 'err\n' | hex)" ]
  for cli in $CLIS; do
    run --separate-stderr $cli exec ex sh -c 'echo out; echo err >&2'
    [ "$output" = out ]
    [ "$stderr" = err ]
  done
}

@test "attach?logs=1&stream=0 sends the log, framed as Docker does, and ends" {
  docker run --name done busybox sh -c 'echo hello; sleep 0.2; echo oops >&2' >/dev/null 2>&1
  # docker-py: attach(logs=True, stream=False) on an exited container.
  run hijack POST "/v1.41/containers/done/attach?logs=1&stdout=1&stderr=1&stream=0" --timeout 5
  [ "$status" -eq 0 ]  # the daemon closed the stream
  [ "$(hijack POST "/v1.41/containers/done/attach?logs=1&stdout=1&stderr=1&stream=0" 2>/dev/null | hex)" = \
    "0100000000000006$(printf 'hello\n' | hex)0200000000000005$(printf 'oops\n' | hex)" ]
  # Only the streams asked for.
  [ "$(hijack POST "/v1.41/containers/done/attach?logs=1&stderr=1&stream=0" 2>/dev/null | hex)" = \
    "0200000000000005$(printf 'oops\n' | hex)" ]
  # A TTY container's log is raw; a running container's stream=0 ends too.
  docker run -d -t --name tt busybox sh -c 'echo tty-line; sleep 1000' >/dev/null
  for _ in $(seq 50); do docker logs tt | grep -q tty-line && break; sleep 0.1; done
  run --separate-stderr hijack POST "/v1.41/containers/tt/attach?logs=1&stdout=1&stream=0" --timeout 5
  [ "$status" -eq 0 ]
  [ "$output" = $'tty-line\r' ]
  # stream=0 without logs: nothing, and the end.
  run --separate-stderr hijack POST "/v1.41/containers/done/attach?stdout=1" --timeout 5
  [ "$status" -eq 0 ]
  [ -z "$output" ]
}

@test "detach keys end an attach on a TTY; the container runs on" {
  docker run -d -i -t --name tty1 busybox sh >/dev/null
  since=$(date +%s)
  # Default ctrl-p ctrl-q; the client keeps its side open, so the end is the daemon's.
  run --separate-stderr hijack POST "/v1.41/containers/tty1/attach?stream=1&stdin=1&stdout=1&stderr=1" \
    --send 'echo hi-$((1+1))\n' --send '\x10\x11' --wait 0.5 --timeout 5
  [ "$status" -eq 0 ]
  [[ "$output" == *hi-2* ]]
  [ "$(docker inspect -f '{{.State.Running}}' tty1)" = true ]
  # A custom sequence; a broken-off prefix of it is typed through.
  run --separate-stderr hijack POST "/v1.41/containers/tty1/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,a" \
    --send 'echo \x18b-ok\n' --send '\x18a' --wait 0.5 --timeout 5
  [ "$status" -eq 0 ]
  [[ "$output" == *b-ok* ]]
  [ "$(docker inspect -f '{{.State.Running}}' tty1)" = true ]
  run docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=tty1 --format '{{.Action}}'
  [ "$(echo "$output" | grep -c '^detach$')" -eq 2 ]
  [ "$(echo "$output" | grep -c '^attach$')" -eq 2 ]
  # Docker looks for them on a TTY only: without one the bytes are input like any other.
  docker run -d -i --name notty busybox sh >/dev/null
  run --separate-stderr hijack POST "/v1.41/containers/notty/attach?stream=1&stdin=1&stdout=1" \
    --send '\x10\x11' --wait 0.3 --timeout 1.5
  [ "$status" -eq 3 ]  # still open when the client gave up
}

@test "bad detach keys: attach is a 400 before anything, exec create Docker's 500" {
  docker run -d -i -t --name tty2 busybox sh >/dev/null
  for keys in ctrl-P ctrl- ab DEL,x,; do
    run api -X POST "http://x/v1.41/containers/tty2/attach?stream=1&stdin=1&detachKeys=$keys"
    [ "$output" = "{\"message\":\"Invalid detach keys ($keys) provided\"}" ]
  done
  # dockerd parses them before it looks the container up.
  run api -o /dev/null -w '%{http_code}' -X POST "http://x/v1.41/containers/nosuch/attach?stream=1&detachKeys=ctrl-P"
  [ "$output" = 400 ]
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Cmd":["sh"],"Tty":true,"AttachStdin":true,"DetachKeys":"ctrl-"}' http://x/v1.41/containers/tty2/exec
  [ "$output" = $'{"message":"Invalid escape keys (ctrl-) provided"}\n 500' ]
  [ "$(docker inspect -f '{{len .ExecIDs}}' tty2)" = 0 ]
  # On a terminal (script), so the CLIs get as far as the request: the docker CLI reports the
  # 400 of the upgrade, berth the daemon's message.
  for cli in docker "$BIN/berth"; do
    run timeout 5 script -qfec "$cli attach --detach-keys ctrl-P tty2" /dev/null </dev/null
    [ "$status" -eq 1 ]
    [[ "$output" == *"Invalid detach keys (ctrl-P) provided"* || "$output" == *"received 400"* ]]
  done
  [ "$(docker inspect -f '{{.State.Running}}' tty2)" = true ]
}

@test "detach keys of an exec (its create body's) end its stream; the exec runs on and its exit is kept" {
  docker run -d --name ex2 busybox sleep 1000 >/dev/null
  since=$(date +%s)
  # docker-py sends the key in lower case (detachKeys): Go matches keys case-insensitively.
  id=$(exec_create ex2 '{"AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,"Privileged":false,"User":"","Cmd":["sh"],"Env":null,"detachKeys":"ctrl-x"}')
  run --separate-stderr hijack POST "/v1.41/exec/$id/start" --body '{"Tty":true,"Detach":false}' \
    --send 'echo in-exec\n' --send '\x18' --wait 0.5 --timeout 5
  [ "$status" -eq 0 ]
  [[ "$output" == *in-exec* ]]
  run api "http://x/v1.41/exec/$id/json"
  [ "$(echo "$output" | jq -r .Running)" = true ]
  pid=$(echo "$output" | jq -r .Pid)
  run docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=ex2 --format '{{.Action}} {{index .Actor.Attributes "execID"}}'
  [[ "$output" == *"exec_detach $id"* ]]
  # The detached exec's end is still recorded.
  kill -9 "$pid"
  for _ in $(seq 50); do [ "$(api "http://x/v1.41/exec/$id/json" | jq -r .Running)" = false ] && break; sleep 0.1; done
  [ "$(api "http://x/v1.41/exec/$id/json" | jq -r '"\(.Running) \(.ExitCode)"')" = "false 137" ]
}

@test "the CLI config's detachKeys and --detach-keys, through both CLIs on a terminal" {
  docker run -d -i -t --name tty3 busybox sh >/dev/null
  mkdir -p "$BT_DIR/dockercfg"
  echo '{"detachKeys":"ctrl-x"}' > "$BT_DIR/dockercfg/config.json"
  for cli in "docker" "$BIN/berth"; do
    # script gives the CLI a terminal; its input is what the pipe types.
    run bash -c "(sleep 0.8; printf 'echo typed\n'; sleep 0.5; printf '\030'; sleep 3) |
      DOCKER_CONFIG='$BT_DIR/dockercfg' timeout 10 script -qfec '$cli attach tty3' /dev/null"
    [ "$status" -eq 1 ]  # docker attach exits 1 on the escape sequence
    [[ "$output" == *typed* ]]
    [[ "$output" == *"read escape sequence"* ]]
    run bash -c "(sleep 0.8; printf '\030'; sleep 3) | timeout 10 script -qfec '$cli exec -it --detach-keys ctrl-x tty3 sh' /dev/null"
    [ "$status" -eq 1 ]
    [[ "$output" == *"read escape sequence"* ]]
    [ "$(docker inspect -f '{{.State.Running}}' tty3)" = true ]
  done
  # run -it: the default keys detach silently, with success.
  for cli in "docker" "$BIN/berth"; do
    run bash -c "(sleep 1; printf '\020\021'; sleep 3) | timeout 10 script -qfec '$cli run -it --name r-\$\$ busybox sh' /dev/null"
    [ "$status" -eq 0 ]
    [[ "$output" != *"read escape sequence"* ]]
  done
  [ "$(docker ps -q --filter name=r- | wc -l)" -eq 2 ]
}

@test "JSON nulls are unset, as Go's encoding/json reads them (docker-py's bodies)" {
  # docker-py's IPAMPool and IPAMConfig: every unset field is null.
  run post_json /networks/create '{"Name":"nulls","Driver":null,"Options":null,"IPAM":{"Driver":"default","Config":[{"Subnet":"10.77.0.0/24","IPRange":null,"Gateway":null,"AuxiliaryAddresses":null}],"Options":null},"CheckDuplicate":true,"Internal":null,"Labels":null,"EnableIPv6":null,"Attachable":null,"Ingress":null,"Scope":null,"ConfigOnly":null,"ConfigFrom":null}'
  [[ "$output" == *'"Id":'* ]]
  [ "$(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}}' nulls)" = "10.77.0.0/24 10.77.0.1 " ]
  # docker-py's ContainerConfig and HostConfig with their unset fields null.
  run post_json '/containers/create?name=nullc' '{"Hostname":null,"Domainname":null,"User":null,"Tty":false,"OpenStdin":false,"StdinOnce":false,"AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"Env":null,"Cmd":["sh","-c","echo $HOSTNAME"],"Image":"busybox","Volumes":null,"NetworkDisabled":false,"Entrypoint":null,"WorkingDir":null,"Healthcheck":null,"StopSignal":null,"StopTimeout":null,"Labels":null,"MacAddress":null,"ExposedPorts":null,"Runtime":null,"HostConfig":{"NetworkMode":"nulls","Binds":null,"PortBindings":null,"RestartPolicy":null,"LogConfig":null,"Dns":null,"Memory":null,"NanoCpus":null,"Ulimits":null,"Devices":null,"Tmpfs":null,"Sysctls":null,"CapAdd":null,"Init":null,"PidsLimit":null,"Links":null},"NetworkingConfig":{"EndpointsConfig":{"nulls":{"IPAMConfig":null,"Aliases":null,"Links":null,"DriverOpts":null}}}}'
  [[ "$output" == *'"Id":'* ]]
  run docker start -a nullc
  [ "$status" -eq 0 ]
  [ "$(docker inspect -f '{{.Config.WorkingDir}}|{{.HostConfig.RestartPolicy.Name}}|{{json .Config.Labels}}|{{.HostConfig.NetworkMode}}' nullc)" = "|no|{}|nulls" ]
  # Exec and network connect bodies too.
  docker run -d --name nulle busybox sleep 1000 >/dev/null
  run post_json /containers/nulle/exec '{"Cmd":["true"],"Env":null,"User":null,"WorkingDir":null,"DetachKeys":null,"Tty":null,"Privileged":null}'
  [[ "$output" == *'"Id":'* ]]
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"nulle","EndpointConfig":{"IPAMConfig":{"IPv4Address":null,"LinkLocalIPs":null},"Aliases":null,"Links":null}}' \
    http://x/v1.41/networks/nulls/connect
  [ "$output" = 200 ]
  docker rm -f nullc nulle >/dev/null
  docker network rm nulls >/dev/null
}

@test "a bad archive to /images/load is a 200 with the error in the JSON stream; nothing is loaded" {
  local before
  before=$(docker images -q | wc -l)
  head -c 3000 /etc/services > "$BT_DIR/bad.tar"
  # docker-py: load_image(data) posts the bytes with quiet unset.
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/x-tar' --data-binary @"$BT_DIR/bad.tar" http://x/v1.41/images/load
  [[ "$output" =~ ^\{\"errorDetail\":\{\"message\":\"([^\"]+)\"\},\"error\":\"([^\"]+)\"\}$'\r\n 200'$ ]]
  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ]
  for cli in $CLIS; do
    run $cli load -i "$BT_DIR/bad.tar"
    [ "$status" -eq 1 ]
    [[ "$output" == *"invalid tar header"* ]]
  done
  [ "$(docker images -q | wc -l)" -eq "$before" ]
}

@test "a missing image: No such image, then a pull that fails cleanly without a registry" {
  # docker-py: create_container -> 404 No such image; pull -> POST /images/create. The test's
  # namespace reaches no registry (Docker Hub included): the pull fails with an HTTP error before
  # any progress (the real registry cases are in 22_registry.bats) and nothing is created.
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' -d '{"Image":"nosuch"}' http://x/v1.41/containers/create
  [ "$output" = $'{"message":"No such image: nosuch:latest"}\n 404' ]
  run api -w ' %{http_code}' -X POST 'http://x/v1.41/images/create?tag=latest&fromImage=nosuch'
  [[ "$output" == '{"message":'* ]]
  [ "${output: -3}" -ge 400 ]
  for cli in $CLIS; do
    run $cli run --rm team/app:1 true
    [ "$status" -eq 125 ]
    [[ "$output" == *"Unable to find image 'team/app:1' locally"* ]]
  done
  [ -z "$(docker ps -aq)" ]
  [ -z "$(docker images -q team/app)" ]
}
