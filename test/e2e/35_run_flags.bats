#!/usr/bin/env bats
# docker run flags that reach runc's spec, checked inside the container through both CLIs:
# --tmpfs, --ulimit, --init, --pid/--ipc/--uts host, --device, --security-opt (no-new-privileges,
# seccomp), --cpuset-cpus, --privileged, --cpu-period/--cpu-quota, --oom-score-adj, the cgroup
# settings set at create only (--cgroup-parent, --memory-swappiness, ...); and
# --label-file and the refused --volumes-from/--volume-driver/--isolation, the same through both.

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
  berth_setup_daemon
  # berthd's own capabilities: what --privileged must give (it lacks CAP_SYS_RESOURCE here).
  export BT_CAPBND=$(awk '/^CapBnd:/ {print $2}' /proc/"$(cat "$BT_DIR/berthd.test-pid")"/status)
}
teardown_file() { berth_teardown_daemon; }
teardown() { docker rm -f $(docker ps -aq) >/dev/null 2>&1 || true; }

@test "--tmpfs mounts a tmpfs with Docker's options and the given ones" {
  for cli in $CLIS; do
    run $cli run --rm --tmpfs /t --tmpfs /big:size=1m,mode=700 busybox sh -c \
      'grep " /t " /proc/mounts; grep " /big " /proc/mounts; stat -c %a /big'
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "tmpfs /t tmpfs rw,nosuid,nodev,noexec,"* ]]
    [[ "${lines[1]}" == *"size=1024k"* ]]
    [ "${lines[2]}" = 700 ]
  done
  run docker run --rm --tmpfs /t:bogus=1 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *'Invalid tmpfs option ["bogus" "1"]'* ]]
}

@test "--ulimit sets the rlimit; one berthd cannot raise is refused" {
  for cli in $CLIS; do
    run $cli run --rm --ulimit nofile=1024:1024 busybox sh -c 'ulimit -n; ulimit -Hn'
    [ "$status" -eq 0 ]
    [ "$output" = "1024
1024" ]
    run $cli run --rm --ulimit nofile=512:2048 busybox sh -c 'ulimit -n; ulimit -Hn'
    [ "$output" = "512
2048" ]
  done
  run docker run --rm --ulimit bogus=1 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"invalid ulimit type: bogus"* ]]
  # Without CAP_SYS_RESOURCE nothing may go above berthd's own hard limit.
  if (( (0x$BT_CAPBND >> 24 & 1) == 0 )); then  # bit 24: CAP_SYS_RESOURCE
    local hard=$(nsenter --net=/run/netns/$BT_NS sh -c 'ulimit -Hn')
    run docker run --rm --ulimit nofile=$((hard + 1)):$((hard + 1)) busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"lacks CAP_SYS_RESOURCE"* ]]
  fi
}

@test "--init runs docker-init (tini) as PID 1 with the command as its child" {
  [ -x /usr/bin/tini-static ] || skip "no /usr/bin/tini-static: install Debian's tini (make deps)"
  for cli in $CLIS; do
    run $cli run --rm --init busybox sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo $$'
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "/sbin/docker-init -- sh -c cat /proc/1/cmdline"* ]]
    [ "${lines[1]}" != 1 ]  # the shell is the init's child
    run $cli run --rm busybox sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; echo $$'
    [[ "${lines[0]}" == "sh -c cat /proc/1/cmdline"* ]]
    [ "${lines[1]}" = 1 ]
  done
  # Signals reach the command through the init.
  docker run -d --init --name init1 busybox sleep 100
  run docker stop -t 5 init1
  [ "$status" -eq 0 ]
  [ "$(docker inspect -f '{{.State.ExitCode}}' init1)" = 143 ]
}

