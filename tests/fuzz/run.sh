#!/usr/bin/env bash
# Runs every fuzz target for SECONDS with its corpus; prints executions per target and in total, and exits 1
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
total=0; failed=0
for t in "${targets[@]}"; do
  corpus="$build/corpus/$t"; mkdir -p "$corpus"
  dict=(); [ -f "$here/$t.dict" ] && dict=(-dict="$here/$t.dict")
  [ "$t" = torch_file ] || [ "$t" = checkpoint ] && [ -f "$here/pickle.dict" ] && dict=(-dict="$here/pickle.dict")
  log="$build/logs/$t.log"
  extra=(); [ -d "$here/regressions/$t" ] && extra=("$here/regressions/$t")
  "$build/bin/fuzz_$t" "$corpus" "${extra[@]}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=3072 \
    -max_len=1048576 -print_final_stats=1 -artifact_prefix="$build/crashes/$t-" "${dict[@]}" "${seed[@]}" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  total=$((total + ${runs:-0}))
  if [ $rc -ne 0 ]; then failed=1; echo "FAIL $t: exit $rc after ${runs:-?} executions; see $log"; grep -m3 -E 'ERROR|SUMMARY' "$log";
  else echo "ok   $t: ${runs:-0} executions, coverage ${cov:-?} edges"; fi
done
echo "total: $total executions"
exit $failed
