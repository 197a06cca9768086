import HVTaxModel

/// One vCPU's interval split into the states of `hvtax_vcpu_seconds_total`, from the live view's
/// figures. schedstat gives the precise on-CPU and run-delay times; /proc stat's utime, stime and
/// guest_time say how the on-CPU time divides. The kernel scales utime+stime to the precise
/// runtime, and utime includes guest_time, so on-CPU is shared out as guest = guest_time,
/// vmm = utime - guest_time (the VMM's userspace on the vCPU thread, e.g. QEMU emulating MMIO),
/// hypervisor = stime (KVM and the rest of the host kernel). An interval too short for any tick to
/// land on the thread gives no split; its on-CPU time then counts as hypervisor (on an idle VM that
/// is wake-ups and halt polling inside KVM).
public struct VCPUStateSplit: Sendable, Equatable {
    public var guestNs: Double
    public var hypervisorNs: Double
    public var vmmNs: Double
    public var stealNs: Double
    public var idleNs: Double

    public init(guestNs: Double, hypervisorNs: Double, vmmNs: Double, stealNs: Double, idleNs: Double) {
        self.guestNs = guestNs
        self.hypervisorNs = hypervisorNs
        self.vmmNs = vmmNs
        self.stealNs = stealNs
        self.idleNs = idleNs
    }

    public init(_ vcpu: VCPUFigures, intervalNs: UInt64) {
        let onCPU = Double(vcpu.onCPUNs)
        let ticked = Double(vcpu.userNs + vcpu.systemNs)
        if ticked > 0 {
            let guest = Double(min(vcpu.guestNs, vcpu.userNs))
            guestNs = onCPU * guest / ticked
            vmmNs = onCPU * (Double(vcpu.userNs) - guest) / ticked
            hypervisorNs = onCPU * Double(vcpu.systemNs) / ticked
        } else {
            guestNs = 0
            vmmNs = 0
            hypervisorNs = onCPU
        }
        stealNs = Double(vcpu.runDelayNs)
        idleNs = max(0, Double(intervalNs) - onCPU - stealNs)
    }

    /// (state label, ns) in the order of `VCPUStateSplit.states`.
    public var byState: [(String, Double)] {
        [("guest", guestNs), ("hypervisor", hypervisorNs), ("vmm", vmmNs), ("steal", stealNs), ("idle", idleNs)]
    }

    public static let states = ["guest", "hypervisor", "vmm", "steal", "idle"]

    /// Time on a CPU for the VM that was not guest code.
    public var taxNs: Double { hypervisorNs + vmmNs }
    public var onCPUNs: Double { guestNs + hypervisorNs + vmmNs }

    /// A VM's tax over the interval: (its vCPUs' hypervisor and vmm time + its VMM threads' on-CPU)
    /// / (its vCPUs' on-CPU + its VMM threads' on-CPU). nil when nothing of it ran.
    public static func tax(of vm: VMFigures, intervalNs: UInt64) -> (taxNs: Double, onCPUNs: Double, ratio: Double?) {
        var taxNs = Double(vm.emulator.onCPUNs + vm.io.onCPUNs + vm.vhost.onCPUNs)
        var onCPUNs = taxNs
        for vcpu in vm.vcpus {
            let split = VCPUStateSplit(vcpu, intervalNs: intervalNs)
            taxNs += split.taxNs
            onCPUNs += split.onCPUNs
        }
        return (taxNs, onCPUNs, onCPUNs > 0 ? taxNs / onCPUNs : nil)
    }
}
