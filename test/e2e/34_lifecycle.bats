#!/usr/bin/env bats
# pause/unpause, update, --group-add, legacy links, endpoint DriverOpts and MacAddress on connect
# (issue 8 items 5 and 6), through both CLIs and the HTTP API.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }
teardown() { docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true; }

cg() { cat "/sys/fs/cgroup/$1/berth/$2/$3"; }
# The blkio weight file in a container's cgroup (CFQ's or BFQ's, never at the hierarchy's root);
# none: the kernel takes no weights.
blkio_weight_file() {
  for f in blkio.weight blkio.bfq.weight; do
    [ -e "/sys/fs/cgroup/blkio/berth/$1/$f" ] && { echo "$f"; return 0; }
  done
  return 1
}
# The CLI as a program (for timeout): berth is a shell function in helpers.bash.
prog() { if [ "$1" = berth ]; then echo "$BIN/berth"; else echo docker; fi; }

@test "pause freezes the container: ps, inspect, status filter, exec refused, unpause" {
  for cli in $CLIS; do
    $cli run -d --name "p-$cli" busybox sleep 300 >/dev/null
    local id
    id=$(docker inspect -f '{{.Id}}' "p-$cli")
    run $cli pause "p-$cli"
    [ "$status" -eq 0 ]
    [ "$output" = "p-$cli" ]
    [ "$(cg freezer "$id" freezer.state)" = FROZEN ]
    run $cli inspect -f '{{.State.Status}} {{.State.Running}} {{.State.Paused}}' "p-$cli"
    [ "$output" = "paused true true" ]
    run $cli ps --format '{{.Names}} {{.Status}}' --filter "name=p-$cli"
    [[ "$output" =~ ^p-$cli\ Up\ .*\ \(Paused\)$ ]]
    run $cli ps -q --filter status=paused --filter "name=p-$cli"
    [ "$output" = "${id:0:12}" ]
    run $cli ps -q --filter status=running --filter "name=p-$cli"
    [ -z "$output" ]
    run $cli exec "p-$cli" true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Container $id is paused, unpause the container before exec"* ]]
    run $cli pause "p-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Container $id is already paused"* ]]
    run $cli start "p-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"cannot start a paused container, try unpause instead"* ]]
    run $cli rm "p-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"You cannot remove a paused container $id. Unpause and then stop the container before attempting removal or force remove"* ]]
    run $cli unpause "p-$cli"
    [ "$status" -eq 0 ]
    [ "$output" = "p-$cli" ]
    [ "$(cg freezer "$id" freezer.state)" = THAWED ]
    run $cli inspect -f '{{.State.Status}} {{.State.Paused}}' "p-$cli"
    [ "$output" = "running false" ]
    run $cli exec "p-$cli" echo alive
    [ "$output" = alive ]
    run $cli unpause "p-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Container $id is not paused"* ]]
  done
}

@test "pause of a stopped container is a 409; unpause of a running one Docker's 500" {
  docker create --name pc busybox true >/dev/null
  id=$(docker inspect -f '{{.Id}}' pc)
  run api -o /dev/null -w '%{http_code}' -X POST http://x/containers/pc/pause
  [ "$output" = 409 ]
  run api -X POST http://x/containers/pc/pause
  [[ "$output" == *"Container $id is not running"* ]]
  docker run -d --name pr busybox sleep 300 >/dev/null
  run api -o /dev/null -w '%{http_code}' -X POST http://x/containers/pr/unpause
  [ "$output" = 500 ]
  run api -o /dev/null -w '%{http_code}' -X POST http://x/containers/nope/pause
  [ "$output" = 404 ]
}

@test "pause and unpause events" {
  docker run -d --name pe busybox sleep 300 >/dev/null
  since=$(date +%s)
  docker pause pe >/dev/null
  docker unpause pe >/dev/null
  run timeout 5 docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=pe --filter event=pause --filter event=unpause --format '{{.Action}}'
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'pause\nunpause')" ]
}

