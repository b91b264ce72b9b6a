# The registry fixture for the e2e tests: Debian's docker-registry (Distribution 2.8) on
# 127.0.0.1:PORT inside a network namespace of the test's (by default the file's own, $BT_NS),
# plain HTTP, or TLS (a CA this fixture makes) with htpasswd basic auth.
#
#   reg_init                        REG_ROOT (a temp dir), the CA, REG_CERTS_DIR (the certs.d
#                                   tree berthd is given with --registry-certs-dir). Call before
#                                   the daemon starts.
#   reg_trust PORT                  REG_CERTS_DIR/127.0.0.1:PORT/ca.crt (the test CA), so that a
#                                   berthd started now trusts the TLS registry started later.
#   reg_start NAME PORT [tls]       starts registry NAME; waits until /v2/ answers.
#   reg_stop NAME | reg_kill NAME   SIGTERM (waits) | SIGKILL of that registry's pid.
#   reg_restart NAME                starts NAME again on its port and storage.
#   reg_storage NAME                its storage root (the filesystem driver's rootdirectory).
#   reg_addr NAME                   127.0.0.1:PORT
#   reg_curl NAME ARGS... URLPATH   curl inside the namespace (CA and credentials when tls).
#   reg_ns CMD...                   runs CMD inside the registry namespace.
#   reg_cleanup                     stops every registry, removes REG_ROOT.
#
# REG_NS (default $BT_NS) is the namespace; REG_USER/REG_PASS the htpasswd user of tls mode.
# Each registry writes its log to $REG_ROOT/NAME/registry.log.

REG_USER=${REG_USER:-berthuser}
REG_PASS=${REG_PASS:-s3cret-pass}

reg_ns() { nsenter --net="/run/netns/${REG_NS:-$BT_NS}" "$@"; }

reg_init() {
  export REG_ROOT=$(mktemp -d /tmp/bt-reg.XXXXXX)
  export REG_CERTS_DIR="$REG_ROOT/certs.d"
  mkdir -p "$REG_CERTS_DIR"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=berth test CA" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$REG_ROOT/ca.key" -out "$REG_ROOT/ca.crt" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$REG_ROOT/server.key" -out "$REG_ROOT/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    > "$REG_ROOT/server.ext"
  openssl x509 -req -in "$REG_ROOT/server.csr" -CA "$REG_ROOT/ca.crt" -CAkey "$REG_ROOT/ca.key" \
    -CAcreateserial -days 2 -extfile "$REG_ROOT/server.ext" -out "$REG_ROOT/server.crt" 2>/dev/null
  htpasswd -Bbn "$REG_USER" "$REG_PASS" > "$REG_ROOT/htpasswd"
}

reg_trust() {
  mkdir -p "$REG_CERTS_DIR/127.0.0.1:$1"
  cp "$REG_ROOT/ca.crt" "$REG_CERTS_DIR/127.0.0.1:$1/ca.crt"
}

reg_addr() { echo "127.0.0.1:$(cat "$REG_ROOT/$1/port")"; }
reg_storage() { echo "$REG_ROOT/$1/storage"; }

reg_start() {
  local name=$1 port=$2 mode=${3:-plain} d="$REG_ROOT/$1"
  mkdir -p "$d/storage"
  echo "$port" > "$d/port"
  echo "$mode" > "$d/mode"
  {
    printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$d/storage"
    printf '  maintenance:\n    uploadpurging:\n      enabled: false\n'
    printf 'http:\n  addr: 127.0.0.1:%s\n  secret: berth-e2e-%s\n' "$port" "$name"
    if [ "$mode" = tls ]; then
      printf '  tls:\n    certificate: %s\n    key: %s\n' "$REG_ROOT/server.crt" "$REG_ROOT/server.key"
      printf 'auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n' "$REG_ROOT/htpasswd"
      reg_trust "$port"
    fi
  } > "$d/config.yml"
  reg_restart "$name"
}

reg_restart() {
  local d="$REG_ROOT/$1"
  # 3>&-: bats waits for every holder of fd 3. nsenter execs the registry: $! is its pid (not
  # through reg_ns: a function in the background runs in a subshell, whose pid $! would be).
  nsenter --net="/run/netns/${REG_NS:-$BT_NS}" /usr/bin/docker-registry serve "$d/config.yml" \
    >>"$d/registry.log" 2>&1 3>&- &
  echo $! > "$d/pid"
  local delay=0.01
  # Up to ~30 s: with tests running side by side (ctest -j 4) a TLS registry can start slowly.
  for _ in $(seq 1 160); do
    local code
    # `|| true`: not answering yet is curl's exit 7, which would end a caller running under
    # `set -e` (a bats test calling reg_restart bare) at the first try.
    code=$(reg_curl "$1" -s -o /dev/null -w '%{http_code}' /v2/ 2>/dev/null) || true
    case "$code" in 200|401) return 0 ;; esac
    kill -0 "$(cat "$d/pid")" 2>/dev/null || { cat "$d/registry.log" >&2; return 1; }
    sleep "$delay"
    delay=$(awk -v d="$delay" 'BEGIN { d *= 2; if (d > 0.2) d = 0.2; print d }')
  done
  echo "registry $1 did not answer on $(reg_addr "$1")" >&2
  cat "$d/registry.log" >&2
  return 1
}

# reg_curl NAME [CURL ARGS...] PATH: PATH is under https?://127.0.0.1:PORT.
reg_curl() {
  local name=$1 d="$REG_ROOT/$1"
  shift
  local path=${!#} args=("${@:1:$#-1}")
  if [ "$(cat "$d/mode")" = tls ]; then
    reg_ns curl --cacert "$REG_ROOT/ca.crt" -u "$REG_USER:$REG_PASS" "${args[@]}" \
      "https://$(reg_addr "$name")$path"
  else
    reg_ns curl "${args[@]}" "http://$(reg_addr "$name")$path"
  fi
}

reg_stop() { _reg_signal "$1" TERM; }
reg_kill() { _reg_signal "$1" KILL; }

_reg_signal() {
  local f="$REG_ROOT/$1/pid" pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  kill -"$2" "$pid" 2>/dev/null || true
  for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  kill -0 "$pid" 2>/dev/null && { kill -KILL "$pid"; sleep 0.05; }
  # Reaps it when it is this shell's child (and keeps bash's "Killed" job notice out of the output).
  wait "$pid" 2>/dev/null || true
  rm -f "$f"
}

reg_cleanup() {
  [ -n "${REG_ROOT:-}" ] && [ -d "$REG_ROOT" ] || return 0
  local d
  for d in "$REG_ROOT"/*/; do
    [ -f "$d/pid" ] && _reg_signal "$(basename "$d")" TERM
  done
  rm -rf "$REG_ROOT"
}
