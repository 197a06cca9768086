/// Which hypervisor's counters a capture holds.
public enum CaptureKind: String, Codable, Sendable, CaseIterable {
    /// Hyper-V perfmon counters (typeperf, relog, perfmon data collector sets).
    case hyperV = "hyper-v"
    /// VMware ESXi `esxtop -b` batch output.
    case esxtop
    /// A PDH-CSV file whose first bytes did not yet show which: the importer decides from the full
    /// header (esxtop headers run to megabytes, longer than any sniffing prefix).
    case pdhCSV = "pdh-csv"
}

/// How a figure is measured; the raw value of each `CaptureFigure` repeats it in its name.
public enum CaptureFigureUnit: String, Codable, Sendable {
    /// A share of one processor's wall time, 0-1 (esxtop and perfmon show it as percent).
    case ratio
    case perSecond = "per-second"
    case nanoseconds = "ns"
}

/// Every figure a capture can give per host, VM and processor. The first five are the `VCPUState`s
/// of the KVM trace report where a counter maps onto them; the rest are what the hypervisor counts
/// beyond them. A figure that a hypervisor cannot provide is absent from `values`, never zero.
public enum CaptureFigure: String, Codable, Sendable, CaseIterable, CodingKeyRepresentable {
    // The trace report's states (`VCPUState`), as shares of wall time.
    case guest = "guestRatio"
    case hypervisor = "hypervisorRatio"
    case vmm = "vmmRatio"
    case preempted = "preemptedRatio"
    case halted = "haltedRatio"

    // Run and wait shares beyond those states.
    /// Hyper-V % Total Run Time: guest + hypervisor run time.
    case totalRun = "totalRunRatio"
    /// Hyper-V % Remote Run Time: run time on a NUMA node other than the VP's home node.
    case remoteRun = "remoteRunRatio"
    /// esxtop %USED: CPU charged to the world (%RUN + %SYS - %OVRLP, scaled by frequency).
    case used = "usedRatio"
    /// esxtop %WAIT: blocked or idle (includes %IDLE, %VMWAIT and %SWPWT).
    case wait = "waitRatio"
    /// esxtop %VMWAIT: blocked on the VMkernel (I/O, swap) rather than idle.
    case vmWait = "vmWaitRatio"
    /// esxtop %SWPWT: waiting for the VMkernel to swap memory in.
    case swapWait = "swapWaitRatio"
    /// esxtop %OVRLP: system work done for other worlds while this one was scheduled.
    case overlap = "overlapRatio"
    /// esxtop %CSTP: co-stopped, held back so a multi-vCPU VM's vCPUs stay in step.
    case coStop = "coStopRatio"
    /// esxtop %MLMTD: ready but held back by a CPU limit (part of %RDY).
    case maxLimited = "maxLimitedRatio"
    /// esxtop % CPU Latency: time the world lost to contention (ready, co-stop, HT, frequency).
    case cpuLatency = "cpuLatencyRatio"
    /// esxtop % Demand: the CPU the world wanted.
    case demand = "demandRatio"

    /// Hyper-V CPU Wait Time Per Dispatch: the mean delay before a ready VP ran (its steal).
    case dispatchWait = "dispatchWaitNs"

    // Exit-like rates: what makes a VP or vCPU leave the guest.
    case intercepts = "interceptsPerSec"
    case hypercalls = "hypercallsPerSec"
    case interrupts = "interruptsPerSec"
    case ioInstructions = "ioInstructionsPerSec"
    case msrAccesses = "msrAccessesPerSec"
    case cpuid = "cpuidPerSec"
    /// Hyper-V "... Cost" companions: the mean cost of one such event as Hyper-V reports it.
    case interceptCost = "interceptCostNs"
    case hypercallCost = "hypercallCostNs"
    case ioInstructionCost = "ioInstructionCostNs"
    case msrAccessCost = "msrAccessCostNs"
    case cpuidCost = "cpuidCostNs"
    case hardwareInterrupts = "hardwareInterruptsPerSec"
    case contextSwitches = "contextSwitchesPerSec"
    /// esxtop Switches/sec and Migrates/sec: scheduler activity per world.
    case worldSwitches = "worldSwitchesPerSec"
    case migrations = "migrationsPerSec"

