#!/usr/bin/env bash
# Runs every benchmark against the binaries in $1 (default build/bin).
set -euo pipefail
bin=${1:-build/bin}
"$bin/engine_bench" "$(cd "$bin" && pwd)" "${ITERATIONS:-30}"
