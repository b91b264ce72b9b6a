#!/usr/bin/env bats
# Named volumes with the local driver, through the docker and berth CLIs and the API: data under
# <data-root>/volumes/NAME/_data that survives container removal and a kill -9 of berthd, copy-up
# of the image's content, in-use refusal, anonymous volumes and rm -v / --rm, tmpfs and bind-style
# local volumes, --mount of every type, bind propagation, and bad input that changes nothing.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  berth_setup_daemon
  # An image with a VOLUME and content under it.
  docker import -c 'VOLUME ["/var/www"]' -c 'CMD ["sh"]' "$BT_DIR/busybox.tar" withvol >/dev/null
}
teardown_file() {
  # Shared mounts this file made on the host, first (the daemon's teardown unmounts its own).
  for m in $(awk -v d="$BT_DIR/shared" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  berth_teardown_daemon
}
teardown() {
  docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true
  docker volume rm -f $(docker volume ls -q) >/dev/null 2>&1 || true
}

# The volumes and containers there are, one line: what bad input must leave alone.
state() { echo "$(docker volume ls -q | sort | tr '\n' ' ')|$(docker ps -aq | tr '\n' ' ')"; }

@test "volume create, ls, inspect and rm with Docker's shapes (both CLIs)" {
  for cli in $CLIS; do
    run $cli volume create --label team=a --label x v1
    [ "$status" -eq 0 ]
    [ "$output" = v1 ]
    run $cli volume create v2
    [ "$output" = v2 ]
    run $cli volume ls
    [ "${lines[0]}" = "DRIVER    VOLUME NAME" ]
    [ "${lines[1]}" = "local     v1" ]
    [ "${lines[2]}" = "local     v2" ]
    run $cli volume ls -q --filter label=team=a
    [ "$output" = v1 ]
    run $cli volume ls -q --filter name=2
    [ "$output" = v2 ]
    run $cli volume inspect --format '{{.Name}} {{.Driver}} {{.Mountpoint}} {{.Scope}} {{.Labels.team}}' v1
    [ "$output" = "v1 local $BT_DIR/data/volumes/v1/_data local a" ]
    [ -d "$BT_DIR/data/volumes/v1/_data" ]
    run $cli volume rm v1 v2
    [ "$status" -eq 0 ]
    [ ! -e "$BT_DIR/data/volumes/v1" ]
    run $cli volume inspect v1
    [ "$status" -ne 0 ]
    [[ "$output" == *"no such volume"* ]]
  done
  # An unnamed volume gets a generated name of 64 hex digits.
  run docker volume create
  [[ "$output" =~ ^[0-9a-f]{64}$ ]]
}

@test "data in a named volume survives container removal and kill -9 of berthd" {
  run docker run --name w1 -v data1:/d busybox sh -c 'echo kept > /d/f'
  [ "$status" -eq 0 ]
  docker rm w1
  [ "$(cat "$BT_DIR/data/volumes/data1/_data/f")" = kept ]
  run docker run --rm -v data1:/d busybox cat /d/f
  [ "$output" = kept ]
  docker run -d --name live -v data1:/d busybox sleep 1000
  berth_kill_daemon
  berth_start_daemon
  run docker volume ls -q
  [ "$output" = data1 ]
  run docker exec live cat /d/f
  [ "$output" = kept ]
  # Still in use after the restart.
  run docker volume rm data1
  [ "$status" -ne 0 ]
  [[ "$output" == *"volume is in use"* ]]
  docker rm -f live
  run docker run --rm -v data1:/d busybox cat /d/f
  [ "$output" = kept ]
}

@test "an empty new volume gets the image's content (copy-up), unless nocopy" {
  run docker run --rm -v web:/var/www busybox cat /var/www/index.html
  [ "$output" = "<h1>berth</h1>" ]
  run docker run --rm -v web:/x busybox cat /x/index.html
  [ "$output" = "<h1>berth</h1>" ]
  run docker run --rm -v web2:/var/www:nocopy busybox ls -A /var/www
  [ "$status" -eq 0 ]
  [ -z "$output" ]
  # A volume with content keeps it: nothing is copied over it.
  docker run --rm -v web3:/d busybox sh -c 'echo mine > /d/own'
  run docker run --rm -v web3:/var/www busybox ls /var/www
  [ "$output" = own ]
  # --mount type=volume copies as well; volume-nocopy does not.
  run docker run --rm --mount type=volume,source=web4,target=/var/www busybox cat /var/www/index.html
  [ "$output" = "<h1>berth</h1>" ]
  run docker run --rm --mount type=volume,source=web5,target=/var/www,volume-nocopy busybox ls -A /var/www
  [ -z "$output" ]
}

@test "a volume in use is refused on rm with Docker's 409" {
  id=$(docker create -v inuse:/d busybox true)
  run docker volume rm inuse
  [ "$status" -ne 0 ]
  [[ "$output" == *"remove inuse: volume is in use - [$id]"* ]]
  run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/volumes/inuse?force=1"
  [ "$output" = 409 ]
  run docker volume prune -f
  [[ "$output" != *inuse* ]]
  docker rm "$id"
  docker volume rm inuse
  run docker volume ls -q
  [ -z "$output" ]
}

@test "anonymous volumes: -v /path and image VOLUMEs; rm -v and --rm remove them, not named ones" {
  id=$(docker create -v /anon -v keep:/k busybox true)
  run docker inspect --format '{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}} {{.Driver}} {{.Mode}} {{.RW}} [{{.Propagation}}];{{end}}' "$id"
  [[ "$output" =~ volume\ [0-9a-f]{64}\ /anon\ local\ \ true\ \[\]\; ]]
  [[ "$output" == *"volume keep /k local z true [];"* ]]
  anon=$(docker inspect --format '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}{{end}}' "$id")
  docker rm -v "$id"
  run docker volume ls -q
  [ "$output" = keep ]
  # Without -v the anonymous volume stays.
  id=$(docker create -v /anon busybox true)
  anon=$(docker inspect --format '{{range .Mounts}}{{.Name}}{{end}}' "$id")
  docker rm "$id"
  run docker volume ls -q
  [[ "$output" == *"$anon"* ]]
  docker volume rm "$anon"
  # --rm: the anonymous volume of the image's VOLUME goes, the named one stays.
  run docker run --rm -v keep2:/k withvol sh -c 'cat /var/www/index.html; grep -c " /var/www " /proc/mounts'
  [ "${lines[0]}" = "<h1>berth</h1>" ]
  [ "${lines[1]}" = 1 ]
  run docker volume ls -q
  [ "$output" = "keep
keep2" ]
  # The image's VOLUME is in Config.Volumes and Mounts; a -v on the same path wins.
  id=$(docker create -v named:/var/www withvol)
  run docker inspect --format '{{json .Config.Volumes}} {{range .Mounts}}{{.Name}}{{end}}' "$id"
  [ "$output" = '{"/var/www":{}} named' ]
}

@test "ps --filter volume matches a volume's name, a bind's source and destinations" {
  mkdir -p "$BT_DIR/src1"
  a=$(docker create --name fa -v fv:/data busybox true)
  b=$(docker create --name fb -v "$BT_DIR/src1:/b" busybox true)
  run docker ps -a --filter volume=fv --format '{{.Names}}'
  [ "$output" = fa ]
  run docker ps -a --filter volume=/data --format '{{.Names}}'
  [ "$output" = fa ]
  run docker ps -a --filter volume="$BT_DIR/src1" --format '{{.Names}}'
  [ "$output" = fb ]
  run docker ps -a --filter volume=nothing --format '{{.Names}}'
  [ -z "$output" ]
}

@test "tmpfs local volume: mounted at first use, unmounted after the last container stops" {
  for cli in $CLIS; do
    run $cli volume create -o type=tmpfs -o device=tmpfs -o o=size=2m tv
    [ "$status" -eq 0 ]
    run $cli volume inspect --format '{{.Options.type}} {{.Options.device}} {{.Options.o}}' tv
    [ "$output" = "tmpfs tmpfs size=2m" ]
    $cli run -d --name t1 -v tv:/t busybox sleep 1000
    $cli run -d --name t2 -v tv:/t busybox sleep 1000
    run $cli exec t1 sh -c 'grep " /t " /proc/mounts; echo x > /t/f'
    [[ "$output" == "tmpfs /t tmpfs rw,"*"size=2048k"* ]]
    run $cli exec t2 cat /t/f
    [ "$output" = x ]
    grep -q " $BT_DIR/data/volumes/tv/_data " /proc/self/mountinfo
    $cli rm -f t1
    grep -q " $BT_DIR/data/volumes/tv/_data " /proc/self/mountinfo
    $cli rm -f t2
    ! grep -q " $BT_DIR/data/volumes/tv/_data " /proc/self/mountinfo
    $cli volume rm tv
  done
}

@test "bind-style local volume (-o type=none -o o=bind -o device=PATH)" {
  mkdir -p "$BT_DIR/hostdir"
  echo from-host > "$BT_DIR/hostdir/h"
  for cli in $CLIS; do
    $cli volume create -o type=none -o o=bind -o device="$BT_DIR/hostdir" bv
    run $cli run --rm -v bv:/b busybox sh -c "cat /b/h; echo $cli > /b/c"
    [ "$output" = from-host ]
    [ "$(cat "$BT_DIR/hostdir/c")" = "$cli" ]
    ! grep -q " $BT_DIR/data/volumes/bv/_data " /proc/self/mountinfo
    $cli volume rm bv
    # Removing the volume leaves the host's data alone.
    [ -f "$BT_DIR/hostdir/h" ]
  done
  docker volume create -o type=none -o o=bind -o device=/nonexistent-bt bad
  run docker run --rm -v bad:/b busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"failed to mount local volume"* ]]
}