@test "stop, kill and rm -f of a paused container work (it is thawed to take the signal)" {
  for cli in $CLIS; do
    $cli run -d --name "s-$cli" busybox sleep 300 >/dev/null
    $cli pause "s-$cli" >/dev/null
    run timeout 20 $(prog $cli) stop -t 1 "s-$cli"
    [ "$status" -eq 0 ]
    run $cli inspect -f '{{.State.Status}} {{.State.Paused}}' "s-$cli"
    [ "$output" = "exited false" ]

    $cli run -d --name "k-$cli" busybox sleep 300 >/dev/null
    $cli pause "k-$cli" >/dev/null
    run timeout 10 $(prog $cli) kill "k-$cli"
    [ "$status" -eq 0 ]
    run $cli inspect -f '{{.State.Status}} {{.State.ExitCode}}' "k-$cli"
    [ "$output" = "exited 137" ]

    $cli run -d --name "r-$cli" busybox sleep 300 >/dev/null
    $cli pause "r-$cli" >/dev/null
    run timeout 10 $(prog $cli) rm -f "r-$cli"
    [ "$status" -eq 0 ]
    run docker inspect "r-$cli"
    [ "$status" -ne 0 ]
  done
}

@test "update changes a running container's cgroup at once, and inspect shows it" {
  # Block I/O weights where the kernel takes them; where it does not, they are refused, at run
  # and at update, and nothing changes (dockerd warns and drops them).
  for cli in $CLIS; do
    $cli run -d --name "u-$cli" -m 64m busybox sleep 300 >/dev/null
    local id weight_file weight=0 weight_flag=()
    id=$(docker inspect -f '{{.Id}}' "u-$cli")
    if weight_file=$(blkio_weight_file "$id"); then weight=300; weight_flag=(--blkio-weight 300); fi
    echo "blkio weight file: ${weight_file:-none}"
    if [ "$weight" = 0 ]; then
      run $cli update --blkio-weight 300 --cpu-shares 512 "u-$cli"
      [ "$status" -ne 0 ]
      [[ "$output" == *"Your kernel does not support Block I/O weight or the cgroup is not mounted"* ]]
      [ "$(docker inspect -f '{{.HostConfig.BlkioWeight}} {{.HostConfig.CpuShares}}' "u-$cli")" = "0 0" ]
      if [ "$cli" = docker ]; then  # berth run has no --blkio-weight yet (differences.md)
        run docker run -d --blkio-weight 300 busybox true
        [ "$status" -ne 0 ]
        [[ "$output" == *"Your kernel does not support Block I/O weight or the cgroup is not mounted"* ]]
      fi
    fi
    run $cli update --cpu-shares 512 --memory 96m --memory-swap 192m --memory-reservation 32m \
      --pids-limit 50 --cpuset-cpus 0 --cpu-period 50000 --cpu-quota 25000 "${weight_flag[@]}" "u-$cli"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$output" = "u-$cli" ]
    [ "$(cg cpu "$id" cpu.shares)" = 512 ]
    [ "$(cg cpu "$id" cpu.cfs_period_us)" = 50000 ]
    [ "$(cg cpu "$id" cpu.cfs_quota_us)" = 25000 ]
    [ "$(cg memory "$id" memory.limit_in_bytes)" = $((96 * 1024 * 1024)) ]
    [ "$(cg memory "$id" memory.memsw.limit_in_bytes)" = $((192 * 1024 * 1024)) ]
    [ "$(cg memory "$id" memory.soft_limit_in_bytes)" = $((32 * 1024 * 1024)) ]
    [ "$(cg pids "$id" pids.max)" = 50 ]
    [ "$(cg cpuset "$id" cpuset.cpus)" = 0 ]
    [ "$weight" = 0 ] || [ "$(cg blkio "$id" "$weight_file")" = 300 ]
    # The container sees its own limits.
    run $cli exec "u-$cli" cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
    [ "$output" = "$(printf '%s\n50' $((96 * 1024 * 1024)))" ]
    run $cli inspect -f '{{.HostConfig.CpuShares}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.MemoryReservation}} {{.HostConfig.PidsLimit}} {{.HostConfig.CpusetCpus}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.BlkioWeight}}' "u-$cli"
    [ "$output" = "512 $((96 * 1024 * 1024)) $((192 * 1024 * 1024)) $((32 * 1024 * 1024)) 50 0 50000 25000 $weight" ]
    # Stored for the next start.
    $cli restart -t 0 "u-$cli" >/dev/null
    id=$(docker inspect -f '{{.Id}}' "u-$cli")
    [ "$(cg memory "$id" memory.limit_in_bytes)" = $((96 * 1024 * 1024)) ]
    [ "$(cg cpu "$id" cpu.shares)" = 512 ]
    [ "$(cg pids "$id" pids.max)" = 50 ]
  done
}

