#!/usr/bin/env bats
# Images from registries, against Debian's docker-registry (Distribution 2.8) started inside this
# file's namespace: push and pull back, digests, a multi-platform index, a tampered blob, the
# registry killed mid-pull, TLS with htpasswd and login, a missing tag. Both CLIs; the docker
# CLI's config goes to a temp dir (DOCKER_CONFIG), never ~/.docker.

load helpers
source "$BATS_TEST_DIRNAME/tools/registry.sh"

MKIMAGE="$BATS_TEST_DIRNAME/tools/mkimage.py"
REG=127.0.0.1:5000   # plain HTTP
SREG=127.0.0.1:5443  # TLS + htpasswd
MT_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_LIST=application/vnd.docker.distribution.manifest.list.v2+json

setup_file() {
  reg_init
  export DOCKER_CONFIG="$REG_ROOT/docker-config"
  mkdir -p "$DOCKER_CONFIG"
  # berthd trusts the test CA through its certs.d tree; it must exist before the daemon starts.
  # A berthd without the flag would refuse to start: the TLS test then fails on the certificate.
  reg_trust 5443
  if "$BIN/berthd" --help 2>&1 | grep -q -- --registry-certs-dir; then
    export BERTH_DAEMON_FLAGS="${BERTH_DAEMON_FLAGS:-} --registry-certs-dir $REG_CERTS_DIR"
  fi
  berth_setup_daemon
  reg_start plain 5000
  reg_start secure 5443 tls
}

# A test that failed half-way must not leave the loopback throttled or the plain registry down.
teardown() {
  reg_ns tc qdisc del dev lo root 2>/dev/null || true
  [ -f "$REG_ROOT/plain/pid" ] || reg_restart plain
}

teardown_file() {
  reg_cleanup
  berth_teardown_daemon
}

# A field of an image.json that mkimage.py wrote: json_field DIR PYTHON-EXPR-ON-j
json_field() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1/image.json"; }

# builds an image with mkimage.py into $BT_DIR/img/NAME and pushes it to REPO:TAG of registry
# NAME_OF_REGISTRY: build_push REGNAME NAME REPO TAG BUILD-ARGS...
build_push() {
  local regname=$1 name=$2 repo=$3 tag=$4 auth=()
  shift 4
  "$MKIMAGE" build --out "$BT_DIR/img/$name" "$@" >/dev/null
  [ "$(cat "$REG_ROOT/$regname/mode")" = tls ] && auth=(--user "$REG_USER:$REG_PASS" --cacert "$REG_ROOT/ca.crt")
  reg_ns "$MKIMAGE" push --dir "$BT_DIR/img/$name" --registry "$(reg_addr "$regname")" \
    --repo "$repo" --tag "$tag" "${auth[@]}" >/dev/null
}

# The busybox rootfs plus /etc/bt-who holding WHO: a layer of its own, so that removing the image
# removes its layer too.
unique_rootfs_tar() {
  local who=$1 d="$BT_DIR/uniq-$1"
  mkdir -p "$d/etc"
  echo "$who" > "$d/etc/bt-who"
  cp "$BT_DIR/busybox.tar" "$BT_DIR/uniq-$who.tar"
  tar -C "$d" -rf "$BT_DIR/uniq-$who.tar" ./etc/bt-who
  echo "$BT_DIR/uniq-$who.tar"
}

