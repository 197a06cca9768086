/// What `hvtax probe` found: the cost of each kind of VM exit on this host, measured by hvtax's own
/// tiny guest, with the world it ran in and the published figures it compares with.
public struct ProbeReport: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.probe/1"

    /// Absent from probe results written before the schema was named; read as `hvtax.probe/1`.
    public var schema: String = ProbeReport.schemaID
    public var host: ProbeHost
    public var world: VirtualizationWorld
    public var tsc: TSCFrequency
    public var settings: ProbeSettings
    /// One run per placement: unpinned, and pinned when `--pin` was given.
    public var runs: [ProbeRun]
    /// The measured p50s next to the published anchors (from the first run).
    public var comparisons: [PublishedComparison]
    /// Things the reader must know to read the numbers (e.g. a kind that cannot be measured here).
    public var notes: [String]

    public init(host: ProbeHost, world: VirtualizationWorld, tsc: TSCFrequency, settings: ProbeSettings,
                runs: [ProbeRun], comparisons: [PublishedComparison], notes: [String]) {
        self.host = host
        self.world = world
        self.tsc = tsc
        self.settings = settings
        self.runs = runs
        self.comparisons = comparisons
        self.notes = notes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        schema = try container.decodeIfPresent(String.self, forKey: .schema) ?? ProbeReport.schemaID
        host = try container.decode(ProbeHost.self, forKey: .host)
        world = try container.decode(VirtualizationWorld.self, forKey: .world)
        tsc = try container.decode(TSCFrequency.self, forKey: .tsc)
        settings = try container.decode(ProbeSettings.self, forKey: .settings)
        runs = try container.decode([ProbeRun].self, forKey: .runs)
        comparisons = try container.decode([PublishedComparison].self, forKey: .comparisons)
        notes = try container.decode([String].self, forKey: .notes)
    }
}

public struct ProbeHost: Codable, Sendable, Equatable {
    public var cpuVendor: String
    public var cpuModel: String
    public var kernelRelease: String
    public var logicalCPUs: Int
    /// The CPUID hypervisor bit: this host is itself a guest, so its "native" CPUID exits too.
    public var isItselfAGuest: Bool
    public var hypervisorSignature: String?
    /// KVM modules present under /sys/module (kvm, kvm_intel, kvm_amd, kvm_pvm, ...).
    public var kvmModules: [String]

    public init(cpuVendor: String, cpuModel: String, kernelRelease: String, logicalCPUs: Int, isItselfAGuest: Bool,
                hypervisorSignature: String?, kvmModules: [String]) {
        self.cpuVendor = cpuVendor
        self.cpuModel = cpuModel
        self.kernelRelease = kernelRelease
        self.logicalCPUs = logicalCPUs
        self.isItselfAGuest = isItselfAGuest
        self.hypervisorSignature = hypervisorSignature
        self.kvmModules = kvmModules
    }
}

/// How KVM runs guest code on this host.
public struct VirtualizationWorld: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// Intel VT-x: guest code runs natively, exits are VM exits.
        case hardwareVMX
        /// AMD-V: guest code runs natively, exits are #VMEXITs.
        case hardwareSVM
        /// KVM without VMX/SVM (e.g. kvm_pvm): the host kernel emulates every guest instruction.
        case emulating
        case unknown
    }

    public var kind: Kind
    public var summary: String
    /// The observations the verdict rests on.
    public var evidence: [String]
    /// Host cycles one guest instruction took in the native-baseline loop.
    public var guestCyclesPerInstruction: Double?
    /// insn_emulation counted by KVM / instructions the guest executed in the baseline loop.
    public var emulatedInstructionFraction: Double?

    public init(kind: Kind, summary: String, evidence: [String], guestCyclesPerInstruction: Double?,
                emulatedInstructionFraction: Double?) {
        self.kind = kind
        self.summary = summary
        self.evidence = evidence
        self.guestCyclesPerInstruction = guestCyclesPerInstruction
        self.emulatedInstructionFraction = emulatedInstructionFraction
    }
}

