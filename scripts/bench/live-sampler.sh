#!/usr/bin/env bash
# Benchmark: the live sampler's own CPU cost per interval on a generated host tree of VMS QEMU VMs
# with VCPUS vCPUs each (libvirt, cgroup v2; 3 VMM threads per VM, 400 other processes, 64 CPUs).
#
#   scripts/bench/live-sampler.sh [VMS] [VCPUS] [INTERVALS]     default 100 8 10, at a 1 s interval
#
# The figure is what `hvtax snapshot` measures about itself (sampler.cpuNs: CLOCK_THREAD_CPUTIME_ID
# around each sample: /proc listing, discovery of changes, every counter file, parsing), as a share
# of one core at the interval. The whole process's user+sys (start-up, JSON rendering) is printed too.
#
# Then the floor under that cost: the same files pread once a second by a C loop that parses
# nothing (scripts/bench/pread-floor.c), the part no reader of these files can avoid; in the seconds
# between, a C reader that parses the sampler's figures out of them and keeps nothing
# (scripts/bench/floor-parse.h), what the cheapest reader of these figures costs here; and what each
# kind of file costs alone. The tree is held in memory meanwhile (vmtouch, host-tree.sh: this
# guest evicts page cache that looks idle, which turned reads of it into disk reads). The same on
# this machine's real procfs, with stand-in VMs: scripts/bench/live-sampler-real.sh.
#
# Beside it, in the same run, the peer: kvm_stat (the kernel's tools/kvm/kvm_stat, taken from Debian's
# linux-source package, or KVM_STAT=path) in its debugfs mode, logging every 1 s, on a generated KVM
# debugfs of the same VMS x VCPUS (gen-proc-tree.py kvm-debugfs), mounted over /sys/kernel/debug in
# a private mount namespace (unshare -m) with a /proc/cpuinfo that says vmx, so the host's own
# debugfs and cpuinfo are never touched. Its cost is its process's utime+stime over 10 intervals
# after a 2 s start-up. Skipped, saying why, without root, unshare or the kvm_stat source.
set -euo pipefail
vms=${1:-100}
vcpus=${2:-8}
intervals=${3:-10}
# shellcheck source=live-bench.sh
source "$(dirname "$0")/live-bench.sh"
bench_tree "$vms" "$vcpus"
out=$(mktemp)
TIMEFORMAT='%U %S'
{ time "$hvtax" snapshot --root "$dir" --interval 1s --count "$intervals" --format json >"$out"; } 2>"$out.time"
read -r user sys <"$out.time"
jq -s -r --arg what "tree: $vms VMs x $vcpus vCPUs" --arg user "$user" --arg sys "$sys" -f scripts/bench/sampler-summary.jq "$out"
rm -f "$out" "$out.time"

# The floor: the same files pread once a second by a C loop that parses nothing, and the C reader
# that parses them (pread-floor.c, floor-parse.h).
if command -v cc >/dev/null; then
    floor=${BENCH_DIR:-/tmp/hvtax-live-bench}/pread-floor
    cc -O2 -o "$floor" scripts/bench/pread-floor.c
    "$floor" "$dir" "$intervals"
else
    echo "pread floor: skipped (no C compiler)"
fi

# The peer: kvm_stat's debugfs mode over a KVM debugfs of as many VMs and vCPUs.
kvm_stat=${KVM_STAT:-}
if [ -z "$kvm_stat" ]; then
    source_tar=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | head -1 || true)
    if [ -n "$source_tar" ]; then
        kvm_stat=${BENCH_DIR:-/tmp/hvtax-live-bench}/kvm_stat
        if [ ! -f "$kvm_stat" ]; then
            member=$(basename "$source_tar" .tar.xz)/tools/kvm/kvm_stat/kvm_stat
            tar -xOf "$source_tar" "$member" >"$kvm_stat"
        fi
    fi
fi
if [ -z "$kvm_stat" ]; then
    echo "kvm_stat: skipped (no source: apt-get install linux-source-6.1, or set KVM_STAT)"
elif [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
    echo "kvm_stat: skipped (needs root and unshare for a private mount namespace)"
else
    debugfs_tree=${BENCH_DIR:-/tmp/hvtax-live-bench}/kvm-debugfs-$vms-$vcpus
    if [ ! -d "$debugfs_tree/kvm" ]; then
        python3 scripts/gen-proc-tree.py kvm-debugfs "$debugfs_tree" "$vms" "$vcpus"
    fi
    # Everything below happens in a private mount namespace that ends with the command.
    # kvm_stat looks for a mount of type debugfs in /proc/mounts and uses its path: a debugfs is
    # mounted there first when the host has none, then the generated tree over it.
    unshare -m --propagation private sh -c '
        grep -q " debugfs " /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug || exit 1
        mount -t tmpfs hvtax-bench /sys/kernel/debug && cp -a "$1/kvm" /sys/kernel/debug/ \
            && mount --bind "$1/cpuinfo" /proc/cpuinfo || exit 1
        python3 "$2" --debugfs --log --set-delay 1 >/dev/null 2>"$1/kvm_stat.err" &
        peer=$!
        sleep 2
        if ! kill -0 "$peer" 2>/dev/null; then
            echo "kvm_stat: failed to start: $(cat "$1/kvm_stat.err")"
            exit 1
        fi
        ticks() { awk "{ print \$14 + \$15 }" "/proc/$peer/stat"; }
        first=$(ticks); sleep 10; last=$(ticks)
        kill -TERM "$peer"; wait "$peer" 2>/dev/null  # a background job of sh ignores SIGINT
        hz=$(getconf CLK_TCK)
        echo "kvm_stat --debugfs --log --set-delay 1 ($(find /sys/kernel/debug/kvm -type f | wc -l) debugfs files): $(( (last - first) * 1000 / hz / 10 )) ms of CPU per 1 s interval = $(awk -v t=$(( last - first )) -v hz="$hz" "BEGIN { printf \"%.1f\", t / hz / 10 * 100 }")% of one core"
    ' hvtax-bench "$debugfs_tree" "$kvm_stat"
fi