@test "the fixture: the registries serve back what mkimage.py pushed, tamper changes a blob's bytes only" {
  build_push plain fx-amd64 test/fixture v1 --seed 5 --arch amd64 --layer 256K:0.5 --file etc/x=1
  "$MKIMAGE" build --out "$BT_DIR/img/fx-arm64" --seed 5 --arch arm64 --layer 256K:0.5 >/dev/null
  local list=$("$MKIMAGE" index --out "$BT_DIR/img/fx-multi" "$BT_DIR/img/fx-amd64" "$BT_DIR/img/fx-arm64")
  reg_ns "$MKIMAGE" push --dir "$BT_DIR/img/fx-multi" --registry "$REG" --repo test/fixture --tag multi \
    --chunk 100K >/dev/null
  local digest=$(json_field "$BT_DIR/img/fx-amd64" 'j["digest"]')
  # The manifest's bytes hash to its digest; so does every blob the registry serves.
  [ "sha256:$(reg_curl plain -s -H "Accept: $MT_MANIFEST" /v2/test/fixture/manifests/v1 | sha256sum | cut -c1-64)" = "$digest" ]
  local b
  for b in $(json_field "$BT_DIR/img/fx-amd64" '" ".join([l["digest"] for l in j["layers"]] + [j["config"]["digest"]])'); do
    [ "sha256:$(reg_curl plain -s "/v2/test/fixture/blobs/$b" | sha256sum | cut -c1-64)" = "$b" ]
  done
  reg_curl plain -s -o "$BT_DIR/fx.list" -H "Accept: $MT_LIST" /v2/test/fixture/manifests/multi
  [ "sha256:$(sha256sum < "$BT_DIR/fx.list" | cut -c1-64)" = "$list" ]
  [ "$(python3 -c 'import json,sys; print(" ".join(m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"]))' < "$BT_DIR/fx.list")" = "amd64 arm64" ]
  # The TLS registry: the test CA verifies it; no credentials, 401; the right ones, 200.
  [ "$(reg_ns curl -s -o /dev/null -w '%{http_code}' --cacert "$REG_ROOT/ca.crt" "https://$SREG/v2/")" = 401 ]
  [ "$(reg_curl secure -s -o /dev/null -w '%{http_code}' /v2/)" = 200 ]
  [ -f "$REG_CERTS_DIR/$SREG/ca.crt" ]
  # Tampered: same length and digest header, other bytes.
  local layer=$(json_field "$BT_DIR/img/fx-amd64" 'j["layers"][0]["digest"]')
  "$MKIMAGE" tamper "$(reg_storage plain)" "$layer" >/dev/null
  reg_curl plain -s -D "$BT_DIR/fx.headers" -o "$BT_DIR/fx.blob" "/v2/test/fixture/blobs/$layer"
  [ "sha256:$(sha256sum < "$BT_DIR/fx.blob" | cut -c1-64)" != "$layer" ]
  grep -qi "^docker-content-digest: $layer" "$BT_DIR/fx.headers"
  grep -qi "^content-length: $(json_field "$BT_DIR/img/fx-amd64" 'j["layers"][0]["size"]')" "$BT_DIR/fx.headers"
}

@test "push an imported image, rmi, pull it back: same id, RepoDigests, images --digests, run" {
  for cli in $CLIS; do
    local repo="test/bb-$cli" ref="$REG/test/bb-$cli:v1"
    $cli import -c 'CMD ["sh"]' "$(unique_rootfs_tar "$cli")" "$ref" >/dev/null
    local id=$($cli image inspect -f '{{.Id}}' "$ref")
    local layers_before=$(ls "$BT_DIR/data/image/layers" | wc -l)

    run $cli push "$ref"
    echo "$cli push: $output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "The push refers to repository [$REG/$repo]" ]
    [[ "$output" == *": Pushed"* ]]
    [[ "$output" =~ v1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ ([0-9]+) ]]
    local digest=${BASH_REMATCH[1]} size=${BASH_REMATCH[2]}
    # The registry serves that manifest under that digest and size.
    run reg_curl plain -s -o /dev/null -w '%header{docker-content-digest} %header{content-length}' \
      -H "Accept: $MT_MANIFEST" "/v2/$repo/manifests/v1"
    [ "$output" = "$digest $size" ]
    run $cli image inspect -f '{{json .RepoDigests}}' "$ref"
    [ "$output" = "[\"$REG/$repo@$digest\"]" ]

    # rmi removes the image and its own layer; the pull fetches it back.
    run $cli rmi "$ref"
    [ "$status" -eq 0 ]
    [ "$(ls "$BT_DIR/data/image/layers" | wc -l)" -eq $((layers_before - 1)) ]
    run $cli pull "$ref"
    echo "$cli pull: $output"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "v1: Pulling from $repo" ]
    [[ "$output" == *": Pull complete"* ]]
    [[ "$output" == *"Digest: $digest"* ]]
    [[ "$output" == *"Status: Downloaded newer image for $ref"* ]]
    [ "$($cli image inspect -f '{{.Id}}' "$ref")" = "$id" ]
    run $cli image inspect -f '{{json .RepoDigests}}' "$ref"
    [ "$output" = "[\"$REG/$repo@$digest\"]" ]
    run $cli images --digests "$REG/$repo"
    [[ "${lines[0]}" == "REPOSITORY"*"TAG"*"DIGEST"*"IMAGE ID"* ]]
    [[ "${lines[1]}" =~ ^$REG/$repo\ +v1\ +$digest\ +${id:7:12}\  ]]
    run $cli run --rm "$ref" echo "pulled by $cli"
    [ "$status" -eq 0 ]
    [ "$output" = "pulled by $cli" ]

    # A second push finds every layer there already, and the same digest.
    run $cli push "$ref"
    [ "$status" -eq 0 ]
    [[ "$output" == *": Layer already exists"* ]]
    [[ "$output" != *": Pushed"* ]]
    [[ "$output" == *"v1: digest: $digest size: $size"* ]]

    # By digest: pull it (gone first), then run it by that name.
    $cli rmi "$ref" >/dev/null
    run $cli pull "$REG/$repo@$digest"
    echo "$cli pull by digest: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Status: Downloaded newer image for $REG/$repo@$digest"* ]]
    [ "$($cli image inspect -f '{{.Id}}' "$REG/$repo@$digest")" = "$id" ]
    run $cli run --rm "$REG/$repo@$digest" echo "run by digest"
    [ "$status" -eq 0 ]
    [ "$output" = "run by digest" ]
  done
}

