#!/usr/bin/env bash
# Benchmark: the live sampler's own CPU cost per interval on a generated host tree of VMS QEMU VMs
# with VCPUS vCPUs each (libvirt, cgroup v2; 3 VMM threads per VM, 400 other processes, 64 CPUs).
#
#   scripts/bench/live-sampler.sh [VMS] [VCPUS] [INTERVALS]     default 100 8 10, at a 1 s interval
#
# The figure is what `hvtax snapshot` measures about itself (sampler.cpuNs: CLOCK_THREAD_CPUTIME_ID
# around each sample: /proc listing, discovery of changes, every counter file, parsing), as a share
# of one core at the interval. The whole process's user+sys (start-up, JSON rendering) is printed too.
set -euo pipefail
vms=${1:-100}
vcpus=${2:-8}
intervals=${3:-10}
dir=${BENCH_DIR:-/tmp/hvtax-live-bench}/tree-$vms-$vcpus
cd "$(dirname "$0")/../.."
export PATH=/opt/swift/usr/bin:$PATH

swift build -c release --product hvtax >/dev/null
hvtax=$(swift build -c release --show-bin-path)/hvtax
if [ ! -d "$dir/proc" ]; then
    python3 scripts/gen-proc-tree.py bench "$dir" "$vms" "$vcpus"
fi
out=$(mktemp)
TIMEFORMAT='%U %S'
{ time "$hvtax" snapshot --root "$dir" --interval 1s --count "$intervals" --format json >"$out"; } 2>"$out.time"
read -r user sys <"$out.time"
jq -s --arg vms "$vms" --arg vcpus "$vcpus" --arg user "$user" --arg sys "$sys" -r '
  (map(.sampler.cpuNs) | sort) as $c
  | (map(.intervalNs) | add / length) as $iv
  | "tree: \($vms) VMs x \($vcpus) vCPUs, \(.[0].sampler.threadsSampled) threads, \(.[0].sampler.filesRead) files per sample",
    "sampler CPU per sample over \(length) intervals of \($iv / 1e9 | . * 1000 | round / 1000) s: median \($c[length / 2 | floor] / 1e6 | . * 100 | round / 100) ms, max \($c[-1] / 1e6 | . * 100 | round / 100) ms",
    "= \($c[length / 2 | floor] / $iv * 100 | . * 1000 | round / 1000)% of one core (median), \($c[-1] / $iv * 100 | . * 1000 | round / 1000)% (max); target <= 0.5%",
    "whole process (start-up, first sample, JSON): user \($user) s + sys \($sys) s for \(length + 1) samples"' "$out"
rm -f "$out" "$out.time"