@test "update of a stopped container applies at its start; --cpus sets the CFS quota" {
  docker create --name us busybox sleep 300 >/dev/null
  run docker update --cpus 0.5 --pids-limit 20 us
  [ "$status" -eq 0 ]
  docker start us >/dev/null
  id=$(docker inspect -f '{{.Id}}' us)
  [ "$(cg cpu "$id" cpu.cfs_quota_us)" = 50000 ]
  [ "$(cg cpu "$id" cpu.cfs_period_us)" = 100000 ]
  [ "$(cg pids "$id" pids.max)" = 20 ]
  run docker inspect -f '{{.HostConfig.NanoCpus}}' us
  [ "$output" = 500000000 ]
}

@test "update refusals: Docker's messages and nothing changed" {
  docker run -d --name ur -m 64m busybox sleep 300 >/dev/null
  id=$(docker inspect -f '{{.Id}}' ur)
  for cli in $CLIS; do
    # Above the swap limit in force (twice 64m) without a new swap limit.
    run $cli update -m 200m ur
    [ "$status" -ne 0 ]
    [[ "$output" == *"Cannot update container $id: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"* ]]
    run $cli update -m 4m ur
    [ "$status" -ne 0 ]
    [[ "$output" == *"Minimum memory limit allowed is 6MB"* ]]
    run $cli update --blkio-weight 5 ur
    [[ "$output" == *"Range of blkio weight is from 10 to 1000"* ]]
    run $cli update --cpuset-cpus 0-63 ur
    [[ "$output" == *"Requested CPUs are not available - requested 0-63"* ]]
    run $cli update ur
    [ "$status" -ne 0 ]
    [[ "$output" == *"you must provide one or more flags when using this command"* ]]
  done
  [ "$(cg memory "$id" memory.limit_in_bytes)" = $((64 * 1024 * 1024)) ]
  run docker inspect -f '{{.HostConfig.Memory}}' ur
  [ "$output" = $((64 * 1024 * 1024)) ]
  docker update --cpus 1 ur >/dev/null
  run docker update --cpu-period 50000 ur
  [[ "$output" == *"Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"* ]]
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"CpuPeriod":50000}' http://x/containers/ur/update
  [ "$output" = 409 ]
  run api -X POST -H 'Content-Type: application/json' -d '{"Ulimits":[{"Name":"nofile","Soft":1,"Hard":1}]}' http://x/containers/ur/update
  [[ "$output" == *"Ulimits cannot be changed by an update"* ]]
}

@test "update the restart policy; refused for an AutoRemove container" {
  for cli in $CLIS; do
    $cli run -d --name "rp-$cli" busybox sleep 300 >/dev/null
    run $cli update --restart on-failure:3 "rp-$cli"
    [ "$status" -eq 0 ]
    run $cli inspect -f '{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}' "rp-$cli"
    [ "$output" = "on-failure 3" ]
    $cli run -d --rm --name "rm-$cli" busybox sleep 300 >/dev/null
    id=$(docker inspect -f '{{.Id}}' "rm-$cli")
    run $cli update --restart always "rm-$cli"
    [ "$status" -ne 0 ]
    [[ "$output" == *"Cannot update container $id: Restart policy cannot be updated because AutoRemove is enabled for the container"* ]]
  done
  # The new policy is the one in force: a container updated to "always" comes back after it exits.
  docker run -d --name ra busybox sh -c 'sleep 1; exit 3' >/dev/null
  docker update --restart always ra >/dev/null
  for _ in $(seq 1 100); do
    [ "$(docker inspect -f '{{.RestartCount}}' ra)" -ge 1 ] && break
    sleep 0.1
  done
  [ "$(docker inspect -f '{{.RestartCount}}' ra)" -ge 1 ]
  run api -X POST -H 'Content-Type: application/json' -d '{"RestartPolicy":{"Name":"always"}}' http://x/containers/ra/update
  [ "$output" = '{"Warnings":[]}' ]
}

@test "update event" {
  docker run -d --name ue busybox sleep 300 >/dev/null
  since=$(date +%s)
  docker update --cpu-shares 256 ue >/dev/null
  run timeout 5 docker events --since "$since" --until "$(( $(date +%s) + 1 ))" --filter container=ue --filter event=update --format '{{.Action}}'
  [ "$output" = update ]
}