@test "a multi-platform index: amd64 by default, --platform linux/arm64 the other, run of arm64 refused" {
  # amd64: busybox plus /etc/arch; arm64: the same files marked arm64 (never run: refused first).
  "$MKIMAGE" build --out "$BT_DIR/img/amd64" --arch amd64 --layer-tar "$BT_DIR/busybox.tar" \
    --file etc/arch=amd64 --cmd '["cat","/etc/arch"]' >/dev/null
  "$MKIMAGE" build --out "$BT_DIR/img/arm64" --arch arm64 --variant v8 \
    --layer-tar "$BT_DIR/busybox.tar" --file etc/arch=arm64 --cmd '["cat","/etc/arch"]' >/dev/null
  local list=$("$MKIMAGE" index --out "$BT_DIR/img/multi" "$BT_DIR/img/amd64" "$BT_DIR/img/arm64")
  local amd_id=$(json_field "$BT_DIR/img/amd64" 'j["config"]["digest"]')
  local arm_id=$(json_field "$BT_DIR/img/arm64" 'j["config"]["digest"]')
  for cli in $CLIS; do
    local repo="test/multi-$cli" ref="$REG/test/multi-$cli:v1"
    reg_ns "$MKIMAGE" push --dir "$BT_DIR/img/multi" --registry "$REG" --repo "$repo" --tag v1 >/dev/null
    run reg_curl plain -s -o /dev/null -w '%header{docker-content-digest}' -H "Accept: $MT_LIST" \
      "/v2/$repo/manifests/v1"
    [ "$output" = "$list" ]

    run $cli pull "$ref"
    echo "$cli pull: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Digest: $list"* ]]
    run $cli image inspect -f '{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoDigests}}' "$ref"
    [ "$output" = "$amd_id linux/amd64 [\"$REG/$repo@$list\"]" ]
    run $cli run --rm "$ref"
    [ "$status" -eq 0 ]
    [ "$output" = "amd64" ]

    run $cli pull --platform linux/arm64 "$ref"
    echo "$cli pull --platform linux/arm64: $output"
    [ "$status" -eq 0 ]
    run $cli image inspect -f '{{.Id}} {{.Os}}/{{.Architecture}}' "$ref"
    [ "$output" = "$arm_id linux/arm64" ]
    run $cli run --rm "$ref"
    echo "$cli run of arm64: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *arm64* ]]
    [[ "$output" == *platform* ]]
    # Nothing was created for the refused run.
    [ -z "$($cli ps -aq)" ]
    $cli rmi -f "$amd_id" "$arm_id" >/dev/null
  done
}

@test "a tampered blob: Docker's verification error, nothing stored" {
  for cli in $CLIS; do
    local repo="test/tampered-$cli"
    build_push plain "tampered-$cli" "$repo" v1 --seed "$RANDOM" --layer 2M:0.5
    local layer=$(json_field "$BT_DIR/img/tampered-$cli" 'j["layers"][0]["digest"]')
    "$MKIMAGE" tamper "$(reg_storage plain)" "$layer" >/dev/null
    local images_before=$($cli images -aq | wc -l)
    local layers_before=$(ls "$BT_DIR/data/image/layers" | wc -l)

    run $cli pull "$REG/$repo:v1"
    echo "$cli pull: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"filesystem layer verification failed for digest $layer"* ]]
    [ "$($cli images -aq | wc -l)" -eq "$images_before" ]
    run $cli images "$REG/$repo"
    [ "${#lines[@]}" -eq 1 ]
    [ "$(ls "$BT_DIR/data/image/layers" | wc -l)" -eq "$layers_before" ]
    [ -z "$(ls -A "$BT_DIR/data/image/tmp")" ]
  done
}

