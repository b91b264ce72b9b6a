#!/usr/bin/env bats
# Every list filter Docker 1.41 accepts for containers, networks and images does what Docker's
# does (none is accepted and ignored), through both CLIs.

load helpers

setup_file() {
  berth_setup_daemon
  docker network create fnet >/dev/null
  docker network create --label team=a fempty >/dev/null
  docker create --name f1 --label a=1 --label b=2 --expose 7000 -v /tmp:/data busybox true >/dev/null
  sleep 0.01
  docker run -d --name f2 --label a=1 --net fnet -p 18080:80 busybox sleep 600 >/dev/null
  sleep 0.01
  docker run --name f3 --label com.docker.swarm.task.id=t1 busybox sh -c 'exit 3' || true
}
teardown_file() { berth_teardown_daemon; }

names() { "$@" --format '{{.Names}}' | sort | tr '\n' ' '; }
nets() { "$@" --format '{{.Name}}' | sort | tr '\n' ' '; }

@test "ps filters: label (ANDed), before, since, volume, publish, expose, network, exited, status" {
  for cli in $CLIS; do
    [ "$(names $cli ps -a --filter label=a=1)" = "f1 f2 " ]
    # Several label filters must all match (Docker ANDs them).
    [ "$(names $cli ps -a --filter label=a=1 --filter label=b=2)" = "f1 " ]
    [ "$(names $cli ps -a --filter before=f2)" = "f1 " ]
    [ "$(names $cli ps -a --filter since=f1)" = "f2 f3 " ]
    [ "$(names $cli ps -a --filter volume=/data)" = "f1 " ]
    [ "$(names $cli ps -a --filter volume=/tmp)" = "f1 " ]
    [ "$(names $cli ps -a --filter publish=80)" = "f2 " ]
    [ "$(names $cli ps -a --filter publish=80-90/tcp)" = "f2 " ]
    [ -z "$(names $cli ps -a --filter publish=81)" ]
    [ "$(names $cli ps -a --filter expose=7000)" = "f1 " ]
    [ "$(names $cli ps -a --filter network=fnet)" = "f2 " ]
    [ "$(names $cli ps -a --filter exited=3)" = "f3 " ]
    [ "$(names $cli ps -a --filter status=created)" = "f1 " ]
    [ "$(names $cli ps -a --filter status=running --filter status=created)" = "f1 f2 " ]
    [ "$(names $cli ps -a --filter name=^f[12]$)" = "f1 f2 " ]
  done
}

@test "ps filters: is-task, health, isolation, id, ancestor" {
  for cli in $CLIS; do
    [ "$(names $cli ps -a --filter is-task=true)" = "f3 " ]
    [ "$(names $cli ps -a --filter is-task=false)" = "f1 f2 " ]
    # No container has a health check: all are "none", none is "healthy".
    [ "$(names $cli ps -a --filter health=none)" = "f1 f2 f3 " ]
    [ -z "$(names $cli ps -a --filter health=healthy)" ]
    [ "$(names $cli ps -a --filter isolation=default)" = "f1 f2 f3 " ]
    id=$(docker inspect -f '{{.Id}}' f2)
    [ "$(names $cli ps -a --filter id=${id:0:12})" = "f2 " ]
    [ "$(names $cli ps -a --filter ancestor=busybox)" = "f1 f2 f3 " ]
  done
  run docker ps --filter health=sick
  [ "$status" -ne 0 ]
  [[ "$output" == *"Unrecognised filter value for health: sick"* ]]
  run docker ps --filter before=no-such-container
  [ "$status" -ne 0 ]
  [[ "$output" == *"No such container: no-such-container"* ]]
}

@test "network ls filters: dangling, type, label, driver, name" {
  for cli in $CLIS; do
    [ "$(nets $cli network ls --filter dangling=true)" = "fempty " ]
    [[ "$(nets $cli network ls --filter dangling=false)" == *"fnet"* ]]
    [[ "$(nets $cli network ls --filter dangling=false)" != *"fempty"* ]]
    [ "$(nets $cli network ls --filter type=custom)" = "fempty fnet " ]
    [ "$(nets $cli network ls --filter label=team=a)" = "fempty " ]
    [ "$(nets $cli network ls --filter driver=null)" = "none " ]
  done
  run docker network ls --filter dangling=perhaps
  [ "$status" -ne 0 ]
}

@test "container and network prune filters: label and until" {
  docker create --name p1 --label keep=no busybox true >/dev/null
  docker create --name p2 --label keep=yes busybox true >/dev/null
  run docker container prune -f --filter label=keep=no
  [ "$status" -eq 0 ]
  [ -z "$(docker ps -aq --filter name=^p1$)" ]
  [ -n "$(docker ps -aq --filter name=^p2$)" ]
  run docker container prune -f --filter until=1h
  [ -n "$(docker ps -aq --filter name=^p2$)" ]  # created a moment ago: kept
  docker rm p2 >/dev/null
  run docker network prune -f --filter label=team=b
  [[ "$(docker network ls --format '{{.Name}}')" == *fempty* ]]
}
