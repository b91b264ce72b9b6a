#!/usr/bin/env bats
# Images: import, load (docker-archive and OCI layout), save, tag, inspect, rmi, prune.

load helpers

setup_file() { berth_setup_daemon; }
teardown_file() { berth_teardown_daemon; }

@test "import with changes sets CMD, ENV, WORKDIR and ENTRYPOINT" {
  for cli in $CLIS; do
    run $cli import -c 'ENV GREETING=hi' -c 'WORKDIR /tmp' -c 'ENTRYPOINT ["/bin/sh", "-c"]' \
      -c 'CMD ["echo $GREETING from $(pwd)"]' "$BT_DIR/busybox.tar" "imp-$cli:v1"
    [ "$status" -eq 0 ]
    [[ "$output" == sha256:* ]]
    run $cli run --rm "imp-$cli:v1"
    [ "$status" -eq 0 ]
    [ "$output" = "hi from /tmp" ]
    run $cli image inspect -f '{{json .Config.Env}} {{.Config.WorkingDir}}' "imp-$cli:v1"
    [ "$output" = '["GREETING=hi"] /tmp' ]
  done
}

@test "import from stdin" {
  run bash -c "docker import - stdin-img < '$BT_DIR/busybox.tar'"
  [ "$status" -eq 0 ]
  run docker images --format '{{.Repository}}:{{.Tag}}' stdin-img
  [ "$output" = "stdin-img:latest" ]
}

@test "images lists with docker's columns and filters" {
  for cli in $CLIS; do
    run $cli images
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == "REPOSITORY"*"TAG"*"IMAGE ID"*"CREATED"*"SIZE" ]]
    [[ "$output" == *busybox*latest* ]]
    run $cli images -q busybox
    [ "${#lines[@]}" -eq 1 ]
    [[ "${lines[0]}" =~ ^[0-9a-f]{12}$ ]]
    run $cli image ls --filter reference='busy*' --format '{{.Repository}}'
    [ "$output" = "busybox" ]
  done
}

@test "save then load round-trips the image id (docker-archive)" {
  local id=$(docker image inspect -f '{{.Id}}' busybox)
  docker tag busybox roundtrip:1
  docker save -o "$BT_DIR/rt.tar" roundtrip:1
  tar -tf "$BT_DIR/rt.tar" | grep -q manifest.json
  docker rmi roundtrip:1
  run docker load -i "$BT_DIR/rt.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Loaded image: roundtrip:1"* ]]
  [ "$(docker image inspect -f '{{.Id}}' roundtrip:1)" = "$id" ]
  run berth load -i "$BT_DIR/rt.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Loaded image: roundtrip:1"* ]]
}

@test "layers are stored once: a second image with the same layer adds no layer dir" {
  local before=$(ls "$BT_DIR/data/image/layers" | wc -l)
  docker import "$BT_DIR/busybox.tar" same-layer:1
  [ "$(ls "$BT_DIR/data/image/layers" | wc -l)" -eq "$before" ]
}

@test "load an OCI layout tarball with a gzip layer" {
  local d="$BT_DIR/oci" b
  mkdir -p "$d/blobs/sha256"
  gzip -c "$BT_DIR/busybox.tar" > "$d/layer.gz"
  local diff=$(sha256sum < "$BT_DIR/busybox.tar" | cut -d' ' -f1)
  local lsum=$(sha256sum < "$d/layer.gz" | cut -d' ' -f1)
  mv "$d/layer.gz" "$d/blobs/sha256/$lsum"
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["echo","from-oci"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff" > "$d/config"
  local csum=$(sha256sum < "$d/config" | cut -d' ' -f1)
  mv "$d/config" "$d/blobs/sha256/$csum"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":1},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":1}]}' "$csum" "$lsum" > "$d/manifest"
  local msum=$(sha256sum < "$d/manifest" | cut -d' ' -f1)
  mv "$d/manifest" "$d/blobs/sha256/$msum"
  printf '{"imageLayoutVersion":"1.0.0"}' > "$d/oci-layout"
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":1,"annotations":{"io.containerd.image.name":"docker.io/library/ociimg:1"}}]}' "$msum" > "$d/index.json"
  tar -C "$d" -cf "$BT_DIR/oci.tar" oci-layout index.json blobs
  run docker load -i "$BT_DIR/oci.tar"
  [ "$status" -eq 0 ]
  [[ "$output" == *"Loaded image: ociimg:1"* ]]
  [ "$(docker image inspect -f '{{.Id}}' ociimg:1)" = "sha256:$csum" ]
  run docker run --rm ociimg:1
  [ "$output" = "from-oci" ]
}

@test "tag, rmi and prune" {
  for cli in $CLIS; do
    $cli tag busybox "tagged-$cli:x"
    run $cli images --format '{{.Repository}}:{{.Tag}}'
    [[ "$output" == *"tagged-$cli:x"* ]]
    run $cli rmi "tagged-$cli:x"
    [ "$status" -eq 0 ]
    [[ "$output" == *"Untagged: tagged-$cli:x"* ]]
    # busybox itself is still there: only the tag went.
    $cli image inspect busybox >/dev/null
  done
  docker import "$BT_DIR/busybox.tar" dangling:1
  docker tag dangling:1 dangling:2
  docker rmi dangling:2
  run docker rmi dangling:1
  [[ "$output" == *"Deleted: sha256:"* ]] || [[ "$output" == *"Untagged: dangling:1"* ]]
  run docker image prune -f
  [ "$status" -eq 0 ]
  [[ "$output" == *"Total reclaimed space"* ]]
}

@test "rmi of an image a container uses is refused without -f" {
  docker create --name user-of-img busybox true >/dev/null
  docker tag busybox inuse:1
  docker rmi inuse:1  # another tag remains: fine
  run docker rmi "$(docker image inspect -f '{{.Id}}' busybox)"
  [ "$status" -ne 0 ]
  [[ "$output" == *"conflict: unable to delete"* ]]
  docker rm user-of-img
}

@test "an unknown image is a 404 with docker's message" {
  for cli in $CLIS; do
    run $cli image inspect nosuchimage
    [ "$status" -ne 0 ]
    [[ "$output" == *"No such image: nosuchimage"* ]]
  done
}

@test "a truncated image tarball is refused and leaves nothing behind" {
  local n=$(docker images -q | wc -l)
  head -c 100000 "$BT_DIR/busybox.tar" > "$BT_DIR/trunc.tar"
  run docker import "$BT_DIR/trunc.tar" truncated:1
  [ "$status" -ne 0 ]
  [[ "$output" == *"unexpected EOF"* ]]
  docker save -o "$BT_DIR/full.tar" busybox
  head -c 300000 "$BT_DIR/full.tar" > "$BT_DIR/trunc2.tar"
  run docker load -i "$BT_DIR/trunc2.tar"
  [ "$status" -ne 0 ]
  [ "$(docker images -q | wc -l)" -eq "$n" ]
  [ -z "$(ls "$BT_DIR/data/image/tmp")" ]
}

@test "an archive with an oversized manifest is refused" {
  mkdir -p "$BT_DIR/big"
  head -c 9000000 /dev/zero | tr '\0' ' ' > "$BT_DIR/big/manifest.json"
  tar -C "$BT_DIR/big" -cf "$BT_DIR/big.tar" manifest.json
  run docker load -i "$BT_DIR/big.tar"
  [ "$status" -ne 0 ]
  [[ "$output" == *"too large"* ]]
  [ -z "$(ls "$BT_DIR/data/image/tmp")" ]
}