@test "--group-add NAME|GID: id -G shows them, in exec too; an unknown name fails the start" {
  for cli in $CLIS; do
    run $cli run --rm --group-add nogroup --group-add 4242 busybox id -G
    [ "$status" -eq 0 ]
    [ "$output" = "0 4242 65534" ]  # the kernel sorts them
    $cli run -d --name "g-$cli" --group-add 65534 --group-add 777 busybox sleep 300 >/dev/null
    run $cli exec "g-$cli" id -G
    [ "$output" = "0 777 65534" ]
    run $cli inspect -f '{{json .HostConfig.GroupAdd}}' "g-$cli"
    [ "$output" = '["65534","777"]' ]
    run $cli run --rm --group-add nosuchgroup busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Unable to find group nosuchgroup"* ]]
  done
}

@test "--link NAME:ALIAS on the default bridge: Docker's environment, /etc/hosts, HostConfig.Links" {
  docker run -d --name db -e DBPASS=s3cret --expose 5432 --expose 80/udp busybox sleep 300 >/dev/null
  dbid=$(docker inspect -f '{{.Id}}' db)
  ip=$(docker inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' db)
  [ -n "$ip" ]
  for cli in $CLIS; do
    run $cli run --rm --link db:my-db busybox env
    [ "$status" -eq 0 ]
    [[ "$output" == *"MY_DB_PORT=udp://$ip:80"* ]]
    [[ "$output" == *"MY_DB_PORT_5432_TCP=tcp://$ip:5432"* ]]
    [[ "$output" == *"MY_DB_PORT_5432_TCP_ADDR=$ip"* ]]
    [[ "$output" == *"MY_DB_PORT_5432_TCP_PORT=5432"* ]]
    [[ "$output" == *"MY_DB_PORT_5432_TCP_PROTO=tcp"* ]]
    [[ "$output" == *"MY_DB_PORT_80_UDP=udp://$ip:80"* ]]
    [[ "$output" =~ MY_DB_NAME=/[a-z_]+/my-db ]]
    [[ "$output" == *"MY_DB_ENV_DBPASS=s3cret"* ]]
    [[ "$output" != *"MY_DB_ENV_PATH"* ]]
    $cli run -d --name "web-$cli" --link db --link db:alias busybox sleep 300 >/dev/null
    run $cli exec "web-$cli" cat /etc/hosts
    [[ "$output" == *"$ip	db ${dbid:0:12}"* ]]
    [[ "$output" == *"$ip	alias ${dbid:0:12} db"* ]]
    run $cli exec "web-$cli" ping -c1 -W2 alias
    [ "$status" -eq 0 ]
    run $cli exec "web-$cli" sh -c 'echo $DB_NAME $ALIAS_NAME'
    [ "$output" = "/web-$cli/db /web-$cli/alias" ]
    run $cli inspect -f '{{json .HostConfig.Links}}' "web-$cli"
    [ "$output" = "[\"/db:/web-$cli/alias\",\"/db:/web-$cli/db\"]" ]
  done
}

@test "rm --link removes the link only; the default name is Docker's conflict" {
  docker run -d --name db2 busybox sleep 300 >/dev/null
  for cli in $CLIS; do
    $cli create --name "lp-$cli" --link db2:x --link db2:y busybox true >/dev/null
    run $cli rm --link "/lp-$cli/x"
    [ "$status" -eq 0 ]
    [ "$output" = "/lp-$cli/x" ]
    run $cli inspect -f '{{json .HostConfig.Links}}' "lp-$cli"
    [ "$output" = "[\"/db2:/lp-$cli/y\"]" ]
    run $cli inspect -f '{{.State.Running}}' db2
    [ "$output" = true ]
    run $cli rm --link db2
    [ "$status" -ne 0 ]
    [[ "$output" == *"Conflict, cannot remove the default link name of the container"* ]]
    run $cli rm --link "/lp-$cli/nope"
    [ "$status" -ne 0 ]
    [[ "$output" == *"No such container"* ]]
  done
  run api -o /dev/null -w '%{http_code}' -X DELETE "http://x/containers/lp-docker/y?link=1"
  [ "$output" = 204 ]
  run docker inspect -f '{{json .HostConfig.Links}}' lp-docker
  [ "$output" = null ]
}

@test "--link to a missing or stopped container is refused as Docker" {
  # Through the API: on a 404 from create the CLI tries to pull the image (Docker's CLI too).
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"Links":["nosuch:x"]}}' http://x/containers/create
  [[ "$output" == *'could not get container for nosuch: No such container: nosuch'*' 404' ]]
  [ -z "$(docker ps -aq)" ]
  docker create --name stopped busybox true >/dev/null
  run docker run --rm --link stopped:s busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Cannot link to a non running container: /stopped AS /"*"/s"* ]]
}

