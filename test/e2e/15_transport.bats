#!/usr/bin/env bats
# The API's transport: TLS with client certificates on tcp:// (docker's and berth's --tlsverify,
# DOCKER_TLS_VERIFY/DOCKER_CERT_PATH), a client without a certificate refused, plain text on a
# non-loopback address refused unless --tls=false, and the request limits: a client trickling
# its header gets 408, an oversized body 413, an oversized header 431, each changing nothing.

bats_require_minimum_version 1.5.0
load helpers

TLS_PORT=2376

setup_file() {
  export BT_CERTS=$(mktemp -d /tmp/bt-certs.XXXXXX)
  make_certs "$BT_CERTS"
  local c=$BT_CERTS
  export BERTH_DAEMON_FLAGS="-H tcp://127.0.0.1:$TLS_PORT --tlsverify --tlscacert $c/ca.pem"
  BERTH_DAEMON_FLAGS+=" --tlscert $c/server-cert.pem --tlskey $c/server-key.pem --header-timeout 2s"
  berth_setup_daemon
}

teardown_file() {
  berth_teardown_daemon
  [ -n "${BT_PLAIN_NS:-}" ] && ip netns del "$BT_PLAIN_NS" 2>/dev/null
  rm -rf "$BT_CERTS"
}

# A CA, a server certificate for 127.0.0.1, and a client certificate as docker names them
# (ca.pem, cert.pem, key.pem), made with the openssl CLI as docker's docs do.
make_certs() {
  local d=$1 ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$d/ca-key.pem" -out "$d/ca.pem" -days 1 \
    -subj /CN=bt-e2e-ca 2>/dev/null
  openssl req "${ec[@]}" -keyout "$d/server-key.pem" -out "$d/server.csr" -subj /CN=berthd 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > "$d/server.ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
    -days 1 -out "$d/server-cert.pem" -extfile "$d/server.ext" 2>/dev/null
  openssl req "${ec[@]}" -keyout "$d/key.pem" -out "$d/client.csr" -subj /CN=e2e-client 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' > "$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$d/ca.pem" -CAkey "$d/ca-key.pem" -CAcreateserial \
    -days 1 -out "$d/cert.pem" -extfile "$d/client.ext" 2>/dev/null
  mkdir -p "$d/nocert" && cp "$d/ca.pem" "$d/nocert/ca.pem"
}

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }
TLS_FLAGS() { echo --tlsverify --tlscacert "$BT_CERTS/ca.pem" --tlscert "$BT_CERTS/cert.pem" --tlskey "$BT_CERTS/key.pem" -H "tcp://127.0.0.1:$TLS_PORT"; }
tls_docker() { in_ns docker $(TLS_FLAGS) "$@"; }
tls_berth() { in_ns "$BIN/berth" $(TLS_FLAGS) "$@"; }

@test "docker over TLS with a client certificate: version, run, exec, run -i" {
  run tls_docker version --format '{{.Server.APIVersion}} {{.Server.Version}}'
  [ "$status" -eq 0 ]
  [ "$output" = "1.41 0.1.0" ]
  run tls_docker run --rm busybox echo hi
  [ "$status" -eq 0 ]
  [ "$output" = "hi" ]
  run tls_docker run --rm busybox sh -c 'exit 3'
  [ "$status" -eq 3 ]
  tls_docker run -d --name tls-d busybox sleep 60
  run tls_docker exec tls-d echo inside
  [ "$output" = "inside" ]
  # stdin through the hijacked TLS stream: the CLI half-closes it (close_notify) at EOF and
  # still reads the output to its end.
  run bash -c "printf 'line1\nline2\n' | nsenter --net=/run/netns/$BT_NS docker $(TLS_FLAGS) exec -i tls-d cat"
  [ "$status" -eq 0 ]
  [ "$output" = "$(printf 'line1\nline2')" ]
  run bash -c "echo from-stdin | nsenter --net=/run/netns/$BT_NS docker $(TLS_FLAGS) run -i --rm busybox cat"
  [ "$status" -eq 0 ]
  [ "$output" = "from-stdin" ]
  docker rm -f tls-d >/dev/null
}

@test "berth over TLS: flags, and DOCKER_TLS_VERIFY with DOCKER_CERT_PATH" {
  run tls_berth version
  [ "$status" -eq 0 ]
  [[ "$output" == *"1.41"* ]]
  run tls_berth run --rm busybox echo hi
  [ "$output" = "hi" ]
  tls_berth run -d --name tls-b busybox sleep 60
  run tls_berth exec tls-b echo inside
  [ "$output" = "inside" ]
  run bash -c "echo piped | nsenter --net=/run/netns/$BT_NS $BIN/berth $(TLS_FLAGS) exec -i tls-b cat"
  [ "$status" -eq 0 ]
  [ "$output" = "piped" ]
  run bash -c "echo from-stdin | nsenter --net=/run/netns/$BT_NS $BIN/berth $(TLS_FLAGS) run -i --rm busybox cat"
  [ "$output" = "from-stdin" ]
  run env DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$BT_CERTS" nsenter --net="/run/netns/$BT_NS" \
    "$BIN/berth" -H "tcp://127.0.0.1:$TLS_PORT" ps --format '{{.Names}}'
  [ "$status" -eq 0 ]
  [ "$output" = "tls-b" ]
  docker rm -f tls-b >/dev/null
}

