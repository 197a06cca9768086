/// A vCPU's (or a VM's, or the host's) wall time split into the six `VCPUState`s.
///
/// Values are in the report's time unit (`TraceReport.clock.unit`: nanoseconds, or counter ticks
/// for a raw-counter trace whose frequency is not known). Sums of vCPUs are vCPU-time, not wall time.
public struct TimeSplit: Codable, Sendable, Equatable {
    public var guest: UInt64 = 0
    public var hypervisor: UInt64 = 0
    public var vmm: UInt64 = 0
    public var preempted: UInt64 = 0
    public var halted: UInt64 = 0
    public var unknown: UInt64 = 0

    public init() {}

    public init(guest: UInt64, hypervisor: UInt64, vmm: UInt64, preempted: UInt64, halted: UInt64, unknown: UInt64) {
        self.guest = guest
        self.hypervisor = hypervisor
        self.vmm = vmm
        self.preempted = preempted
        self.halted = halted
        self.unknown = unknown
    }

    public subscript(state: VCPUState) -> UInt64 {
        get {
            switch state {
            case .guest: guest
            case .hypervisor: hypervisor
            case .vmm: vmm
            case .preempted: preempted
            case .halted: halted
            case .unknown: unknown
            }
        }
        set {
            switch state {
            case .guest: guest = newValue
            case .hypervisor: hypervisor = newValue
            case .vmm: vmm = newValue
            case .preempted: preempted = newValue
            case .halted: halted = newValue
            case .unknown: unknown = newValue
            }
        }
    }

    /// The sum of the six parts: the wall time for one vCPU.
    public var total: UInt64 { guest + hypervisor + vmm + preempted + halted + unknown }

    /// Time the vCPU thread was on a physical CPU for the guest: guest, hypervisor and VMM.
    public var onCPUForGuest: UInt64 { guest + hypervisor + vmm }

    /// The hypervisor tax: the share of the vCPU's useful on-CPU time not spent running guest code.
    public var taxRatio: Double? {
        let base = onCPUForGuest
        return base == 0 ? nil : Double(hypervisor + vmm) / Double(base)
    }

    /// Steal: the share of wall time the vCPU was runnable but waiting for a physical CPU.
    public var stealRatio: Double? {
        let wall = total
        return wall == 0 ? nil : Double(preempted) / Double(wall)
    }

    public static func + (lhs: TimeSplit, rhs: TimeSplit) -> TimeSplit {
        var sum = lhs
        sum += rhs
        return sum
    }

    public static func += (lhs: inout TimeSplit, rhs: TimeSplit) {
        lhs.guest += rhs.guest
        lhs.hypervisor += rhs.hypervisor
        lhs.vmm += rhs.vmm
        lhs.preempted += rhs.preempted
        lhs.halted += rhs.halted
        lhs.unknown += rhs.unknown
    }
}