@test "--pid host, --ipc host, --uts host share berthd's namespaces; the defaults do not" {
  local host_pid=$(readlink /proc/self/ns/pid) host_ipc=$(readlink /proc/self/ns/ipc) host_uts=$(readlink /proc/self/ns/uts)
  for cli in $CLIS; do
    run $cli run --rm --pid host --ipc host --uts host busybox sh -c \
      'for n in pid ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/1/comm; hostname'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$host_pid" ]
    [ "${lines[1]}" = "$host_ipc" ]
    [ "${lines[2]}" = "$host_uts" ]
    [ "${lines[3]}" = "$(cat /proc/1/comm)" ]
    [ "${lines[4]}" = "$(hostname)" ]
    run $cli run --rm busybox sh -c 'for n in pid ipc uts; do readlink /proc/self/ns/$n; done'
    [ "${lines[0]}" != "$host_pid" ]
    [ "${lines[1]}" != "$host_ipc" ]
    [ "${lines[2]}" != "$host_uts" ]
  done
  # --ipc host is the host's /dev/shm too.
  local f=/dev/shm/bt-e2e-$$
  run docker run --rm --ipc host busybox sh -c "echo shared > $f"
  [ "$status" -eq 0 ]
  [ "$(cat $f)" = shared ]
  rm -f $f
  run docker run --rm --ipc none busybox sh -c 'grep -c " /dev/shm " /proc/mounts'
  [ "$output" = 0 ]
  # --pid container:NAME shares that container's namespace, which must be running.
  docker run -d --name donor busybox sleep 100
  for cli in $CLIS; do
    run $cli run --rm --pid container:donor busybox sh -c 'readlink /proc/self/ns/pid; cat /proc/1/cmdline | tr "\0" " "'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "$(docker exec donor readlink /proc/self/ns/pid)" ]
    [ "${lines[1]}" = "sleep 100 " ]
  done
  docker create --name stopped busybox true
  run docker run --rm --pid container:stopped busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot join PID of a non running container: stopped"* ]]
  # What cannot be honoured is refused, never dropped.
  run docker run --rm --ipc container:donor busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"cannot join another container's IPC namespace"* ]]
  run docker run --rm --uts host -h named busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"conflicting options: hostname and the UTS mode"* ]]
}

@test "--device makes the host's node and allows it in the device cgroup" {
  [ -c /dev/fuse ] || skip "no /dev/fuse on this host"
  for cli in $CLIS; do
    run $cli run --rm --device /dev/fuse busybox sh -c 'ls -l /dev/fuse; head -c0 /dev/fuse && echo opened'
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "crw"*" 10, "*"229 "*"/dev/fuse" ]]
    run $cli run --rm --device /dev/fuse:/dev/myfuse:r busybox sh -c 'ls -l /dev/myfuse'
    [[ "$output" == *"/dev/myfuse"* ]]
    run $cli run --rm busybox ls /dev/fuse
    [ "$status" -ne 0 ]
  done
  run -127 docker run --rm --device /dev/nope busybox true  # the CLI's code for "no such file"
  [ "$status" -ne 0 ]
  [[ "$output" == *'error gathering device information while adding custom device "/dev/nope": no such file or directory'* ]]
}

@test "--security-opt no-new-privileges sets NoNewPrivs, for execs too" {
  for cli in $CLIS; do
    run $cli run --rm --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status
    [ "$output" = "NoNewPrivs:	1" ]
    run $cli run --rm busybox grep NoNewPrivs /proc/self/status
    [ "$output" = "NoNewPrivs:	0" ]
  done
  docker run -d --name nnp --security-opt no-new-privileges=true busybox sleep 100
  run docker exec nnp grep NoNewPrivs /proc/self/status
  [ "$output" = "NoNewPrivs:	1" ]
  run docker run --rm --security-opt bogus=1 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *'invalid --security-opt 2: "bogus=1"'* ]]
}

@test "--cpuset-cpus pins the container; CPUs that are not there are refused" {
  for cli in $CLIS; do
    run $cli run --rm --cpuset-cpus 0 busybox grep Cpus_allowed_list /proc/self/status
    [ "$status" -eq 0 ]
    [ "$output" = "Cpus_allowed_list:	0" ]
  done
  run docker run --rm --cpuset-cpus 999 busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *"Requested CPUs are not available - requested 999, available: "* ]]
}

