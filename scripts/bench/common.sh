# Sourced by the benchmark scripts after they set `events` and `runs`: goes to the repository root,
# builds hvtax in release mode (`$hvtax`, or HVTAX_BIN), makes the trace folder (`$dir`, BENCH_DIR), picks the CPU
# (`$cpu`, BENCH_CPU), and defines `measure` and `measure_header`.
cpu=${BENCH_CPU:-1}
dir=${BENCH_DIR:-/tmp/hvtax-bench}
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=hvtax-binary.sh
source scripts/bench/hvtax-binary.sh
mkdir -p "$dir"

# `measure NAME COMMAND...` runs COMMAND $runs times pinned to
# CPU $cpu and prints the best wall and CPU (user+sys) time, events per second for $events_count
# events, and the largest resident set. Needs: runs, cpu, events_count, name_width.
measure() {
    local name=$1; shift
    local best_wall=999999 best_cpu=999999 peak=0
    for _ in $(seq "$runs"); do
        local out wall user sys rss cpu_s
        out=$( { /usr/bin/time -f "%e %U %S %M" taskset -c "$cpu" "$@" >/dev/null; } 2>&1 | tail -1)
        read -r wall user sys rss <<<"$out"
        cpu_s=$(echo "$user + $sys" | bc)
        best_wall=$(echo "if ($wall < $best_wall) $wall else $best_wall" | bc)
        best_cpu=$(echo "if ($cpu_s < $best_cpu) $cpu_s else $best_cpu" | bc)
        [ "$rss" -gt "$peak" ] && peak=$rss
    done
    printf "%-${name_width}s %8.2f %8.2f %14s %14s %9.1f\n" "$name" "$best_wall" "$best_cpu" \
        "$(echo "$events_count / $best_wall" | bc)" "$(echo "$events_count / $best_cpu" | bc)" "$(echo "scale=1; $peak / 1024" | bc)"
}

measure_header() {
    printf "%-${name_width}s %8s %8s %14s %14s %9s\n" tool "wall s" "cpu s" "events/s wall" "events/s cpu" "peak MB"
}
