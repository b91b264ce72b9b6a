#!/usr/bin/env bats
# kill -9 of berthd with networked containers: after restart the containers keep their
# addresses, names and published ports; kernel objects nobody owns are removed.

load helpers

setup_file() {
  berth_setup_daemon
  docker import -c 'CMD ["httpd", "-f", "-p", "80", "-h", "/var/www"]' "$BT_DIR/busybox.tar" web >/dev/null
}
teardown_file() { berth_teardown_daemon; }

in_ns() { nsenter --net="/run/netns/$BT_NS" "$@"; }

@test "kill -9 berthd: networks, DNS and published ports survive the restart" {
  docker network create rnet
  docker run -d --name rweb --net rnet -p 8088:80 web
  docker run -d -it --name rcli --net rnet busybox
  local ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rweb)
  kill -9 "$BT_PID"
  wait "$BT_PID" 2>/dev/null || true
  # While berthd is down the datapath keeps working: it lives in the kernel.
  run in_ns curl -s --max-time 5 http://127.0.0.1:8088/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  berth_start_daemon
  run docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rweb
  [ "$output" = "$ip" ]
  run docker exec rcli wget -q -O - http://rweb/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  run in_ns curl -s --max-time 5 http://127.0.0.1:8088/
  [[ "$output" == *"<h1>berth</h1>"* ]]
  # The address stays taken: a new container gets another one.
  docker run -d -it --name rnew --net rnet busybox
  [ "$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' rnew)" != "$ip" ]
  docker rm -f rweb rcli rnew
  docker network rm rnet
}

@test "orphans berthd named itself are removed at start; foreign links are left alone" {
  in_ns ip link add veth1234abc type veth peer name bt-peer0
  in_ns ip link add br-0123456789ab type bridge
  in_ns ip link add bt-foreign type bridge
  mkdir -p "$BT_DIR/exec/netns"
  touch "$BT_DIR/exec/netns/deadbeef0000"
  berth_stop_daemon
  berth_start_daemon
  run in_ns ip -o link
  [[ "$output" != *veth1234abc* ]]
  [[ "$output" != *br-0123456789ab* ]]
  [[ "$output" == *bt-foreign* ]]
  [ ! -e "$BT_DIR/exec/netns/deadbeef0000" ]
  in_ns ip link del bt-foreign
}
