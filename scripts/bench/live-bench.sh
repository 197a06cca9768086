# Sourced by the benchmarks that run hvtax on the generated host tree (live-sampler.sh,
# whole-process.sh): moves to the repository root, sets `$hvtax` (hvtax-binary.sh) and defines
# `bench_tree`.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=hvtax-binary.sh
source scripts/bench/hvtax-binary.sh
# shellcheck source=host-tree.sh
source scripts/bench/host-tree.sh

# `bench_tree VMS VCPUS`: sets `dir` to the live benchmarks' tree of VMS VMs x VCPUS vCPUs (under
# BENCH_DIR, default /tmp/hvtax-live-bench), written if missing or old, and held in memory.
bench_tree() {
    dir=${BENCH_DIR:-/tmp/hvtax-live-bench}/tree-$1-$2
    host_tree "$dir" "$1" "$2"
    hold_tree "$dir"
}
