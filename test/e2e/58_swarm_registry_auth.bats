#!/usr/bin/env bats
# Swarm mode, --with-registry-auth (issue 11): a service whose image is in a private registry
# (TLS + htpasswd, inside the worker's namespace, so only the worker reaches it). Without the
# flag the worker's pull is anonymous and refused; with it the CLI's credentials travel with the
# service (sealed in the store, never shown by inspect) and only to the node that runs the task.

load helpers
source "$BATS_TEST_DIRNAME/tools/lab.sh"
source "$BATS_TEST_DIRNAME/tools/registry.sh"
bats_require_minimum_version 1.5.0

PORT=5447

setup_file() {
  [ "$(id -u)" = 0 ] || skip "needs root (namespaces, links, runc)"
  command -v etcd >/dev/null || skip "needs etcd (etcd-server)"
  command -v docker-registry >/dev/null || skip "needs docker-registry"
  reg_init
  reg_trust "$PORT"  # before the daemons start: they read certs.d at a pull
  lab_up regauth --workers 1 --berthd-flag="--registry-certs-dir=$REG_CERTS_DIR"
  lab_import_busybox
  export REG_NS="$LAB_NAME-w1"
  reg_start priv "$PORT" tls
  # The CLI's credentials in a config dir of this file's own.
  export DOCKER_CONFIG="$LAB_TMP/docker-config"
  mkdir -p "$DOCKER_CONFIG"
  echo "$REG_PASS" | lab_docker w1 login -u "$REG_USER" --password-stdin "127.0.0.1:$PORT" >/dev/null
  export IMG="127.0.0.1:$PORT/private/app:1"
  lab_docker w1 tag busybox "$IMG"
  lab_docker w1 push "$IMG" >/dev/null
  lab_docker w1 rmi "$IMG" >/dev/null
  lab_docker m1 swarm init --advertise-addr "$(lab_ip m1)" >/dev/null
  lab_docker w1 swarm join --token "$(lab_docker m1 swarm join-token -q worker)" "$(lab_ip m1):2377" >/dev/null
}

teardown_file() {
  reg_cleanup
  lab_teardown
}

teardown() { lab_docker m1 service rm anon priv >/dev/null 2>&1 || true; }

# The state and error of the service's newest task.
task_state() { lab_docker m1 service ps "$1" --format '{{.CurrentState}}|{{.Error}}' --no-trunc | head -1; }

@test "without --with-registry-auth the worker's anonymous pull is refused: the task is rejected" {
  lab_docker m1 service create --name anon --detach --constraint node.hostname==w1 "$IMG" sleep 600
  local i s
  for i in $(seq 1 100); do
    s=$(task_state anon)
    [[ "$s" == Rejected* ]] && break
    sleep 0.2
  done
  echo "task: $s"
  [[ "$s" == Rejected*"No such image: $IMG"* ]]
}

@test "with --with-registry-auth the worker pulls with the CLI's credentials; inspect never shows them" {
  lab_docker m1 service create --name priv --detach --with-registry-auth \
    --constraint node.hostname==w1 "$IMG" sleep 600
  local i s
  for i in $(seq 1 100); do
    s=$(task_state priv)
    [[ "$s" == Running* ]] && break
    sleep 0.2
  done
  echo "task: $s"
  [[ "$s" == Running* ]]
  run lab_docker w1 image ls --format '{{.Repository}}:{{.Tag}}'
  [[ "$output" == *"$IMG"* ]]
  # The auth is the CLI's base64 of {"username":...,"password":...}: neither the password, the
  # user name nor that header (whose base64 starts with the user's key) appears in what the API
  # shows of the service or its tasks, through either CLI.
  local b64user=$(printf '{"username":"%s"' "$REG_USER" | base64 -w0 | cut -c1-16)
  for cli in docker "$BIN/berth"; do
    for what in "service inspect priv" "inspect $(lab_docker m1 service ps -q priv | head -1)"; do
      run "$cli" -H "$(lab_sock m1)" $what
      [ "$status" -eq 0 ]
      [[ "$output" != *"$REG_PASS"* && "$output" != *"$REG_USER"* ]]
      [[ "$output" != *RegistryAuth* && "$output" != *"$b64user"* ]]
    done
  done
  # An update without the flag keeps it (dockerd's registryAuthFrom=spec): the new task pulls too.
  lab_docker w1 rmi -f "$IMG" >/dev/null
  run lab_docker w1 image ls --format '{{.Repository}}:{{.Tag}}'
  [[ "$output" != *"$IMG"* ]]
  lab_docker m1 service update --detach --force priv >/dev/null
  for i in $(seq 1 100); do
    s=$(lab_docker m1 service ps priv --filter desired-state=running --format '{{.CurrentState}}' | head -1)
    [[ "$s" == Running* ]] && [ "$(lab_docker m1 service ps priv -q | wc -l)" -ge 2 ] && break
    sleep 0.2
  done
  echo "after the update: $s"
  [[ "$s" == Running* ]]
}