@test "--mount type=bind, volume and tmpfs (both CLIs)" {
  mkdir -p "$BT_DIR/mb"
  echo b > "$BT_DIR/mb/f"
  for cli in $CLIS; do
    run $cli run --name mm --mount "type=bind,source=$BT_DIR/mb,target=/b,readonly" \
      --mount type=volume,source=mv,target=/v,volume-label=color=red \
      --mount type=tmpfs,target=/t,tmpfs-size=1048576,tmpfs-mode=1770 \
      busybox sh -c 'cat /b/f; touch /b/x 2>/dev/null || echo ro; grep " /t " /proc/mounts; stat -c %a /t; echo v > /v/f'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = b ]
    [ "${lines[1]}" = ro ]
    [[ "${lines[2]}" == "tmpfs /t tmpfs rw,nosuid,nodev,noexec,"*"size=1024k"* ]]
    [ "${lines[3]}" = 1770 ]
    run docker inspect --format '{{range .Mounts}}{{.Type}} {{.Name}} {{.Source}} {{.Destination}} {{.Mode}} {{.RW}} [{{.Propagation}}];{{end}}' mm
    [ "$output" = "bind  $BT_DIR/mb /b  false [rprivate];volume mv $BT_DIR/data/volumes/mv/_data /v z true [];tmpfs   /t  true [];" ]
    run docker volume inspect --format '{{.Labels.color}}' mv
    [ "$output" = red ]
    $cli rm mm
    $cli volume rm mv
  done
  run docker run --rm --mount type=bind,source=/nonexistent-bt,target=/x busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *'invalid mount config for type "bind": bind source path does not exist: /nonexistent-bt'* ]]
}

