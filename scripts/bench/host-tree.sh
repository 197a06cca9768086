# Sourced by the live benchmarks from the repository root: `host_tree DIR VMS VCPUS` makes sure DIR
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