/// The TSC frequency used to turn cycles into nanoseconds, and where it came from.
public struct TSCFrequency: Codable, Sendable, Equatable {
    public var hz: Double
    /// e.g. "KVM_GET_TSC_KHZ", "/sys/devices/system/cpu/cpu0/tsc_freq_khz", "kernel log: tsc: Detected ...".
    public var source: String

    public init(hz: Double, source: String) {
        self.hz = hz
        self.source = source
    }

    public func nanoseconds(ofCycles cycles: Double) -> Double { cycles * 1e9 / hz }
}

public struct ProbeSettings: Codable, Sendable, Equatable {
    /// Individually timed iterations per kind.
    public var samplesPerKind: Int
    /// Slices the samples were taken in, every kind interleaved with the others.
    public var rounds: Int
    /// The kvm-unit-tests loop doubles its iterations until it lasts at least this many TSC cycles.
    public var minimumLoopCycles: UInt64
    public var pinnedCPU: Int?

    public init(samplesPerKind: Int, rounds: Int, minimumLoopCycles: UInt64, pinnedCPU: Int?) {
        self.samplesPerKind = samplesPerKind
        self.rounds = rounds
        self.minimumLoopCycles = minimumLoopCycles
        self.pinnedCPU = pinnedCPU
    }
}

/// One pass over every kind, with the vCPU thread placed one way.
public struct ProbeRun: Codable, Sendable, Equatable {
    /// "unpinned" or "pinned to CPU N".
    public var label: String
    public var pinnedCPU: Int?
    /// The CPUs the vCPU thread was seen on during the run.
    public var cpusSeen: [Int]
    public var durationNs: UInt64
    public var measurements: [ExitCostMeasurement]

    public init(label: String, pinnedCPU: Int?, cpusSeen: [Int], durationNs: UInt64,
                measurements: [ExitCostMeasurement]) {
        self.label = label
        self.pinnedCPU = pinnedCPU
        self.cpusSeen = cpusSeen
        self.durationNs = durationNs
        self.measurements = measurements
    }

    public func measurement(_ kind: ProbeKind, _ vantage: ProbeVantage) -> ExitCostMeasurement? {
        measurements.first { $0.kind == kind && $0.vantage == vantage }
    }
}

/// What is being timed.
public enum ProbeKind: String, Codable, Sendable, CaseIterable {
    /// An empty timed region: the cost of the two RDTSCs themselves, subtracted from the others.
    case timerOverhead
    /// Four `add` instructions: what plain guest code costs (the native baseline).
    case guestInstructions
    /// CPUID leaf 0: handled inside KVM, never reaches userspace.
    case cpuid
    /// VMCALL/VMMCALL with an unknown hypercall number: handled inside KVM.
    case hypercall
    /// OUT to a port no device claims: a round trip to the userspace VMM.
    case portIO
    /// A store to unbacked guest-physical memory: a round trip to the userspace VMM.
    case mmio
    /// HLT without an in-kernel irqchip: a round trip to the userspace VMM.
    case hlt
    /// CPUID executed by the host itself.
    case hostCPUID
    /// getppid(2): the cheapest system call.
    case hostNullSyscall
}

/// Where the clock that timed it sits.
public enum ProbeVantage: String, Codable, Sendable {
    /// RDTSC inside the guest around the instruction (kvm-unit-tests' way).
    case insideGuest
    /// RDTSC in the host thread around each KVM_RUN call.
    case aroundKVMRun
    /// RDTSC on the host around a host operation.
    case host
}

public enum ProbeStatus: String, Codable, Sendable {
    case measured
    /// The kind cannot be measured here; `unavailableReason` says why.
    case unavailable
}

extension LatencySummary {
    /// The spread the probe's text report shows: (p90 - p50) / p50.
    public var upperSpread: Double { p50 > 0 ? Double(p90 - p50) / Double(p50) : 0 }
}

/// One histogram bin of samples, in cycles: finer than `LatencySummary`'s powers of two (four bins
/// per octave), to show a pinned run's tight cluster beside an unpinned run's tail.
public struct LatencyHistogramBin: Codable, Sendable, Equatable {
    public var lowerCycles: Double
    public var upperCycles: Double
    public var count: Int

