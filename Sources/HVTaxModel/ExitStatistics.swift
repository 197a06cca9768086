/// Count and time of the exits that took one `ExitPath`.
public struct PathStats: Codable, Sendable, Equatable {
    public var count: UInt64 = 0
    /// Summed exit windows (exit -> entry) of these exits.
    public var windowTime: UInt64 = 0
    /// The on-CPU hypervisor part of those windows.
    public var hypervisorTime: UInt64 = 0
    /// The userspace VMM part of those windows.
    public var vmmTime: UInt64 = 0

    public init() {}

    public static func += (lhs: inout PathStats, rhs: PathStats) {
        lhs.count += rhs.count
        lhs.windowTime += rhs.windowTime
        lhs.hypervisorTime += rhs.hypervisorTime
        lhs.vmmTime += rhs.vmmTime
    }
}

/// The three exit paths side by side.
public struct PathBreakdown: Codable, Sendable, Equatable {
    public var kernel = PathStats()
    public var vmm = PathStats()
    public var interrupt = PathStats()

    public init() {}

    public subscript(path: ExitPath) -> PathStats {
        get {
            switch path {
            case .kernel: kernel
            case .vmm: vmm
            case .interrupt: interrupt
            }
        }
        set {
            switch path {
            case .kernel: kernel = newValue
            case .vmm: vmm = newValue
            case .interrupt: interrupt = newValue
            }
        }
    }

    public var count: UInt64 { kernel.count + vmm.count + interrupt.count }

    public static func += (lhs: inout PathBreakdown, rhs: PathBreakdown) {
        lhs.kernel += rhs.kernel
        lhs.vmm += rhs.vmm
        lhs.interrupt += rhs.interrupt
    }
}

/// Everything about the exits of one reason within one scope (a vCPU, a VM, the host).
public struct ExitReasonStats: Codable, Sendable, Equatable {
    public var reason: String
    public var isa: ISA
    public var count: UInt64
    public var ratePerSecond: Double
    /// Share of all exits in the scope, 0-1.
    public var shareOfExits: Double
    /// On-CPU hypervisor time spent in this reason's exit windows.
    public var hypervisorTime: UInt64
    /// Share of the scope's hypervisor time, 0-1.
    public var shareOfHypervisorTime: Double
    /// Userspace VMM time in this reason's exit windows.
    public var vmmTime: UInt64
    /// Off-CPU time (preempted or halted) inside this reason's exit windows.
    public var offCPUTime: UInt64
    /// Exit -> entry latency of the windows that completed.
    public var latency: LatencySummary
    public var paths: PathBreakdown

    public init(reason: String, isa: ISA, count: UInt64, ratePerSecond: Double, shareOfExits: Double,
                hypervisorTime: UInt64, shareOfHypervisorTime: Double, vmmTime: UInt64, offCPUTime: UInt64,
                latency: LatencySummary, paths: PathBreakdown) {
        self.reason = reason
        self.isa = isa
        self.count = count
        self.ratePerSecond = ratePerSecond
        self.shareOfExits = shareOfExits
        self.hypervisorTime = hypervisorTime
        self.shareOfHypervisorTime = shareOfHypervisorTime
        self.vmmTime = vmmTime
        self.offCPUTime = offCPUTime
        self.latency = latency
        self.paths = paths
    }
}

/// The exits of one scope: totals first, then per reason (largest hypervisor time first).
public struct ExitSummary: Codable, Sendable, Equatable {
    public var count: UInt64
    public var ratePerSecond: Double
    public var latency: LatencySummary
    public var paths: PathBreakdown
    public var byReason: [ExitReasonStats]
    /// Port I/O and MMIO accesses by address (most time first, then most accesses); nil when the
    /// trace has no kvm_pio/kvm_mmio events, so reports without them keep their shape.
    public var accesses: [DeviceAccessStats]?

    public init(count: UInt64 = 0, ratePerSecond: Double = 0, latency: LatencySummary = .empty,
                paths: PathBreakdown = PathBreakdown(), byReason: [ExitReasonStats] = [],
                accesses: [DeviceAccessStats]? = nil) {
        self.count = count
        self.ratePerSecond = ratePerSecond
        self.latency = latency
        self.paths = paths
        self.byReason = byReason
        self.accesses = accesses
    }
}