@test "the registry killed mid-pull: a clear error, then a second pull completes the rest" {
  for cli in $CLIS; do
    local repo="test/big-$cli" ref="$REG/test/big-$cli:v1" img="$BT_DIR/img/big-$cli"
    # Two small layers first, then a big incompressible one (~30 MB compressed).
    build_push plain "big-$cli" "$repo" v1 --seed "$RANDOM" --layer 1M --layer 1M --layer 32M:0.05
    local small1=$(json_field "$img" 'j["layers"][0]["digest"][7:19]')
    local small2=$(json_field "$img" 'j["layers"][1]["digest"][7:19]')
    local big=$(json_field "$img" 'j["layers"][2]["digest"][7:19]')
    # 40 Mbit/s on the namespace's loopback: the big layer takes ~6 s, the small ones < 0.5 s.
    reg_ns tc qdisc add dev lo root tbf rate 40mbit burst 128kb latency 50ms

    $cli pull "$ref" > "$BT_DIR/pull1.out" 2>&1 &
    local pull=$!
    local done_small=0
    for _ in $(seq 1 300); do
      if grep -q "^$small1: Pull complete" "$BT_DIR/pull1.out" &&
         grep -q "^$small2: Pull complete" "$BT_DIR/pull1.out"; then
        done_small=1
        break
      fi
      kill -0 "$pull" 2>/dev/null || break
      sleep 0.05
    done
    reg_kill plain
    local st=0
    wait "$pull" || st=$?
    reg_ns tc qdisc del dev lo root
    echo "$cli first pull (exit $st): $(cat "$BT_DIR/pull1.out")"
    [ "$done_small" = 1 ]
    [ "$st" -ne 0 ]
    grep -Eiq 'eof|connection|reset|refused|closed' "$BT_DIR/pull1.out"
    run $cli images -q "$REG/$repo"
    [ -z "$output" ]
    [ -z "$(ls -A "$BT_DIR/data/image/tmp")" ]

    reg_restart plain
    run $cli pull "$ref"
    echo "$cli second pull: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"$small1: Already exists"* ]]
    [[ "$output" == *"$small2: Already exists"* ]]
    [[ "$output" == *"$big: Pull complete"* ]]
    [ "$($cli image inspect -f '{{.Id}}' "$ref")" = "$(json_field "$img" 'j["config"]["digest"]')" ]
    $cli rmi "$ref" >/dev/null
  done
}

@test "TLS and htpasswd: auth error without login, unauthorized wrong password, then login, push, pull" {
  build_push secure private "test/private" v1 --seed 11 --layer-tar "$BT_DIR/busybox.tar" \
    --cmd '["echo","private"]'
  local private_id=$(json_field "$BT_DIR/img/private" 'j["config"]["digest"]')
  for cli in $CLIS; do
    # A hang here must fail the test, not the suite: every registry call is bounded.
    local exe=docker
    [ "$cli" = berth ] && exe="$BIN/berth"
    $cli logout "$SREG" >/dev/null 2>&1 || true
    # stdin closed: on an auth error the docker CLI offers "Login prior to pull:" and reads it.
    run timeout 60 $exe pull "$SREG/test/private:v1" </dev/null
    echo "$cli pull without login: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"no basic auth credentials"* ]]

    run timeout 60 bash -c "echo wrong-password | $exe login -u '$REG_USER' --password-stdin $SREG"
    echo "$cli login with a wrong password: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"login attempt to https://$SREG/v2/ failed with status: 401 Unauthorized"* ]]

    run timeout 60 bash -c "echo '$REG_PASS' | $exe login -u '$REG_USER' --password-stdin $SREG"
    echo "$cli login: $output"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Login Succeeded"* ]]

    run timeout 60 $exe pull "$SREG/test/private:v1" </dev/null
    echo "$cli pull: $output"
    [ "$status" -eq 0 ]
    [ "$($cli image inspect -f '{{.Id}}' "$SREG/test/private:v1")" = "$private_id" ]
    run $cli run --rm "$SREG/test/private:v1"
    [ "$output" = "private" ]

    $cli tag busybox "$SREG/test/pushed-$cli:v1"
    run timeout 60 $exe push "$SREG/test/pushed-$cli:v1" </dev/null
    echo "$cli push: $output"
    [ "$status" -eq 0 ]
    [[ "$output" =~ v1:\ digest:\ (sha256:[0-9a-f]{64})\ size:\ ([0-9]+) ]]
    local digest=${BASH_REMATCH[1]}
    run reg_curl secure -s -o /dev/null -w '%header{docker-content-digest}' -H "Accept: $MT_MANIFEST" \
      "/v2/test/pushed-$cli/manifests/v1"
    [ "$output" = "$digest" ]

    run $cli logout "$SREG"
    [ "$status" -eq 0 ]
    $cli rmi "$SREG/test/private:v1" "$SREG/test/pushed-$cli:v1" >/dev/null
  done
}

@test "pull of a missing tag: Docker's manifest unknown" {
  build_push plain present test/present v1 --seed 3 --layer 64K
  for cli in $CLIS; do
    run $cli pull "$REG/test/present:nope"
    echo "$cli: $output"
    [ "$status" -ne 0 ]
    [[ "$output" == *"manifest for $REG/test/present:nope not found: manifest unknown: manifest unknown"* ]]
    run $cli images -q "$REG/test/present"
    [ -z "$output" ]
  done
}