@test "bind propagation is applied and reported" {
  local sh="$BT_DIR/shared"
  mkdir -p "$sh"
  mount --bind "$sh" "$sh"
  mount --make-shared "$sh"
  for cli in $CLIS; do
    $cli run -d --name pp -v "$sh:/p:rshared" busybox sleep 1000
    run docker inspect --format '{{range .Mounts}}{{.Mode}} {{.Propagation}}{{end}}' pp
    [ "$output" = "rshared rshared" ]
    # A mount made on the host under the shared source shows up in the running container.
    mkdir -p "$sh/sub"
    mount -t tmpfs tmpfs "$sh/sub"
    run $cli exec pp grep -c " /p/sub " /proc/mounts
    umount "$sh/sub"
    [ "$output" = 1 ]
    $cli rm -f pp
  done
  # --mount bind-propagation is reported too, and rprivate by default.
  run docker create --name qq --mount "type=bind,source=$sh,target=/q,bind-propagation=rslave" \
    -v "$BT_DIR:/r" busybox true
  run docker inspect --format '{{range .Mounts}}{{.Destination}}={{.Propagation}} {{end}}' qq
  [[ "$output" == *"/q=rslave "* && "$output" == *"/r=rprivate "* ]]
  docker rm qq
  # rshared from a private mount is Docker's error at start.
  mkdir -p "$BT_DIR/private"
  mount --bind "$BT_DIR/private" "$BT_DIR/private"
  mount --make-private "$BT_DIR/private"
  run docker run --rm -v "$BT_DIR/private:/p:rshared" busybox true
  umount "$BT_DIR/private"
  [ "$status" -ne 0 ]
  [[ "$output" == *"is not a shared mount"* ]]
}

