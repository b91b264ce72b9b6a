#!/usr/bin/env bats
# The container filesystem endpoints through both CLIs and the API: docker diff
# (GET /containers/{id}/changes), docker cp (GET|HEAD|PUT /containers/{id}/archive) and docker
# commit (POST /commit).

load helpers
bats_require_minimum_version 1.5.0

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }
teardown() {
  docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  rm -rf "$BT_DIR/out" "$BT_DIR/vol"
}

# The program behind a CLI name, for `bash -c` pipelines (berth is a function of helpers.bash).
exe() { if [ "$1" = berth ]; then echo "$BIN/berth"; else echo "$1"; fi; }

# Waits until the container has made /ready.
wait_ready() {
  for _ in $(seq 1 100); do
    docker exec "$1" test -e /ready 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

@test "diff: modified, added and deleted paths, running and stopped, in Docker's format" {
  docker run -d --name d1 busybox sh -c \
    'echo more >> /etc/passwd; echo x > /etc/x; rm /var/www/index.html; mkdir /newdir; touch /newdir/f /ready; sleep 300'
  wait_ready d1
  local want="C /etc
C /etc/passwd
A /etc/x
A /newdir
A /newdir/f
A /ready
C /var
C /var/www
D /var/www/index.html"
  for cli in $CLIS; do
    run $cli diff d1
    [ "$status" -eq 0 ]
    [ "$output" = "$want" ]
  done
  docker stop -t 0 d1 >/dev/null
  for cli in $CLIS; do
    run $cli container diff d1
    [ "$output" = "$want" ]
  done
  # Nothing changed: no lines (the API answers null, as dockerd).
  docker create --name d2 busybox >/dev/null
  run docker diff d2
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  [ "$(api http://x/containers/d2/changes)" = "null" ]
  run docker diff nope
  [ "$status" -ne 0 ]
  [[ "$output" == *"No such container: nope"* ]]
}

@test "cp from a container: files, directories, symlinks, -L and a tar stream on stdout" {
  docker run -d --name c1 busybox sh -c \
    'mkdir -p /d/sub; echo one > /d/one; echo two > /d/sub/two; ln -s /d/one /link; touch /ready; sleep 300'
  wait_ready c1
  for cli in $CLIS; do
    rm -rf "$BT_DIR/out"; mkdir -p "$BT_DIR/out"
    # A file into a directory, and to a new name.
    $cli cp c1:/d/one "$BT_DIR/out/"
    [ "$(cat "$BT_DIR/out/one")" = one ]
    $cli cp c1:/d/one "$BT_DIR/out/renamed"
    [ "$(cat "$BT_DIR/out/renamed")" = one ]
    # A directory: into an existing one it keeps its name, to a new path it takes that name;
    # "/." copies its contents.
    $cli cp c1:/d "$BT_DIR/out/"
    [ "$(cat "$BT_DIR/out/d/sub/two")" = two ]
    $cli cp c1:/d "$BT_DIR/out/newd"
    [ "$(cat "$BT_DIR/out/newd/sub/two")" = two ]
    mkdir "$BT_DIR/out/contents"
    $cli cp c1:/d/. "$BT_DIR/out/contents"
    [ "$(cat "$BT_DIR/out/contents/one")" = one ]
    # A symlink is copied as a symlink; -L copies what it points to, under the link's name.
    $cli cp c1:/link "$BT_DIR/out/"
    [ "$(readlink "$BT_DIR/out/link")" = /d/one ]
    rm "$BT_DIR/out/link"
    $cli cp -L c1:/link "$BT_DIR/out/"
    [ -f "$BT_DIR/out/link" ] && [ "$(cat "$BT_DIR/out/link")" = one ]
    # "-": the archive itself, with Docker's names.
    run bash -c "$(exe $cli) cp c1:/d - | tar -t | sort"
    [ "$output" = "d/
d/one
d/sub/
d/sub/two" ]
    run bash -c "$(exe $cli) cp c1:/d/one - | tar -xO"
    [ "$output" = one ]
  done
}

@test "cp into a container: files, directories, a tar stream on stdin, a stopped container" {
  docker run -d --name c2 busybox sh -c 'mkdir /dst; touch /ready; sleep 300'
  wait_ready c2
  mkdir -p "$BT_DIR/out/tree/sub"
  echo hello > "$BT_DIR/out/file"
  echo deep > "$BT_DIR/out/tree/sub/deep"
  ln -s file "$BT_DIR/out/rel-link"
  for cli in $CLIS; do
    docker exec c2 rm -rf /dst /newname
    docker exec c2 mkdir /dst
    $cli cp "$BT_DIR/out/file" c2:/dst/
    $cli cp "$BT_DIR/out/file" c2:/dst/renamed
    $cli cp "$BT_DIR/out/tree" c2:/dst
    $cli cp "$BT_DIR/out/tree" c2:/newname
    $cli cp "$BT_DIR/out/rel-link" c2:/dst/
    run docker exec c2 sh -c 'cat /dst/file /dst/renamed /dst/tree/sub/deep /newname/sub/deep; readlink /dst/rel-link'
    [ "$output" = "hello
hello
deep
deep
file" ]
    tar -C "$BT_DIR/out" -cf - file | $cli cp - c2:/tmp
    [ "$(docker exec c2 cat /tmp/file)" = hello ]
    # A stream must go into a directory.
    run $cli cp - c2:/dst/file < /dev/null
    [ "$status" -ne 0 ]
    [[ "$output" == *'destination "c2:/dst/file" must be a directory'* ]]
  done
  # A stopped container: its rootfs is mounted for the copy, and the files are there at start.
  docker create --name c3 busybox sh -c 'cat /copied /tree/sub/deep' >/dev/null
  docker cp "$BT_DIR/out/file" c3:/copied
  berth cp "$BT_DIR/out/tree" c3:/tree
  run docker start -a c3
  [ "$output" = "hello
deep" ]
  run bash -c "docker cp c3:/tree/sub/deep - | tar -xO"
  [ "$output" = deep ]
  run bash -c "$BIN/berth cp c3:/copied - | tar -xO"
  [ "$output" = hello ]
  # Nothing stays mounted after a copy from a stopped container.
  ! grep -q "$BT_DIR/exec/c/$(docker inspect -f '{{.Id}}' c3 | cut -c1-12)/rootfs" /proc/mounts
}

@test "cp errors carry Docker's words" {
  docker run -d --name e1 busybox sh -c 'touch /ready; sleep 300'
  wait_ready e1
  for cli in $CLIS; do
    run $cli cp e1:/nope "$BT_DIR/x"
    [ "$status" -ne 0 ]
    [ "$output" = "Error response from daemon: Could not find the file /nope in container e1" ]
    run $cli cp nosuch:/etc/passwd "$BT_DIR/x"
    [[ "$output" == *"No such container: nosuch"* ]]
  done
  # Extracting into a non-directory: 400; an empty path: 400.
  tar -C /etc -cf "$BT_DIR/one.tar" hostname
  run curl -s -o /dev/null -w '%{http_code}' --unix-socket "$BT_SOCK" -X PUT \
    -H 'Content-Type: application/x-tar' --data-binary @"$BT_DIR/one.tar" \
    "http://x/containers/e1/archive?path=/etc/passwd"
  [ "$output" = 400 ]
  run api -X PUT --data-binary @"$BT_DIR/one.tar" "http://x/containers/e1/archive?path=/etc/passwd"
  [[ "$output" == *'"message":"extraction point is not a directory"'* ]]
  run api "http://x/containers/e1/archive"
  [[ "$output" == *"path cannot be empty"* ]]
  # A read-only rootfs refuses, a writable bind mount in it does not.
  mkdir -p "$BT_DIR/vol"
  docker run -d --name ro --read-only -v "$BT_DIR/vol:/data" busybox sleep 300 >/dev/null
  for cli in $CLIS; do
    run $cli cp /etc/hostname ro:/tmp
    [ "$status" -ne 0 ]
    [[ "$output" == *"container rootfs is marked read-only"* ]]
  done
  docker cp /etc/hostname ro:/data/
  cmp /etc/hostname "$BT_DIR/vol/hostname"
  docker run -d --name rov -v "$BT_DIR/vol:/data:ro" busybox sleep 300 >/dev/null
  run docker cp /etc/hostname rov:/data/
  [[ "$output" == *"mounted volume is marked read-only"* ]]
}

@test "cp sees bind mounts, running or stopped" {
  mkdir -p "$BT_DIR/vol"
  echo onhost > "$BT_DIR/vol/hostfile"
  docker run -d --name b1 -v "$BT_DIR/vol:/data" busybox sleep 300 >/dev/null
  run bash -c "docker cp b1:/data/hostfile - | tar -xO"
  [ "$output" = onhost ]
  docker cp /etc/hostname b1:/data/fromcp
  cmp /etc/hostname "$BT_DIR/vol/fromcp"
  docker stop -t 0 b1 >/dev/null
  run bash -c "$BIN/berth cp b1:/data/hostfile - | tar -xO"
  [ "$output" = onhost ]
  berth cp /etc/hostname b1:/data/fromcp2
  cmp /etc/hostname "$BT_DIR/vol/fromcp2"
  # ... and the bind was not written into the container's own layer.
  run docker diff b1
  [[ "$output" != *"/data/fromcp"* ]]
}

@test "cp stays inside the container: symlinks and .. resolve in its root" {
  mkdir -p "$BT_DIR/out"
  echo HOST-SECRET > "$BT_DIR/out/secret"
  docker run -d --name s1 busybox sh -c \
    "echo inside > /secret; ln -s ../../../../../../../../../../$BT_DIR/out/secret /abs-escape; ln -s / /up; touch /ready; sleep 300"
  wait_ready s1
  for cli in $CLIS; do
    # ../ above the container's root stays at its root.
    run bash -c "$(exe $cli) cp s1:/../../../../../secret - | tar -xO"
    [ "$output" = inside ]
    # A symlink leading "out" is followed inside the container: no such file there.
    run $cli cp -L s1:/abs-escape "$BT_DIR/out/got"
    [ "$status" -ne 0 ]
    [ ! -e "$BT_DIR/out/got" ]
    run $cli cp s1:/up/../../secret -
    [ "$status" -eq 0 ]
    # Writing through the same symlinks lands inside the container.
    $cli cp /etc/hostname s1:/up/../../../tmp/
    [ "$(docker exec s1 cat /tmp/hostname)" = "$(cat /etc/hostname)" ]
    docker exec s1 rm /tmp/hostname
    $cli cp /etc/hostname s1:/up/tmp/
    [ "$(docker exec s1 cat /tmp/hostname)" = "$(cat /etc/hostname)" ]
    run $cli cp /etc/hostname s1:/abs-escape
    [ "$status" -ne 0 ]
    [[ "$output" == *"Could not find the file"* ]]
  done
  [ "$(cat "$BT_DIR/out/secret")" = HOST-SECRET ]
  # An archive entry that climbs out of the destination is refused, and nothing is written.
  python3 - "$BT_DIR/out/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"pwned\n"
    i = tarfile.TarInfo("../../../../../../../tmp/bt-fs-pwned")
    i.size = len(data)
    t.addfile(i, io.BytesIO(data))
PY
  run api -X PUT --data-binary @"$BT_DIR/out/evil.tar" "http://x/containers/s1/archive?path=/tmp"
  [[ "$output" == *"escapes the extraction directory"* ]]
  [ ! -e /tmp/bt-fs-pwned ]
  run docker exec s1 test -e /tmp/bt-fs-pwned
  [ "$status" -ne 0 ]
}

@test "HEAD archive: the path stat header, as dockerd encodes it" {
  docker run -d --name h1 busybox sh -c 'ln -s /etc/passwd /pw; touch /ready; sleep 300'
  wait_ready h1
  run bash -c "curl -sI --unix-socket $BT_SOCK 'http://x/containers/h1/archive?path=/pw' | tr -d '\r' | sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d"
  [[ "$output" == '{"name":"pw","size":11,"mode":134218239,"mtime":"'*'","linkTarget":"/etc/passwd"}' ]]
  run bash -c "curl -sI --unix-socket $BT_SOCK 'http://x/containers/h1/archive?path=/etc/' | tr -d '\r' | sed -n 's/^X-Docker-Container-Path-Stat: //p' | base64 -d"
  [[ "$output" == '{"name":"etc","size":'*',"mode":2147484141,'* ]]
  run curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$BT_SOCK" 'http://x/containers/h1/archive?path=/nope'
  [ "$output" = 404 ]
}

@test "commit: a new image with the container's changes and config, history and -c changes" {
  docker run -d --name m1 -e FOO=bar busybox sh -c 'echo committed > /hello; rm /var/www/index.html; touch /ready; sleep 300'
  wait_ready m1
  local n=0
  for cli in $CLIS; do
    n=$((n + 1))
    run $cli commit -m "my msg" -a "me <me@x>" -c 'CMD ["cat", "/hello"]' -c 'ENV ADDED=1' \
      -c 'EXPOSE 8080' -c 'LABEL l=v' -c 'WORKDIR /var' -c 'USER nobody' m1 committed:v$n
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^sha256:[0-9a-f]{64}$ ]]
    local id=$output
    run docker run --rm committed:v$n
    [ "$output" = committed ]
    run docker run --rm committed:v$n sh -c 'ls /var/www; pwd; id -u; echo $FOO $ADDED'
    [ "$output" = "/var
65534
bar 1" ]
    [ "$(docker image inspect -f '{{.Id}} {{.Comment}} {{.Author}} {{json .Config.ExposedPorts}} {{.Config.Labels.l}}' committed:v$n)" = \
      "$id my msg me <me@x> {\"8080/tcp\":{}} v" ]
    [ "$(docker image inspect -f '{{.Parent}} {{.Container}}' committed:v$n)" = \
      "$(docker image inspect -f '{{.Id}}' busybox) $(docker inspect -f '{{.Id}}' m1)" ]
    run docker history --no-trunc --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}' committed:v$n
    [ "${lines[0]}" = "$id|sh -c echo committed > /hello; rm /var/www/index.html; touch /ready; sleep 300|my msg" ]
    [ "${#lines[@]}" -eq 2 ]  # the image's own entry below
    # Each history row carries its own layer's size: together, the image's.
    local sum=$(api "http://x/images/committed:v$n/history" | python3 -c 'import json,sys; print(sum(r["Size"] for r in json.load(sys.stdin)))')
    [ "$sum" = "$(docker image inspect -f '{{.Size}}' committed:v$n)" ]
    [ "$(api "http://x/images/committed:v$n/history" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Size"] > 0)')" = True ]
  done
  # Changes Docker refuses, and an unknown container.
  run docker commit -c 'FROM busybox' m1 bad
  [ "$status" -ne 0 ]
  [[ "$output" == *"from is not a valid change command"* ]]
  run docker commit -c 'STOPSIGNAL 9' m1 bad
  [[ "$output" == *"stopsignal is not a valid change command"* ]]
  run docker commit nosuch
  [[ "$output" == *"No such container: nosuch"* ]]
  # An untouched container commits to an image with no new layer.
  docker create --name m2 busybox >/dev/null
  run docker commit m2 empty:1
  [ "$status" -eq 0 ]
  [ "$(docker image inspect -f '{{len .RootFS.Layers}}' empty:1)" = "$(docker image inspect -f '{{len .RootFS.Layers}}' busybox)" ]
  # The new images run.
  [ "$(docker run --rm empty:1 echo ok)" = ok ]
  docker rmi committed:v1 committed:v2 empty:1 >/dev/null 2>&1 || docker rmi committed:v1 empty:1 >/dev/null
}

@test "commit pauses a running container while it reads the layer, and leaves a paused one paused" {
  docker run -d --name p1 busybox sleep 300 >/dev/null
  local since=$(date +%s)
  docker commit p1 paused:1 >/dev/null
  run docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=p1 --filter event=pause --filter event=unpause --filter event=commit --format '{{.Action}}'
  [ "$(echo "$output" | tr '\n' ' ')" = "pause commit unpause " ]
  [ "$(docker inspect -f '{{.State.Paused}}' p1)" = false ]
  # Without pause, no events; a container the user paused stays paused.
  docker pause p1
  docker commit p1 paused:2 >/dev/null
  [ "$(docker inspect -f '{{.State.Paused}}' p1)" = true ]
  docker unpause p1
  docker rm -f p1 >/dev/null
  docker rmi paused:1 paused:2 >/dev/null
}

@test "cp reaches a stopped container's named volume" {
  docker run --name v1 -v cpvol:/data busybox sh -c 'echo inside > /data/a'
  run docker cp v1:/data/a -
  [ "$status" -eq 0 ]
  [[ "$output" == *inside* ]]
  echo outside > "$BT_DIR/b"
  docker cp "$BT_DIR/b" v1:/data/b
  [ "$(docker run --rm -v cpvol:/d busybox cat /d/b)" = outside ]
  docker rm v1 >/dev/null
  docker volume rm cpvol >/dev/null
}