@test "seccomp: Docker's default profile by default, none when unconfined, a custom profile file" {
  for cli in $CLIS; do
    run $cli run --rm busybox grep Seccomp: /proc/self/status
    [ "$output" = "Seccomp:	2" ]
    # A new user namespace needs no capability, only the filter forbids it (unshare needs
    # CAP_SYS_ADMIN in Docker's profile).
    run $cli run --rm busybox unshare -U true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Operation not permitted"* ]]
    run $cli run --rm --security-opt seccomp=unconfined busybox sh -c 'grep Seccomp: /proc/self/status; unshare -U true && echo unshared'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "Seccomp:	0" ]
    [ "${lines[1]}" = unshared ]
  done
  # A profile that allows everything but mkdir, which fails with EACCES (13).
  cat > "$BT_DIR/no-mkdir.json" <<'JSON'
{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
  ]
}
JSON
  for cli in $CLIS; do
    run $cli run --rm --security-opt seccomp="$BT_DIR/no-mkdir.json" busybox sh -c \
      'grep Seccomp: /proc/self/status; unshare -U true && echo unshared; mkdir /x'
    [ "$status" -ne 0 ]
    [ "${lines[0]}" = "Seccomp:	2" ]
    [ "${lines[1]}" = unshared ]
    [[ "${lines[2]}" == *"Permission denied"* ]]
  done
  echo '{"defaultAction": "SCMP_ACT_BOGUS"}' > "$BT_DIR/bad.json"
  run docker run --rm --security-opt seccomp="$BT_DIR/bad.json" busybox true
  [ "$status" -ne 0 ]
  [[ "$output" == *'unknown action "SCMP_ACT_BOGUS"'* ]]
  # The daemon takes the profile's JSON in SecurityOpt, as the docker CLI sends it.
  run api -X POST -H 'Content-Type: application/json' http://x/containers/create \
    -d '{"Image":"busybox","Cmd":["true"],"HostConfig":{"SecurityOpt":["seccomp={not json"]}}'
  [[ "$output" == *"Decoding seccomp profile failed"* ]]
}

@test "--privileged runs with every capability berthd holds, no seccomp, all devices" {
  for cli in $CLIS; do
    run $cli run --rm --privileged busybox sh -c 'grep -E "^(CapEff|Seccomp):" /proc/self/status; ls /dev/fuse'
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "CapEff:	$BT_CAPBND" ]
    [ "${lines[1]}" = "Seccomp:	0" ]
    [ "${lines[2]}" = /dev/fuse ]
  done
}

@test "--cpu-period/--cpu-quota, --oom-score-adj, --label-file: berth sends what docker sends" {
  printf '# team labels\n  com.example.tier=web\nteam=a\n\n' > "$BT_DIR/labels"
  local fmt='{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.OomScoreAdj}} {{json .Config.Labels}} {{.HostConfig.UsernsMode}} {{.HostConfig.Isolation}}'
  for cli in $CLIS; do
    run $cli run -d --name "f-$cli" --cpu-period 50000 --cpu-quota 25000 --oom-score-adj 500 \
      --label-file "$BT_DIR/labels" -l team=b --userns host --isolation default busybox sleep 100
    [ "$status" -eq 0 ]
    local id=$output
    [ "$(cat /sys/fs/cgroup/cpu/berth/$id/cpu.cfs_period_us)" -eq 50000 ]
    [ "$(cat /sys/fs/cgroup/cpu/berth/$id/cpu.cfs_quota_us)" -eq 25000 ]
    run docker exec "f-$cli" cat /proc/self/oom_score_adj
    [ "$output" = 500 ]
  done
  run docker inspect -f "$fmt" f-docker
  [ "$output" = '50000 25000 500 {"com.example.tier":"web","team":"b"} host default' ]
  local expected=$output
  for cli in $CLIS; do
    run docker inspect -f "$fmt" "f-$cli"
    [ "$output" = "$expected" ]
  done
  # What berthd refuses reaches the user through both CLIs alike.
  docker create --name donor -v /data busybox true
  for cli in $CLIS; do
    run $cli run --rm --volumes-from donor busybox true
    [ "$status" -eq 125 ]
    [[ "$output" == *"--volumes-from is not supported by Berth yet"* ]]
    run $cli create --volume-driver nope -v /data busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *'error looking up volume plugin nope: plugin "nope" not found'* ]]
    run $cli create --isolation hyperv busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Invalid isolation: \"hyperv\" - linux only supports 'default'"* ]]
    run $cli create --oom-score-adj 1001 busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Invalid value 1001, range for oom score adj is [-1000, 1000]"* ]]
  done
}

