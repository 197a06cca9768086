#!/usr/bin/env bash
# Benchmark: `hvtax report` on a generated ftrace text trace, side by side in one run with awk
# counting kvm_exit per reason over the same file (a floor: awk does no pairing, no time split).
#
#   scripts/bench/report-text.sh [EVENTS] [RUNS]      default 10000000 events, 3 runs each
#
# Each tool runs pinned to one CPU (BENCH_CPU, default 1); the best of RUNS is reported, wall and
# CPU (user+sys) time separately, because on a shared machine the wall clock also counts waiting.
# Peak memory is the largest resident set of any run. Needs mawk (Debian's awk); gawk if present.
set -euo pipefail
events=${1:-10000000}
runs=${2:-3}
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
trace="$dir/trace-$events.txt"
if [ ! -s "$trace" ]; then
    "$hvtax" synth --events "$events" --vms 4 --vcpus-per-vm 4 --seed 42 -o "$trace"
fi
lines=$(wc -l < "$trace")
bytes=$(stat -c %s "$trace")
awk_program='/ kvm_exit: / { i = index($0, " reason "); r = substr($0, i + 8); j = index(r, " rip "); c[substr(r, 1, j - 1)]++ } END { for (k in c) print k, c[k] }'

events_count=$lines
name_width=28

echo "trace: $trace, $lines events, $((bytes / 1048576)) MiB; best of $runs runs, pinned to CPU $cpu"
measure_header
measure "hvtax report (full)" "$hvtax" report "$trace" --format json
command -v mawk >/dev/null && measure "mawk (count exits/reason)" mawk "$awk_program" "$trace"
command -v gawk >/dev/null && measure "gawk (count exits/reason)" gawk "$awk_program" "$trace"
