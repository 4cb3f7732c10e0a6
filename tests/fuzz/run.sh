#!/usr/bin/env bash
# Runs every fuzz target for SECONDS with its corpus, FUZZ_JOBS at a time (default: one per core); prints executions per target and in total, and exits 1
# when any target found a crash, a sanitizer report, a leak or a timeout (the input is saved under CRASHES).
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
set -uo pipefail
build="$1"; seconds="$2"; shift 2
here="$(cd "$(dirname "$0")" && pwd)"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then  # every target the build made (tests/fuzz/CMakeLists.txt lists them)
  for bin in "$build"/bin/fuzz_*; do [ -x "$bin" ] && targets+=("${bin##*/fuzz_}"); done
fi
mkdir -p "$build/crashes" "$build/logs"
seed=(); [ -n "${FUZZ_SEED:-}" ] && seed=(-seed="$FUZZ_SEED")  # a fixed seed replays the same search (CI)
jobs="${FUZZ_JOBS:-$(nproc)}"  # targets side by side, one per core: each still gets SECONDS of a whole core
fuzz_one() {  # TARGET: runs it, leaves its exit status in $build/logs/TARGET.rc
  local t="$1" corpus="$build/corpus/$1" log="$build/logs/$1.log" dict=() extra=()
  mkdir -p "$corpus"
  [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  { [ "$t" = torch_file ] || [ "$t" = checkpoint ]; } && [ -f "$here/pickle.dict" ] && dict=(-dict="$here/pickle.dict")
  [ -d "$here/regressions/$t" ] && extra=("$here/regressions/$t")
  "$build/bin/fuzz_$t" "$corpus" "${extra[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 \
    -max_len=1048576 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "${dict[@]}" "${seed[@]}" >"$log" 2>&1
  echo $? >"$build/logs/$t.rc"
}
running=0
for t in "${targets[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
total=0; failed=0
for t in "${targets[@]}"; do  # reported in the targets' order, whatever order they finished in
  log="$build/logs/$t.log"
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 1)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  total=$((total + ${runs:-0}))
  if [ "$rc" -ne 0 ]; then failed=1; echo "FAIL $t: exit $rc after ${runs:-?} executions; see $log"; grep -m3 -E 'ERROR|SUMMARY' "$log";
  else echo "ok   $t: ${runs:-0} executions, coverage ${cov:-?} edges"; fi
done
echo "total: $total executions"
exit $failed
