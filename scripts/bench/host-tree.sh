# Sourced by the live benchmarks from the repository root. `host_tree DIR VMS VCPUS` makes sure DIR
# holds gen-proc-tree.py's bench tree of VMS VMs x VCPUS vCPUs as the current generator writes it
# (its TREE-VERSION file), writing it again when it is missing or an older generator wrote it.
host_tree() {
    local tree=$1 vms=$2 vcpus=$3
    local want
    want=$(sed -n 's/^BENCH_TREE_VERSION = //p' scripts/gen-proc-tree.py)
    if [ "$(cat "$tree/TREE-VERSION" 2>/dev/null)" != "$want" ]; then
        rm -rf "$tree"
        python3 scripts/gen-proc-tree.py bench "$tree" "$vms" "$vcpus"
    fi
}

# `hold_tree DIR`: keeps DIR's pages in memory for the rest of the script (vmtouch -l, released on
# exit, error, SIGINT and SIGTERM). The tree stands in for procfs, whose files are never on disk;
# yet this guest reclaims page cache that looks idle (DAMON's pageout scheme, kdamond), and took
# the tree's pages even while they were read once a second: 81-354 block reads in 10 samples, each
# a disk read in the middle of a sample. Without vmtouch the tree is read as it is, and said so.
hold_tree() {
    local tree=$1
    if ! command -v vmtouch >/dev/null; then
        echo "tree not held in memory (no vmtouch: apt-get install vmtouch); samples may include disk reads of evicted pages"
        return
    fi
    held_tree_pid=$(mktemp)
    vmtouch -q -dlw -P "$held_tree_pid" "$tree"
    trap 'release_tree' EXIT
    trap 'release_tree; exit 130' INT
    trap 'release_tree; exit 143' TERM
}

release_tree() {
    if [ -n "${held_tree_pid:-}" ] && [ -s "$held_tree_pid" ]; then
        kill "$(cat "$held_tree_pid")" 2>/dev/null || true
        rm -f "$held_tree_pid"
    fi
    held_tree_pid=
}
