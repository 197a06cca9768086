#!/usr/bin/env bash
# Benchmark: the live sampler's own CPU cost on this machine's real procfs and cgroupfs, for VMS
# stand-in VMs with VCPUS vCPUs each, beside the same reads done by a C loop that parses nothing
# and by a C reader that parses the sampler's figures out of them (pread-floor.c, floor-parse.h).
#
#   scripts/bench/live-sampler-real.sh [VMS] [VCPUS] [INTERVALS]     default 100 8 10, at a 1 s interval
#
# live-sampler.sh measures the sampler on a generated tree: files on disk, which the kernel copies
# out of the page cache. On a host the same files are procfs and cgroupfs files that the kernel
# writes afresh at every read (the schedstat, stat and sched of each thread, a cgroup's cpu.stat
# after flushing its per-CPU statistics), so the figure a user pays differs; this script measures
# that one. The VMs are scripts/bench/fake-vmm.c, built as `qemu-system-x86_64` so the sampler
# discovers each as QEMU (comm `qemu-system-x86`, -name guest=benchN,debug-threads=on), with the
# generated tree's thread shape (main, call_rcu, IO iothread1, and VCPUS threads `CPU N/KVM` that
# wake every WAKE_MS, default 1000, for ~20 us), each in a cgroup v2 of its own under a temporary
# parent. The VMs die with the script (they exit when their parent does) and the cgroups are
# removed on exit, error, SIGINT and SIGTERM.
#
# The sampler runs twice, as a user runs it (--exit-rates auto) and with --exit-rates off, which
# reads the floor's files and nothing else: the difference is what the exit counters cost hvtax.
# Last, what they cost the vCPU threads that carry them, per context switch (counter-switch-cost.c).
#
# Needs root (the cgroups), a cgroup2 mount, a C compiler and jq. No real KVM: the sampler reads
# the same files of a vCPU thread whether or not it runs guest code (and the kvm tracepoint
# counters, where it opens them, on the thread whether or not it ever enters a guest).
set -euo pipefail
vms=${1:-100}
vcpus=${2:-8}
intervals=${3:-10}
wake_ms=${WAKE_MS:-1000}
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
    echo "live-sampler-real.sh: needs root to make a cgroup per VM" >&2
    exit 1
fi
cgroup2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
if [ -z "$cgroup2" ]; then
    echo "live-sampler-real.sh: no cgroup2 mount in /proc/mounts" >&2
    exit 1
fi
# shellcheck source=hvtax-binary.sh
source scripts/bench/hvtax-binary.sh
work=${BENCH_DIR:-/tmp/hvtax-live-bench}/real
mkdir -p "$work"
cc -O2 -o "$work/qemu-system-x86_64" scripts/bench/fake-vmm.c -lpthread
cc -O2 -o "$work/pread-floor" scripts/bench/pread-floor.c

parent=$cgroup2/hvtax-bench-$$
pids=()
snapshot=
cleanup() {
    [ -n "$snapshot" ] && kill -TERM "$snapshot" 2>/dev/null
    [ ${#pids[@]} -gt 0 ] && kill -TERM "${pids[@]}" 2>/dev/null
    wait 2>/dev/null || true
    if [ -d "$parent" ]; then
        # A cgroup can be removed once its last process has gone (reaped above).
        find "$parent" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
        rmdir "$parent" 2>/dev/null || echo "live-sampler-real.sh: could not remove $parent" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir "$parent"
for v in $(seq "$vms"); do
    mkdir "$parent/vm$v"
    "$work/qemu-system-x86_64" -name "guest=bench$v,debug-threads=on" -smp "$vcpus" \
        -cgroup "$parent/vm$v/cgroup.procs" -wake-ms "$wake_ms" &
    pids+=($!)
done
# Every VM has all its threads before the sampler's first look.
want=$((vcpus + 3))
for pid in "${pids[@]}"; do
    for _ in $(seq 100); do
        [ "$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" = "$want" ] && break
        sleep 0.05
    done
done
sleep 1

# Twice: as a user runs it (exit rates from KVM debugfs or, where that is unreadable, kvm tracepoint
# counters: perf events on every vCPU thread, read as a group per thread), and with --exit-rates
# off, which reads the same files as the floor below and nothing else.
out=$(mktemp)
TIMEFORMAT='%U %S'
for exit_rates in auto off; do
    # In the background and waited for, so a signal to this script runs its trap at once.
    { time { "$hvtax" snapshot --interval 1s --count "$intervals" --format json --exit-rates "$exit_rates" >"$out" &
             snapshot=$!; wait "$snapshot"; }; } 2>"$out.time"
    snapshot=
    read -r user sys <"$out.time"
    found=$(jq -s -r '[.[0].vms[] | select(.name | startswith("bench"))] | "\(length) VMs, \(map(.vcpus | length) | add) vCPUs"' "$out")
    source=$(jq -s -r '.[0].exitRates.kind' "$out")
    jq -s -r --arg what "real procfs ($(uname -r)), $found found, --exit-rates $exit_rates (exit rates: $source)" \
        --arg user "$user" --arg sys "$sys" -f scripts/bench/sampler-summary.jq "$out"
done
rm -f "$out" "$out.time"
"$work/pread-floor" --vms qemu-system-x86 "$parent/*/cpu.stat" "$intervals"

# What the tracepoint counters cost the vCPU threads themselves: a context switch of a thread that
# carries them, with and without (counter-switch-cost.c, 18 counters as hvtax opens here).
if [ -d /sys/kernel/tracing/events/kvm ]; then
    cc -O2 -o "$work/counter-switch-cost" scripts/bench/counter-switch-cost.c -lpthread
    "$work/counter-switch-cost" 18 100000 5 | tail -1
else
    echo "counter-switch-cost: skipped (no kvm events under /sys/kernel/tracing)"
fi
