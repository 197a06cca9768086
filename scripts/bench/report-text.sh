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
cpu=${BENCH_CPU:-1}
dir=${BENCH_DIR:-/tmp/hvtax-bench}
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH

swift build -c release --product hvtax >/dev/null
hvtax=$(swift build -c release --show-bin-path)/hvtax
mkdir -p "$dir"
trace="$dir/trace-$events.txt"
if [ ! -s "$trace" ]; then
    "$hvtax" synth --events "$events" --vms 4 --vcpus-per-vm 4 --seed 42 -o "$trace"
fi
lines=$(wc -l < "$trace")
bytes=$(stat -c %s "$trace")
awk_program='/ kvm_exit: / { i = index($0, " reason "); r = substr($0, i + 8); j = index(r, " rip "); c[substr(r, 1, j - 1)]++ } END { for (k in c) print k, c[k] }'

measure() {  # name, command...
    local name=$1; shift
    local best_wall=999999 best_cpu=999999 peak=0
    for _ in $(seq "$runs"); do
        local out
        out=$( { /usr/bin/time -f "%e %U %S %M" taskset -c "$cpu" "$@" >/dev/null; } 2>&1 | tail -1)
        read -r wall user sys rss <<<"$out"
        local cpu_s
        cpu_s=$(echo "$user + $sys" | bc)
        best_wall=$(echo "if ($wall < $best_wall) $wall else $best_wall" | bc)
        best_cpu=$(echo "if ($cpu_s < $best_cpu) $cpu_s else $best_cpu" | bc)
        [ "$rss" -gt "$peak" ] && peak=$rss
    done
    printf "%-28s %8.2f %8.2f %14s %14s %9.1f\n" "$name" "$best_wall" "$best_cpu" \
        "$(echo "$lines / $best_wall" | bc)" "$(echo "$lines / $best_cpu" | bc)" "$(echo "scale=1; $peak / 1024" | bc)"
}

echo "trace: $trace, $lines events, $((bytes / 1048576)) MiB; best of $runs runs, pinned to CPU $cpu"
printf "%-28s %8s %8s %14s %14s %9s\n" tool "wall s" "cpu s" "events/s wall" "events/s cpu" "peak MB"
measure "hvtax report (full)" "$hvtax" report "$trace" --format json
command -v mawk >/dev/null && measure "mawk (count exits/reason)" mawk "$awk_program" "$trace"
command -v gawk >/dev/null && measure "gawk (count exits/reason)" gawk "$awk_program" "$trace"