@test "--cgroup-parent, --memory-swappiness, --oom-kill-disable, --device-read-bps reach the cgroup; --gpus is refused" {
  [ -e /sys/fs/cgroup/memory/memory.swappiness ] || skip "no cgroup v1 memory hierarchy with swappiness"
  [ -e /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device ] || skip "no cgroup v1 blkio throttling"
  local dev= d
  for d in /dev/vda /dev/sda /dev/nvme0n1 /dev/loop0; do [ -b "$d" ] && { dev=$d; break; }; done
  [ -n "$dev" ] || skip "no block device"
  local majmin=$(( 0x$(stat -c %t "$dev") )):$(( 0x$(stat -c %T "$dev") ))
  for cli in $CLIS; do
    run $cli run -d --name "cg-$cli" --cgroup-parent /bt-cgparent --memory-swappiness 7 \
      --oom-kill-disable -m 64m --device-read-bps "$dev:1mb" busybox sleep 100
    [ "$status" -eq 0 ]
    local id=$output cg=/sys/fs/cgroup/%s/bt-cgparent/$output
    [ "$(cat "$(printf $cg memory)/memory.swappiness")" = 7 ]
    grep -qx "oom_kill_disable 1" "$(printf $cg memory)/memory.oom_control"
    [ "$(cat "$(printf $cg blkio)/blkio.throttle.read_bps_device")" = "$majmin 1048576" ]
    [ ! -e /sys/fs/cgroup/memory/berth/$id ]
    # top and stats find the container under its parent.
    run docker top "cg-$cli"
    [[ "$output" == *"sleep 100"* ]]
    run docker stats --no-stream --format '{{.MemUsage}}' "cg-$cli"
    [[ "$output" == *" / 64MiB" ]]
    docker rm -f "cg-$cli" >/dev/null
  done
  rmdir /sys/fs/cgroup/*/bt-cgparent 2>/dev/null || true
  # Refused at create, with dockerd's words: nothing is left behind.
  local before=$(docker ps -aq | wc -l)
  for cli in $CLIS; do
    run $cli run --name gpu-$cli --gpus all busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *'could not select device driver "" with capabilities: [[gpu]]'* ]]
    run $cli create --name quota-$cli --storage-opt size=1G busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"--storage-opt is supported only for overlay over xfs with 'pquota' mount option"* ]]
    run docker inspect gpu-$cli quota-$cli
    [ "$status" -ne 0 ]
  done
  # The CLIs check the swappiness range themselves; berthd does too, with dockerd's words.
  run api -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
    -d '{"Image":"busybox","HostConfig":{"MemorySwappiness":101}}' 'http://x/v1.41/containers/create?name=swap'
  [[ "$output" == *"Invalid value: 101, valid memory swappiness range is 0-100"*" 400" ]]
  [ "$(docker ps -aq | wc -l)" -eq "$before" ]
}

@test "--link-local-ip is refused at run and at network connect, with nothing changed" {
  docker network create bt-llnet >/dev/null
  for cli in $CLIS; do
    run $cli run --name "ll-$cli" --network bt-llnet --link-local-ip 169.254.8.8 busybox true
    [ "$status" -ne 0 ]
    [[ "$output" == *"Berth does not add link-local addresses"* ]]
    run docker inspect "ll-$cli"
    [ "$status" -ne 0 ]
  done
  docker create --name ll-c busybox true >/dev/null
  run docker network connect --link-local-ip 169.254.8.8 bt-llnet ll-c
  [ "$status" -ne 0 ]
  [[ "$output" == *"Berth does not add link-local addresses"* ]]
  run docker inspect -f '{{len .NetworkSettings.Networks}}' ll-c
  [ "$output" = 1 ]
  docker rm ll-c >/dev/null
  docker network rm bt-llnet >/dev/null
}