    public init(lowerCycles: Double, upperCycles: Double, count: Int) {
        self.lowerCycles = lowerCycles
        self.upperCycles = upperCycles
        self.count = count
    }
}

/// kvm-unit-tests' figure: RDTSC around a loop of N iterations, N doubled until the loop is long.
public struct LoopMeanMeasurement: Codable, Sendable, Equatable {
    public var iterations: UInt64
    public var totalCycles: UInt64
    public var cyclesPerIteration: Double
    public var nsPerIteration: Double
    /// How the vCPU's cumulative statistics moved during the final (reported) loop.
    public var kvmStatsDelta: [String: Int64]
    /// Guest instructions the final loop executed, counted from its code.
    public var guestInstructionsExecuted: UInt64?

    public init(iterations: UInt64, totalCycles: UInt64, cyclesPerIteration: Double, nsPerIteration: Double,
                kvmStatsDelta: [String: Int64] = [:], guestInstructionsExecuted: UInt64? = nil) {
        self.iterations = iterations
        self.totalCycles = totalCycles
        self.cyclesPerIteration = cyclesPerIteration
        self.nsPerIteration = nsPerIteration
        self.kvmStatsDelta = kvmStatsDelta
        self.guestInstructionsExecuted = guestInstructionsExecuted
    }
}

public struct ExitCostMeasurement: Codable, Sendable, Equatable {
    public var kind: ProbeKind
    public var vantage: ProbeVantage
    /// The instructions in the timed region, e.g. "xor eax,eax; cpuid".
    public var timedCode: String
    public var status: ProbeStatus
    public var unavailableReason: String?
    /// Individually timed samples, with the timer overhead's minimum subtracted.
    public var samples: Int
    public var timerOverheadSubtractedCycles: Double
    /// Percentiles (and power-of-two buckets) in TSC cycles, and the same in nanoseconds: the
    /// summary trace reports use for exit latencies.
    public var cycles: LatencySummary?
    public var ns: LatencySummary?
    public var histogram: [LatencyHistogramBin]
    /// The kvm-unit-tests loop figure (raw, loop overhead included, as kvm-unit-tests prints it).
    public var loop: LoopMeanMeasurement?
    /// How the vCPU's cumulative statistics moved during this kind's tests (only non-zero ones).
    public var kvmStatsDelta: [String: Int64]
    /// Guest instructions executed during the tests the stats delta covers, when known exactly.
    public var guestInstructionsExecuted: UInt64?

    public init(kind: ProbeKind, vantage: ProbeVantage, timedCode: String, status: ProbeStatus,
                unavailableReason: String? = nil, samples: Int = 0, timerOverheadSubtractedCycles: Double = 0,
                cycles: LatencySummary? = nil, ns: LatencySummary? = nil,
                histogram: [LatencyHistogramBin] = [], loop: LoopMeanMeasurement? = nil,
                kvmStatsDelta: [String: Int64] = [:], guestInstructionsExecuted: UInt64? = nil) {
        self.kind = kind
        self.vantage = vantage
        self.timedCode = timedCode
        self.status = status
        self.unavailableReason = unavailableReason
        self.samples = samples
        self.timerOverheadSubtractedCycles = timerOverheadSubtractedCycles
        self.cycles = cycles
        self.ns = ns
        self.histogram = histogram
        self.loop = loop
        self.kvmStatsDelta = kvmStatsDelta
        self.guestInstructionsExecuted = guestInstructionsExecuted
    }
}

/// A measured p50 next to a published figure for the same operation.
public struct PublishedComparison: Codable, Sendable, Equatable {
    public var kind: ProbeKind
    public var vantage: ProbeVantage
    public var measuredP50Cycles: Double
    public var published: PublishedExitCost
    /// measured / the middle of the published range.
    public var ratio: Double

    public init(kind: ProbeKind, vantage: ProbeVantage, measuredP50Cycles: Double, published: PublishedExitCost,
                ratio: Double) {
        self.kind = kind
        self.vantage = vantage
        self.measuredP50Cycles = measuredP50Cycles
        self.published = published
        self.ratio = ratio
    }
}