@test "bad input gets Docker's errors and changes nothing" {
  docker volume create keep >/dev/null
  before=$(state)
  run docker volume create 'bad name'
  [[ "$output" == *'create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed'* ]]
  run docker volume create -d nosuch vv
  [[ "$output" == *'create vv: error looking up volume plugin nosuch: plugin "nosuch" not found'* ]]
  run docker volume create -o bogus=1 vv
  [[ "$output" == *'create vv: invalid option key: "bogus"'* ]]
  run docker volume rm nothere
  [[ "$output" == *"no such volume"* ]]
  run docker run --rm -v keep:/x:rshared busybox true
  [[ "$output" == *"invalid mount config for type \"volume\": field BindOptions must not be specified"* ]]
  run docker run --rm -v 'bad name:/x' busybox true
  [[ "$output" == *"includes invalid characters"* ]]
  run docker run --rm -v keep:/x:bogus busybox true
  [[ "$output" == *"invalid mode: bogus"* ]]
  run docker run --rm -v aa:/x -v bb:/x busybox true
  [[ "$output" == *"Duplicate mount point: /x"* ]]
  run docker run --rm -v newvol:/x -v bb:relative busybox true
  [[ "$output" == *"mount path must be absolute"* ]]
  run docker run --rm --mount type=volume,source=v9,target=/x,volume-driver=nosuch busybox true
  [[ "$output" == *'plugin "nosuch" not found'* ]]
  run docker run --rm --mount type=tmpfs,source=x,target=/t busybox true
  [[ "$output" == *'invalid mount config for type "tmpfs": field Source must not be specified'* ]]
  docker create --name src1 -v /x busybox true >/dev/null
  before=$(state)
  run docker run --rm --volumes-from src1 busybox true
  [[ "$output" == *"--volumes-from is not supported by Berth yet"* ]]
  [ "$(state)" = "$before" ]
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Name":"x1","Labels":["a"]}' http://x/volumes/create
  [ "$output" = 400 ]
  run api -o /dev/null -w '%{http_code}' "http://x/volumes?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D"
  [ "$output" = 400 ]
  [ "$(state)" = "$before" ]
}

@test "API: create with nulls, list filters and Warnings, force rm of a missing volume, prune" {
  run api -X POST -H 'Content-Type: application/json' \
    -d '{"Name":"h1","Driver":"local","DriverOpts":null,"Labels":{"k":"v"}}' http://x/volumes/create
  [[ "$output" == '{"CreatedAt":"'*'","Driver":"local","Labels":{"k":"v"},"Mountpoint":"'"$BT_DIR"'/data/volumes/h1/_data","Name":"h1","Options":null,"Scope":"local"}' ]]
  api -X POST -d '{"Name":"h2","Labels":{"keep":"1"}}' http://x/volumes/create >/dev/null
  api -X POST -d '{"Name":"h3"}' http://x/volumes/create >/dev/null
  docker create --name user -v h3:/x busybox true
  run api "http://x/volumes?filters=%7B%22dangling%22%3A%5B%22true%22%5D%7D"
  [[ "$output" == '{"Volumes":['*'],"Warnings":null}' ]]
  [[ "$output" == *'"Name":"h1"'* && "$output" == *'"Name":"h2"'* && "$output" != *'"Name":"h3"'* ]]
  run api "http://x/volumes?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D"
  [[ "$output" == *'"Name":"h3"'* && "$output" != *'"Name":"h1"'* ]]
  run api "http://x/volumes?filters=%7B%22driver%22%3A%5B%22local%22%5D%2C%22label%22%3A%5B%22k%3Dv%22%5D%7D"
  [[ "$output" == *'"Name":"h1"'* && "$output" != *'"Name":"h2"'* ]]
  run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/volumes/missing?force=1"
  [ "$output" = 204 ]
  run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/volumes/missing"
  [ "$output" = 404 ]
  echo data > "$BT_DIR/data/volumes/h1/_data/f"
  # label!=keep: h2 stays; h3 is in use.
  run api -X POST "http://x/volumes/prune?filters=%7B%22label!%22%3A%5B%22keep%22%5D%7D"
  [[ "$output" =~ ^\{\"VolumesDeleted\":\[\"h1\"\],\"SpaceReclaimed\":[1-9][0-9]*\}$ ]]
  run api -X POST "http://x/volumes/prune?filters=%7B%22until%22%3A%5B%2210m%22%5D%7D"
  [[ "$output" == *"Invalid filter 'until'"* ]]
  run api -X POST "http://x/volumes/prune"
  [ "$output" = '{"VolumesDeleted":["h2"],"SpaceReclaimed":0}' ]
  run api -X POST "http://x/volumes/prune"
  [ "$output" = '{"VolumesDeleted":null,"SpaceReclaimed":0}' ]
  # rm -v through the API (v=1) takes anonymous volumes only.
  id=$(docker create -v /anon busybox true)
  run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/containers/$id?v=1"
  [ "$output" = 204 ]
  run docker volume ls -q
  [ "$output" = h3 ]
}
