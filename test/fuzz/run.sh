#!/bin/bash
# Runs one libFuzzer target for a set time on its seed corpus.
# usage: test/fuzz/run.sh BUILD-FUZZ/bin/NAME_fuzz SECONDS [libFuzzer flags...]
#   seeds (read only, in git):  test/fuzz/corpus/NAME/
#   grown corpus (kept):        $FUZZ_WORK/corpus/NAME_fuzz/   (FUZZ_WORK defaults to build-fuzz/work)
#   crashes, leaks, timeouts:   $FUZZ_WORK/artifacts/NAME_fuzz-*
#   dictionary, extra flags:    test/fuzz/NAME_fuzz.dict, test/fuzz/NAME_fuzz.options (one flag a line)
# Exit 0 when the time ran out without a finding, 77 (skip) when the target is not built, else the
# fuzzer's failure.
set -euo pipefail
bin=$1
seconds=${2:-60}
shift 2 || shift $#
here=$(cd "$(dirname "$0")" && pwd)
name=$(basename "$bin")
if [ ! -x "$bin" ]; then
  echo "skipped: $bin is not built (make fuzz-build builds the fuzz preset with clang)"
  exit 77
fi
work=${FUZZ_WORK:-$here/../../build-fuzz/work}
mkdir -p "$work/corpus/$name" "$work/artifacts"
work=$(cd "$work" && pwd)
seeds=$here/corpus/${name%_fuzz}
flags=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
  # libFuzzer's default exit code for a finding is 77, which ctest would read as "skipped".
  -error_exitcode=1 -timeout_exitcode=1
  -artifact_prefix="$work/artifacts/$name-")
[ -f "$here/$name.dict" ] && flags+=(-dict="$here/$name.dict")
if [ -f "$here/$name.options" ]; then
  while read -r line; do
    [[ -z "$line" || "$line" == \#* ]] || flags+=("$line")
  done <"$here/$name.options"
fi
log=$work/$name.log
echo "$name: ${seconds}s, corpus $work/corpus/$name + $seeds"
rc=0
"$bin" "${flags[@]}" "$@" "$work/corpus/$name" "$seeds" >"$log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
  tail -n 80 "$log"
  echo "$name: FAILED (exit $rc); full log $log, reproducer in $work/artifacts/"
  exit "$rc"
fi
# The last status line: executions, coverage (cov: edges, ft: features), corpus, exec/s.
grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1 | sed "s/^/$name: /"
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" | sed "s/^/$name: /"
