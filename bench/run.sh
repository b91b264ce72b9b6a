#!/usr/bin/env bash
# Runs every benchmark against the binaries in $1 (default build/bin). Each works in network
# namespaces of its own (engine_bench and network_bench start their own berthd there; swarm_bench
# makes `berth lab` clusters named bt-bench-*) and removes everything it made.
set -euo pipefail
bin=${1:-build/bin}
bin=$(cd "$bin" && pwd)
"$bin/engine_bench" "$bin" "${ITERATIONS:-30}"
"$bin/network_bench" "$bin" "${ITERATIONS:-30}"
"$bin/firewall_bench" "$bin" "${ITERATIONS:-30}"
"$bin/mesh_bench" "$bin" "${ITERATIONS:-30}"
"$bin/overlay_bench" "$bin" "${OVERLAY_SECONDS:-4}"
"$bin/soak_bench" "$bin" "${SOAK_RUNS:-5000}" "${SOAK_DETACHED:-500}"
"$bin/logs_bench" "$bin" "${LOG_ITERATIONS:-5}" "${LOG_MB:-100}"
"$bin/registry_bench" "$bin" "${REGISTRY_ROUNDS:-5}" "${REGISTRY_MB:-200}"
"$bin/swarm_bench" "$bin" "${SWARM_RUNS:-5}"
"$bin/service_bench" "$bin" "${SERVICE_RUNS:-5}"
