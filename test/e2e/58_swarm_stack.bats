#!/usr/bin/env bats
# Swarm mode, stacks (issue 11): `docker stack deploy -c compose.yml NAME` through the official
# docker CLI on a real two-node swarm in a `berth lab`. The CLI turns the compose file into an
# overlay network, a secret, a config and services labelled com.docker.stack.namespace; Berth must
# answer every call it makes. The stack is deployed, used (its published port through the mesh,
# its services' names on its network, the secret and the config in the task), updated and removed.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
bats_require_minimum_version 1.5.0

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  lab_up stk --workers 1
  lab_import_busybox
  for n in $(lab_nodes); do
    lab_docker "$n" import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' \
      "$LAB_TMP/busybox.tar" web:latest >/dev/null
  done
  lab_docker m1 swarm init --advertise-addr "$(lab_ip m1)" --dispatcher-heartbeat 1s >/dev/null
  token=$(lab_docker m1 swarm join-token -q worker)
  lab_docker w1 swarm join --token "$token" "$(lab_ip m1):2377" >/dev/null
  mkdir -p "$LAB_TMP/stack"
  echo 's3cret' > "$LAB_TMP/stack/pw.txt"
  echo 'mode=stack' > "$LAB_TMP/stack/site.conf"
  write_compose 2
}

# The compose file, with web's replicas.
write_compose() {
  cat > "$LAB_TMP/stack/compose.yml" <<YAML
version: "3.8"
services:
  web:
    image: web:latest
    ports:
      - "8080:80"
    networks: [front]
    secrets: [pw]
    configs:
      - source: site
        target: /etc/site.conf
    deploy:
      replicas: $1
  api:
    image: web:latest
    networks: [front]
networks:
  front:
    driver: overlay
secrets:
  pw:
    file: ./pw.txt
configs:
  site:
    file: ./site.conf
YAML
}

teardown_file() { lab_teardown; }

m1() { lab_docker m1 "$@"; }
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}
running_is() {
  [ "$(m1 service ps "$1" --filter desired-state=running --format '{{.CurrentState}}' | grep -c '^Running')" = "$2" ]
}
deploy() { (cd "$LAB_TMP/stack" && m1 stack deploy -c compose.yml app); }

@test "stack deploy makes the network, secret, config and services with the stack's label" {
  run deploy
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"Creating network app_front"* ]] || { echo "$output"; false; }
  [[ "$output" == *"Creating service app_web"* ]]
  [[ "$output" == *"Creating service app_api"* ]]
  run m1 network inspect app_front --format '{{.Driver}} {{.Scope}} {{index .Labels "com.docker.stack.namespace"}}'
  [ "$output" = "overlay swarm app" ] || { echo "$output"; false; }
  run m1 secret ls --format '{{.Name}}'
  [[ "$output" == *app_pw* ]] || { echo "$output"; false; }
  run m1 config ls --format '{{.Name}}'
  [[ "$output" == *app_site* ]] || { echo "$output"; false; }
  wait_for 40 running_is app_web 2
  wait_for 40 running_is app_api 1
}

@test "stack ls, services and ps" {
  run m1 stack ls
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$(sed -n 2p <<<"$output")" =~ ^app\ +2\ *$ ]] || { echo "$output"; false; }
  run m1 stack services app --format '{{.Name}} {{.Replicas}}'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"app_web 2/2"* && "$output" == *"app_api 1/1"* ]] || { echo "$output"; false; }
  run m1 stack ps app --filter desired-state=running --format '{{.Name}} {{.CurrentState}}'
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [ "$(grep -c Running <<<"$output")" = 3 ] || { echo "$output"; false; }
}

@test "the stack works: its port through the mesh, names on its network, secret and config" {
  # Any HTTP answer is the task's (busybox httpd: 404 for /, which has no index here).
  wait_for 15 curl -sS -m 3 -o /dev/null "http://$(lab_ip w1):8080/"
  task=$(m1 service ps app_web -q --filter desired-state=running | head -1)
  node=$(m1 inspect --type task --format '{{.NodeID}}' "$task")
  host=$(m1 node inspect --format '{{.Description.Hostname}}' "$node")
  cid=$(lab_docker "$host" ps -q --filter "label=com.docker.swarm.task.id=$task")
  run lab_docker "$host" exec "$cid" cat /run/secrets/pw /etc/site.conf
  [ "$output" = "$(printf 's3cret\nmode=stack')" ] || { echo "$output"; false; }
  # web's short name is an alias on app_front (the compose service name).
  run lab_docker "$host" exec "$cid" nslookup api
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  # api's httpd answers (404 for /: this image has no index page).
  run lab_docker "$host" exec "$cid" timeout 5 wget -O /dev/null http://api/
  [[ "$output" == *"404 Not Found"* ]] || { echo "$output"; false; }
}

@test "deploying again updates the stack in place" {
  write_compose 3
  run deploy
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"Updating service app_web"* ]] || { echo "$output"; false; }
  wait_for 40 running_is app_web 3
  run m1 service ls --filter label=com.docker.stack.namespace=app -q
  [ "$(wc -l <<<"$output")" = 2 ]
}

@test "stack rm removes everything the stack made" {
  run m1 stack rm app
  [ "$status" -eq 0 ] || { echo "$output"; false; }
  [[ "$output" == *"Removing service app_web"* ]] || { echo "$output"; false; }
  no_services() { [ -z "$(m1 service ls -q)" ]; }
  wait_for 20 no_services
  no_network() { ! m1 network inspect app_front >/dev/null 2>&1; }
  wait_for 30 no_network
  run m1 secret ls -q
  [ -z "$output" ]
  run m1 config ls -q
  [ -z "$output" ]
}
