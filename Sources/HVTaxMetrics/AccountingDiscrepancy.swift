import HVTaxModel

/// How far each CPU accounting source of a VM is from schedstat's precise on-CPU time over one
/// interval (the comparison ../shared/reference/accounting.md describes). Signed: negative when the
/// source undercounts. Only said once the VM ran at least 20 ticks' worth, the same floor as the
/// live view's accounting findings, so tick sampling error alone cannot make a large figure.
public enum AccountingDiscrepancy {
    /// `stat`: utime+stime of the vCPU threads against their schedstat on-CPU (tick sampled, what
    /// libvirt's vcpu.N.time and virDomainGetInfo report). `guest_time`: guest_time against the
    /// vCPUs' on-CPU (what hvtax_vcpu_seconds_total{state="guest"} starts from; -1 when guest time
    /// never moves, as on a paravirtual KVM). `cgroup`: the VM cgroup's usage against all its
    /// threads' schedstat on-CPU (vCPUs, emulator, I/O, vhost).
    public static func sources(of vm: VMFigures, ticksPerSecond: UInt64) -> [(String, Double)] {
        let nsPerTick = 1_000_000_000 / max(ticksPerSecond, 1)
        let onCPU = vm.vcpus.reduce(0) { $0 + $1.onCPUNs }
        guard onCPU >= 20 * nsPerTick else { return [] }
        let stat = vm.vcpus.reduce(0) { $0 + $1.userNs + $1.systemNs }
        let guest = vm.vcpus.reduce(0) { $0 + $1.guestNs }
        var out = [("stat", relative(stat, onCPU)), ("guest_time", relative(guest, onCPU))]
        if let cgroup = vm.cgroup {
            let threads = onCPU + vm.emulator.onCPUNs + vm.io.onCPUNs + vm.vhost.onCPUNs
            out.append(("cgroup", relative(cgroup.usageNs, threads)))
        }
        return out
    }

    static func relative(_ value: UInt64, _ reference: UInt64) -> Double {
        (Double(value) - Double(reference)) / Double(reference)
    }
}