@test "a client without a certificate is refused" {
  for cli in docker "$BIN/berth"; do
    run env DOCKER_CERT_PATH="$BT_CERTS/nocert" nsenter --net="/run/netns/$BT_NS" \
      $cli --tlsverify -H "tcp://127.0.0.1:$TLS_PORT" ps
    [ "$status" -ne 0 ]
    [[ "$output" == *"certificate required"* ]]
  done
  # Plain HTTP on the TLS port gets nothing it can use either.
  run in_ns curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$TLS_PORT/_ping"
  [ "$output" != "200" ]
  grep -q "API connection refused: TLS handshake" "$BT_DIR/berthd.log"
}

@test "plain text on a non-loopback address is refused unless --tls=false says so" {
  export BT_PLAIN_NS="bt-e2e-$$-plain"
  ip netns add "$BT_PLAIN_NS"
  ip -n "$BT_PLAIN_NS" link set lo up
  ip -n "$BT_PLAIN_NS" link add bt-plain0 type veth peer name bt-plain1
  ip -n "$BT_PLAIN_NS" addr add 10.251.0.1/24 dev bt-plain0
  ip -n "$BT_PLAIN_NS" link set bt-plain0 up
  ip -n "$BT_PLAIN_NS" link set bt-plain1 up
  local d="$BT_DIR/plain"
  run nsenter --net="/run/netns/$BT_PLAIN_NS" "$BIN/berthd" -H tcp://10.251.0.1:2375 \
    --data-root "$d/data" --exec-root "$d/exec" 3>&-
  [ "$status" -eq 1 ]
  [[ "$output" == *"refusing to listen on tcp://10.251.0.1:2375 without TLS: binding to an IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network"* ]]
  [ ! -e "$d/data" ]  # refused before anything was made

  # With the explicit opt-out it serves, and says loudly what that means.
  nsenter --net="/run/netns/$BT_PLAIN_NS" "$BIN/berthd" -H tcp://10.251.0.1:2375 --tls=false \
    --data-root "$d/data" --exec-root "$d/exec" >"$d.log" 2>&1 3>&- &
  local pid=$!
  local up=
  for _ in $(seq 1 200); do
    nsenter --net="/run/netns/$BT_PLAIN_NS" curl -sf http://10.251.0.1:2375/_ping >/dev/null 2>&1 && { up=1; break; }
    sleep 0.05
  done
  kill "$pid"; wait "$pid" || true
  [ -n "$up" ]
  grep -q "serves the Engine API in plain text to anyone who can reach it" "$d.log"
  grep -q "Binding to IP address without --tlsverify is insecure" "$d.log"
  ip netns del "$BT_PLAIN_NS"
  unset BT_PLAIN_NS
}

@test "a client trickling its request header gets 408, and holds no thread on the TLS port either" {
  run python3 - "$BT_SOCK" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: ")
t0 = time.time()
s.settimeout(1.0)
reply, answered = b"", None
while time.time() - t0 < 10:
    try:
        d = s.recv(4096)
        if not d: break
        answered = answered or time.time()
        reply += d
    except socket.timeout:
        try: s.sendall(b"a")   # one byte a second
        except OSError: break
print(reply.split(b"\r\n")[0].decode(), round(answered - t0))
print(reply.split(b"\r\n\r\n", 1)[1].decode().strip())
EOF
  [ "${lines[0]}" = "HTTP/1.1 408 Request Timeout 2" ]
  [ "${lines[1]}" = '{"message":"timeout: the request header was not received within 2s"}' ]
  # A TCP client that never starts its TLS handshake is closed after the same time.
  run in_ns python3 -c "
import socket, time
s = socket.create_connection(('127.0.0.1', $TLS_PORT)); t0 = time.time(); s.settimeout(10)
print(s.recv(100) == b'' and round(time.time() - t0))"
  [ "$output" = "2" ]
}

@test "an oversized JSON body gets 413 and creates nothing; an oversized header 431" {
  local before=$(ls "$BT_DIR/data/containers" | wc -l)
  head -c $((17 << 20)) /dev/zero | tr '\0' ' ' > "$BT_DIR/big.json"
  run api -o "$BT_DIR/413.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    --data-binary @"$BT_DIR/big.json" http://x/v1.41/containers/create
  [ "$output" = "413" ]
  [ "$(cat "$BT_DIR/413.out")" = '{"message":"request body too large: the limit is 16 MiB"}' ]
  [ "$(ls "$BT_DIR/data/containers" | wc -l)" -eq "$before" ]
  [ -z "$(docker ps -aq)" ]
  run api -o "$BT_DIR/431.out" -w '%{http_code}' -H "X-Big: $(head -c 70000 /dev/zero | tr '\0' a)" http://x/_ping
  [ "$output" = "431" ]
  [ "$(cat "$BT_DIR/431.out")" = '{"message":"request header too large: the limit is 64 KiB"}' ]
  # The daemon serves on as before.
  run docker version --format '{{.Server.APIVersion}}'
  [ "$output" = "1.41" ]
}
