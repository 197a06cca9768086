#!/usr/bin/env bash
# Benchmark: what each live mode of hvtax costs as a whole process (every thread: sampling, analysis,
# accounting validation, output, history, HTTP), per second of running, on gen-proc-tree.py's bench
# tree of VMS libvirt VMs x VCPUS vCPUs. live-sampler.sh measures the sampler alone; this is what
# `top` or `ps` shows for the process.
#
#   scripts/bench/whole-process.sh [VMS] [VCPUS] [SECONDS]     default 100 8 30
#
# Modes, one after the other, each at a 1 s interval unless said:
#   top        plain lines (stdout not a TTY), the default sort
#   snapshot   --format json, a full snapshot written every interval
#   serve 1s   history on (SQLite), scraped every 15 s as Prometheus scrapes (its Accept header,
#              Accept-Encoding: gzip)
#   serve 5s   the same at serve's default sample_interval
# CPU: the process's utime+stime (/proc/PID/stat, clock ticks) from 5 s after its start (start-up,
# discovery and the first samples excluded) to SECONDS later. HVTAX_BIN_B=path measures a second
# binary after each mode of the first, for a side-by-side of two commits.
set -euo pipefail
vms=${1:-100}
vcpus=${2:-8}
seconds=${3:-30}
# shellcheck source=live-bench.sh
source "$(dirname "$0")/live-bench.sh"
bench_tree "$vms" "$vcpus"
work=$(mktemp -d)
hz=$(getconf CLK_TCK)
accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure LABEL SCRAPE(0|1) COMMAND...: the steady CPU of COMMAND, scraping it every 15 s if asked.
measure() {
    local label=$1 scrape=$2
    shift 2
    rm -f "$work"/history.sqlite*
    "$@" >"$work/out" 2>"$work/err" &
    local pid=$! address=
    if [ "$scrape" = 1 ]; then
        for _ in $(seq 50); do
            address=$(grep -o 'listening on http://[0-9.:]*' "$work/err" | head -1 | sed 's|listening on http://||') || true
            [ -n "$address" ] && break
            sleep 0.1
        done
        [ -n "$address" ] || { echo "$label: serve did not start: $(cat "$work/err")"; kill "$pid"; return 1; }
    fi
    sleep 5
    local first last scrapes=0 next=0 start=$SECONDS
    first=$(ticks "$pid")
    while (( SECONDS - start < seconds )); do
        if [ "$scrape" = 1 ] && (( SECONDS - start >= next )); then
            curl -sf -o /dev/null -H "Accept: $accept" -H 'Accept-Encoding: gzip' "http://$address/metrics" && scrapes=$((scrapes + 1))
            next=$((next + 15))
        fi
        sleep 1
    done
    last=$(ticks "$pid")
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    local elapsed=$(( SECONDS - start ))
    awk -v l="$label" -v t=$(( last - first )) -v hz="$hz" -v s="$elapsed" -v n="$scrapes" -v scrape="$scrape" 'BEGIN {
        printf "%-40s %6.1f ms of CPU a second = %5.2f%% of one core", l, t / hz / s * 1000, t / hz / s * 100
        if (scrape) printf " (%d scrapes)", n
        printf "\n" }'
}

echo "tree: $vms VMs x $vcpus vCPUs; whole process, ${seconds} s after a 5 s start each"
for binary in "$hvtax" ${HVTAX_BIN_B:+"$HVTAX_BIN_B"}; do
    name=$(basename "$binary")
    [ -z "${HVTAX_BIN_B:-}" ] && name=hvtax
    measure "$name top (lines)" 0 "$binary" top --root "$dir" --interval 1s
    measure "$name snapshot --format json" 0 "$binary" snapshot --root "$dir" --interval 1s --count $((seconds + 10)) --format json
    measure "$name serve 1s" 1 "$binary" serve --root "$dir" --interval 1s --listen 127.0.0.1:0 --history "$work/history.sqlite"
    measure "$name serve 5s" 1 "$binary" serve --root "$dir" --interval 5s --listen 127.0.0.1:0 --history "$work/history.sqlite"
done
rm -rf "$work"
