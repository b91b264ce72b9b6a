#!/usr/bin/env bats
# Debian's docker-compose 1.29 runs an app of three services on a user network, with a named
# volume, a published port and a health check that another service waits for: up -d, up -d again,
# ps, logs, exec, restart and down -v, each answered as Docker answers it.

load helpers

setup_file() {
  command -v docker-compose >/dev/null || skip "docker-compose is not installed (make deps)"
  berth_setup_daemon
  mkdir -p "$BT_DIR/app"
  # Format 2.4: the one where depends_on can wait for a service to be healthy.
  cat > "$BT_DIR/app/docker-compose.yml" <<'YAML'
version: "2.4"
services:
  store:
    image: busybox
    command: sh -c 'echo stored-$$(date +%s%N) >> /data/log; echo store started; exec sleep 1000'
    volumes:
      - appdata:/data
    networks: [back]
  web:
    image: busybox
    command: sh -c 'echo web up; exec httpd -f -p 80 -h /var/www'
    ports:
      - "8080:80"
    healthcheck:
      test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]
      interval: 1s
      timeout: 2s
      retries: 3
    networks: [back]
  client:
    image: busybox
    command: sleep 1000
    volumes:
      - appdata:/shared
    depends_on:
      web:
        condition: service_healthy
      store:
        condition: service_started
    networks: [back]
volumes:
  appdata:
networks:
  back:
YAML
}
teardown_file() { berth_teardown_daemon; }

compose() { (cd "$BT_DIR/app" && docker-compose --ansi never "$@"); }
in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }

@test "compose up -d creates the network, the volume and three containers, web healthy first" {
  run compose up -d
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(docker ps --format '{{.Names}}' | sort | tr '\n' ' ')" = "app_client_1 app_store_1 app_web_1 " ]
  [ "$(docker volume ls -q)" = "app_appdata" ]
  docker network inspect app_back >/dev/null
  # The client was started only once web was healthy.
  [ "$(docker inspect -f '{{.State.Health.Status}}' app_web_1)" = healthy ]
  # The published port answers from the daemon's namespace.
  run in_ns wget -qO- http://127.0.0.1:8080/
  [ "$status" -eq 0 ]
  [ "$output" = "<h1>berth</h1>" ]
}

@test "a second up -d recreates nothing" {
  before=$(docker ps -q --no-trunc | sort)
  run compose up -d
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" != *Recreating* ]]
  [[ "$output" == *"app_web_1 is up-to-date"* ]]
  [ "$(docker ps -q --no-trunc | sort)" = "$before" ]
}

@test "compose ps shows each service once, web as healthy" {
  run compose ps
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(echo "$output" | grep -c '^app_')" -eq 3 ]
  [[ "$(echo "$output" | grep app_web_1)" == *"Up (healthy)"* ]]
  [[ "$(echo "$output" | grep app_web_1)" == *"0.0.0.0:8080->80/tcp"* ]]
}

@test "compose logs, and exec reaching web by name and the shared volume" {
  run compose logs --no-color store web
  echo "$output"
  [ "$status" -eq 0 ]
  # compose pads the prefixes to the longest container name of the project.
  echo "$output" | grep -Eq '^store_1 +\| store started$'
  echo "$output" | grep -Eq '^web_1 +\| web up$'
  [ "$(echo "$output" | grep -c '|')" -eq 2 ]
  run compose exec -T client wget -qO- http://web/
  [ "$status" -eq 0 ]
  [ "$output" = "<h1>berth</h1>" ]
  run compose exec -T client cat /shared/log
  [ "$status" -eq 0 ]
  [[ "$output" == stored-* ]]
}

@test "compose restart restarts the containers in place; the volume keeps its data" {
  ids=$(docker ps -q --no-trunc | sort)
  run compose restart
  echo "$output"
  [ "$status" -eq 0 ]
  [ "$(docker ps -q --no-trunc | sort)" = "$ids" ]
  [ "$(docker inspect -f '{{.RestartCount}} {{.State.Running}}' app_store_1)" = "0 true" ]
  # The store wrote a second line into the same volume.
  for _ in $(seq 30); do
    run compose exec -T client sh -c 'wc -l < /shared/log'
    [ "$output" = 2 ] && break
    sleep 0.1
  done
  [ "$output" -eq 2 ]
}

@test "compose down -v removes containers, network and volume" {
  run compose down -v
  echo "$output"
  [ "$status" -eq 0 ]
  [ -z "$(docker ps -aq)" ]
  [[ "$(docker network ls --format '{{.Name}}')" != *app_back* ]]
  [ -z "$(docker volume ls -q)" ]
}
