#!/usr/bin/env bash
# Benchmark: `hvtax report` (full analysis) on a trace.dat of EVENTS events, side by side in one run
# with `trace-cmd report` printing the same file to /dev/null.
#
#   scripts/bench/report-trace-dat.sh [EVENTS] [RUNS]      default 5000000 events, 3 runs each
#
# The trace.dat is made from hvtax's synthetic trace (4 VMs x 4 vCPUs, seed 42) by `hvtax convert`,
# so anyone can run this without root or KVM. Each tool runs pinned to one CPU (BENCH_CPU, default
# 1); the best of RUNS is reported, wall and CPU (user+sys) separately; peak memory is the largest
# resident set of any run. Needs trace-cmd (Debian: apt-get install trace-cmd).
set -euo pipefail
events=${1:-5000000}
runs=${2:-3}
# shellcheck source=common.sh
source "$(dirname "$0")/common.sh"
trace="$dir/trace-$events.dat"
if [ ! -s "$trace" ] || [ ! -s "$trace.count" ]; then
    # convert says "wrote FILE: N events" on stderr; N is the number of records in the file.
    "$hvtax" synth --events "$events" --vms 4 --vcpus-per-vm 4 --seed 42 -o - \
        | "$hvtax" convert - -o "$trace" 2>&1 | sed -n 's/.*: \([0-9]*\) events.*/\1/p' > "$trace.count"
fi
count=$(cat "$trace.count")
zstd_trace="$dir/trace-$events-v7-zstd.dat"
[ -s "$zstd_trace" ] || "$hvtax" convert "$trace" --file-version 7 --compression zstd -o "$zstd_trace" 2>/dev/null
bytes=$(stat -c %s "$trace")

events_count=$count
name_width=32

echo "trace: $trace, $count events, $((bytes / 1048576)) MiB; best of $runs runs, pinned to CPU $cpu"
measure_header
measure "hvtax report (full analysis)" "$hvtax" report "$trace" --format json
measure "trace-cmd report > /dev/null" trace-cmd report "$trace"
echo "the same events as a v7 zstd-compressed trace.dat: $(($(stat -c %s "$zstd_trace") / 1048576)) MiB"
measure "hvtax report (v7 zstd)" "$hvtax" report "$zstd_trace" --format json
measure "trace-cmd report (v7 zstd)" trace-cmd report "$zstd_trace"
