#!/usr/bin/env bash
# A/B of two hvtax binaries on one trace: RUNS pairs of `hvtax report TRACE`, pinned to one CPU, the
# order alternating between pairs so that neither binary always runs on a warmer cache or a quieter
# moment. Prints each binary's median and best CPU time (user+sys) and wall time, and in how many
# pairs B used less CPU than A: on this shared machine a single best-of-N swings by 10-20% from one
# minute to the next, and the paired count is what says whether a change is real.
#
#   scripts/bench/ab-report.sh A_BIN B_BIN [RUNS (20)] [TRACE]
#   BENCH_CPU: the CPU to pin to (default 1). TRACE defaults to the 5M-event trace.dat that
#   report-trace-dat.sh generates in BENCH_DIR (default /tmp/hvtax-bench).
set -euo pipefail
a=$1 b=$2 runs=${3:-20}
trace=${4:-${BENCH_DIR:-/tmp/hvtax-bench}/trace-5000000.dat}
cpu=${BENCH_CPU:-1}
for binary in "$a" "$b"; do [ -x "$binary" ] || { echo "ab-report: $binary is not an executable" >&2; exit 2; }; done
[ -r "$trace" ] || { echo "ab-report: no trace at $trace (run scripts/bench/report-trace-dat.sh first)" >&2; exit 2; }

# The binary of side A or B.
binary_of() { if [ "$1" = A ]; then echo "$a"; else echo "$b"; fi; }

times=$(mktemp)
trap 'rm -f "$times"' EXIT
for run in $(seq "$runs"); do
    if [ $((run % 2)) = 0 ]; then order="A B"; else order="B A"; fi
    for side in $order; do
        /usr/bin/time -f "$run $side %e %U %S" -a -o "$times" taskset -c "$cpu" "$(binary_of "$side")" report "$trace" >/dev/null
    done
done

median() { sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
best() { sort -n | head -n 1; }
for side in A B; do
    cpu_times=$(awk -v s="$side" '$2 == s {print $4 + $5}' "$times")
    wall_times=$(awk -v s="$side" '$2 == s {print $3}' "$times")
    printf '%s %s: CPU median %.3f s, best %.3f s; wall median %.3f s, best %.3f s\n' "$side" "$(binary_of "$side")" \
        "$(median <<<"$cpu_times")" "$(best <<<"$cpu_times")" "$(median <<<"$wall_times")" "$(best <<<"$wall_times")"
done
awk '{cpu[$1, $2] = $4 + $5; runs[$1]} END {
    for (r in runs) { n++; if (cpu[r, "B"] < cpu[r, "A"]) faster++ }
    printf "B used less CPU than A in %d of %d pairs\n", faster, n }' "$times"
