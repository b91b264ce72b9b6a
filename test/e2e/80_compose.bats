#!/usr/bin/env bats
# Debian's docker-compose 1.29 (docker-py underneath), a real client of the Engine API, against
# berthd: names, list filters (label values ANDed), an idempotent second `up -d`, no pulls of an
# image that exists locally.

load helpers

setup_file() {
  command -v docker-compose >/dev/null || skip "docker-compose is not installed (make deps)"
  berth_setup_daemon
  mkdir -p "$BT_DIR/demo"
  cat > "$BT_DIR/demo/docker-compose.yml" <<'YAML'
version: "3"
services:
  server:
    image: busybox
    command: httpd -f -p 80 -h /var/www
  client:
    image: busybox
    command: sleep 1000
    depends_on:
      - server
YAML
}
teardown_file() { berth_teardown_daemon; }

compose() { (cd "$BT_DIR/demo" && docker-compose --ansi never "$@"); }

@test "compose up -d names the containers project_service_1 and pulls nothing" {
  run compose up -d
  [ "$status" -eq 0 ]
  [[ "$output" != *Pulling* ]]
  run docker ps --format '{{.Names}}'
  [ "$(echo "$output" | sort | tr '\n' ' ')" = "demo_client_1 demo_server_1 " ]
  # The labels compose finds its containers by.
  [ "$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}} {{index .Config.Labels "com.docker.compose.service"}} {{index .Config.Labels "com.docker.compose.container-number"}}' demo_client_1)" = "demo client 1" ]
  # Label filters AND their values: only the container with both.
  run docker ps -q --filter label=com.docker.compose.project=demo --filter label=com.docker.compose.service=server
  [ "$(echo "$output" | wc -l)" -eq 1 ]
  [ "$output" = "$(docker ps -q --filter name=demo_server_1)" ]
}

@test "compose ps lists each container once; exec reaches the other service by name" {
  run compose ps
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c demo_server_1)" -eq 1 ]
  [ "$(echo "$output" | grep -c demo_client_1)" -eq 1 ]
  [ "$(echo "$output" | grep -c ' Up ')" -eq 2 ]
  # httpd may still be starting: give it two seconds.
  for _ in $(seq 20); do
    run compose exec -T client wget -qO- http://server/
    [ "$status" -eq 0 ] && break
    sleep 0.1
  done
  [ "$status" -eq 0 ]
  [ "$output" = "<h1>berth</h1>" ]
}

@test "a second compose up -d recreates nothing and succeeds" {
  before=$(docker ps -q --no-trunc | sort)
  run compose up -d
  [ "$status" -eq 0 ]
  [[ "$output" == *"demo_server_1 is up-to-date"* ]]
  [[ "$output" == *"demo_client_1 is up-to-date"* ]]
  [[ "$output" != *Recreating* ]]
  [ "$(docker ps -q --no-trunc | sort)" = "$before" ]
  [ "$(docker ps -aq | wc -l)" -eq 2 ]
}

@test "compose down removes the containers and the network" {
  run compose down
  [ "$status" -eq 0 ]
  [ -z "$(docker ps -aq)" ]
  [[ "$(docker network ls --format '{{.Name}}')" != *demo_default* ]]
}
