#!/usr/bin/env bash
# Runs every benchmark against the binaries in $1 (default build/bin). Each starts its own berthd in
# a network namespace of its own and removes everything it made.
set -euo pipefail
bin=${1:-build/bin}
bin=$(cd "$bin" && pwd)
"$bin/engine_bench" "$bin" "${ITERATIONS:-30}"
"$bin/network_bench" "$bin" "${ITERATIONS:-30}"