    public var unit: CaptureFigureUnit {
        switch self {
        case .guest, .hypervisor, .vmm, .preempted, .halted, .totalRun, .remoteRun, .used, .wait,
             .vmWait, .swapWait, .overlap, .coStop, .maxLimited, .cpuLatency, .demand:
            .ratio
        case .dispatchWait, .interceptCost, .hypercallCost, .ioInstructionCost, .msrAccessCost, .cpuidCost:
            .nanoseconds
        case .intercepts, .hypercalls, .interrupts, .ioInstructions, .msrAccesses, .cpuid,
             .hardwareInterrupts, .contextSwitches, .worldSwitches, .migrations:
            .perSecond
        }
    }

    /// A short column heading for tables.
    public var label: String {
        switch self {
        case .guest: "guest"
        case .hypervisor: "hyperv"
        case .vmm: "vmm"
        case .preempted: "steal"
        case .halted: "idle"
        case .totalRun: "total run"
        case .remoteRun: "remote"
        case .used: "%USED"
        case .wait: "%WAIT"
        case .vmWait: "%VMWAIT"
        case .swapWait: "%SWPWT"
        case .overlap: "%OVRLP"
        case .coStop: "%CSTP"
        case .maxLimited: "%MLMTD"
        case .cpuLatency: "%LAT_C"
        case .demand: "%DMD"
        case .dispatchWait: "wait/dispatch"
        case .intercepts: "intercepts/s"
        case .hypercalls: "hypercalls/s"
        case .interrupts: "interrupts/s"
        case .ioInstructions: "io/s"
        case .msrAccesses: "msr/s"
        case .cpuid: "cpuid/s"
        case .interceptCost: "intercept cost"
        case .hypercallCost: "hypercall cost"
        case .ioInstructionCost: "io cost"
        case .msrAccessCost: "msr cost"
        case .cpuidCost: "cpuid cost"
        case .hardwareInterrupts: "hw irq/s"
        case .contextSwitches: "ctx sw/s"
        case .worldSwitches: "switches/s"
        case .migrations: "migrates/s"
        }
    }

    /// The figures the issue calls the exit-like rates: shown for every capture, available or not,
    /// so that a reader sees which ones a hypervisor cannot give.
    public static let exitLike: [CaptureFigure] = [
        .intercepts, .hypercalls, .interrupts, .ioInstructions, .msrAccesses, .cpuid,
    ]

    /// The trace report's states, in its order.
    public static let states: [CaptureFigure] = [.guest, .hypervisor, .vmm, .preempted, .halted]
}

/// One figure over the samples of a capture that had a value for it (blank cells are not samples).
public struct SampledValue: Codable, Sendable, Equatable {
    public var mean: Double
    public var min: Double
    public var max: Double
    public var samples: UInt64

    public init(mean: Double, min: Double, max: Double, samples: UInt64) {
        self.mean = mean
        self.min = min
        self.max = max
        self.samples = samples
    }
}

/// Whether this capture gives a figure, from which counter, and if not, why.
public struct FigureAvailability: Codable, Sendable, Equatable {
    public var figure: CaptureFigure
    public var unit: CaptureFigureUnit
    public var available: Bool
    /// The counter (object and counter name, or a formula of them) the figure comes from.
    public var source: String?
    /// Why the figure is missing: the hypervisor does not count it, or the capture lacks the counter.
    public var reason: String?

    public init(figure: CaptureFigure, available: Bool, source: String?, reason: String?) {
        self.figure = figure
        self.unit = figure.unit
        self.available = available
        self.source = source
        self.reason = reason
    }
}