@test "--link on a user-defined network is an alias only the linking container resolves" {
  docker network create ln >/dev/null
  docker run -d --name target --network ln busybox sleep 300 >/dev/null
  for cli in $CLIS; do
    run $cli run --rm --network ln --link target:tgt busybox ping -c1 -W2 tgt
    [ "$status" -eq 0 ]
  done
  run docker run --rm --network ln busybox ping -c1 -W2 tgt
  [ "$status" -ne 0 ]
  docker run -d --name linker --network ln --link target:tgt busybox sleep 300 >/dev/null
  run docker inspect -f '{{json .NetworkSettings.Networks.ln.Links}}' linker
  [ "$output" = '["target:tgt"]' ]
  docker rm -f linker target >/dev/null
  docker network rm ln >/dev/null
}

@test "endpoint DriverOpts round trip; com.docker.network.* options refused" {
  docker network create dn >/dev/null
  docker run -d --name dc busybox sleep 300 >/dev/null
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"dc","EndpointConfig":{"DriverOpts":{"com.example.tier":"gold"}}}' http://x/networks/dn/connect
  [ "$output" = 200 ]
  run docker inspect -f '{{json .NetworkSettings.Networks.dn.DriverOpts}}' dc
  [ "$output" = '{"com.example.tier":"gold"}' ]
  docker run -d --name dd --network dn busybox sleep 300 >/dev/null
  run api -X POST -H 'Content-Type: application/json' \
    -d '{"Name":"dcreate","Image":"busybox","HostConfig":{"NetworkMode":"dn"},"NetworkingConfig":{"EndpointsConfig":{"dn":{"DriverOpts":{"a":"b"}}}}}' "http://x/containers/create?name=dcreate"
  [[ "$output" == *'"Id"'* ]]
  run docker inspect -f '{{json .NetworkSettings.Networks.dn.DriverOpts}}' dcreate
  [ "$output" = '{"a":"b"}' ]
  run api -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"dd","EndpointConfig":{"DriverOpts":{"com.docker.network.endpoint.sysctls":"x"}}}' http://x/networks/bridge/connect
  [[ "$output" == *"endpoint driver option com.docker.network.endpoint.sysctls is not supported"* ]]
  docker rm -f dc dd dcreate >/dev/null
  docker network rm dn >/dev/null
}

@test "MacAddress on network connect: the new interface gets it; a bad one is a 400" {
  docker network create mn >/dev/null
  docker run -d --name mc busybox sleep 300 >/dev/null
  run api -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"mc","EndpointConfig":{"MacAddress":"02:42:ac:11:99:99"}}' http://x/networks/mn/connect
  [ "$output" = 200 ]
  run docker exec mc cat /sys/class/net/eth1/address
  [ "$output" = 02:42:ac:11:99:99 ]
  run docker inspect -f '{{.NetworkSettings.Networks.mn.MacAddress}}' mc
  [ "$output" = 02:42:ac:11:99:99 ]
  docker network disconnect mn mc
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"mc","EndpointConfig":{"MacAddress":"zz"}}' http://x/networks/mn/connect
  [[ "$output" == *'invalid MAC address zz'*' 400' ]]
  run docker inspect -f '{{json .NetworkSettings.Networks.mn}}' mc
  [ "$output" = null ]
  # A stopped container gets it at its start.
  docker create --name ms busybox sleep 300 >/dev/null
  api -X POST -H 'Content-Type: application/json' \
    -d '{"Container":"ms","EndpointConfig":{"MacAddress":"02:42:ac:11:88:88"}}' http://x/networks/mn/connect
  docker start ms >/dev/null
  run docker exec ms cat /sys/class/net/eth1/address
  [ "$output" = 02:42:ac:11:88:88 ]
  docker rm -f mc ms >/dev/null
  docker network rm mn >/dev/null
}
