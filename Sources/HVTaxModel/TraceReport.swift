/// What a trace's timestamps count.
public struct ClockInfo: Codable, Sendable, Equatable {
    public enum Unit: String, Codable, Sendable {
        /// Nanoseconds (ftrace's `local`, `global`, `mono` clocks print seconds with decimals).
        case ns
        /// Raw counter ticks (`x86-tsc`, `counter`) whose frequency was not given: durations are ticks.
        case ticks
    }

    public var unit: Unit
    /// Set when raw counter timestamps were converted to nanoseconds with a known frequency.
    public var convertedFromCounterHz: Double?

    public init(unit: Unit, convertedFromCounterHz: Double? = nil) {
        self.unit = unit
        self.convertedFromCounterHz = convertedFromCounterHz
    }

    /// Ticks per second of the report's unit.
    public var ticksPerSecond: Double { unit == .ns ? 1e9 : (convertedFromCounterHz ?? 1) }
}

/// One trace file that went into a report.
public struct TraceSource: Codable, Sendable, Equatable {
    public var path: String
    /// `ftrace`, `trace-cmd`, `trace-cmd-raw`, `perf-script`, ... as detected.
    public var format: String
    public var compression: String?
    public var lines: UInt64
    public var events: UInt64

    public init(path: String, format: String, compression: String?, lines: UInt64, events: UInt64) {
        self.path = path
        self.format = format
        self.compression = compression
        self.lines = lines
        self.events = events
    }
}

/// One vCPU: a host thread that entered a guest, named by its VM and the vcpu id from kvm_entry.
public struct VCPUReport: Codable, Sendable, Equatable {
    public var vm: String
    public var vmPid: Int32?
    /// The vcpu id KVM printed; nil when no event of this thread carried one.
    public var vcpu: Int32?
    public var tid: Int32
    public var thread: String
    /// First and last event of this vCPU, relative to the trace start.
    public var firstTime: UInt64
    public var lastTime: UInt64
    /// The wall time between first and last event, split into the six states; adds up exactly.
    public var split: TimeSplit
    public var tax: RatedRatio
    public var steal: RatedRatio
    public var exits: ExitSummary

    public init(vm: String, vmPid: Int32?, vcpu: Int32?, tid: Int32, thread: String, firstTime: UInt64,
                lastTime: UInt64, split: TimeSplit, tax: RatedRatio, steal: RatedRatio, exits: ExitSummary) {
        self.vm = vm
        self.vmPid = vmPid
        self.vcpu = vcpu
        self.tid = tid
        self.thread = thread
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.split = split
        self.tax = tax
        self.steal = steal
        self.exits = exits
    }

    public var wallTime: UInt64 { lastTime - firstTime }
}

/// One VM: a VMM process and its vCPUs. Its split is the sum over its vCPUs (vCPU-time).
public struct VMReport: Codable, Sendable, Equatable {
    public var name: String
    public var pid: Int32?
    public var split: TimeSplit
    public var tax: RatedRatio
    public var steal: RatedRatio
    public var exits: ExitSummary
    public var vcpus: [VCPUReport]

    public init(name: String, pid: Int32?, split: TimeSplit, tax: RatedRatio, steal: RatedRatio,
                exits: ExitSummary, vcpus: [VCPUReport]) {
        self.name = name
        self.pid = pid
        self.split = split
        self.tax = tax
        self.steal = steal
        self.exits = exits
        self.vcpus = vcpus
    }
}

/// All VMs of the trace together.
public struct HostSummary: Codable, Sendable, Equatable {
    public var vmCount: Int
    public var vcpuCount: Int
    /// Trace duration: first to last event of any kind.
    public var duration: UInt64
    public var split: TimeSplit
    public var tax: RatedRatio
    public var steal: RatedRatio
    public var exits: ExitSummary

    public init(vmCount: Int, vcpuCount: Int, duration: UInt64, split: TimeSplit, tax: RatedRatio,
                steal: RatedRatio, exits: ExitSummary) {
        self.vmCount = vmCount
        self.vcpuCount = vcpuCount
        self.duration = duration
        self.split = split
        self.tax = tax
        self.steal = steal
        self.exits = exits
    }
}

/// The filters a report was restricted to, echoed so a reader knows what the figures cover.
public struct ReportFilters: Codable, Sendable, Equatable {
    public var vms: [String] = []
    public var pids: [Int32] = []
    public var vcpus: [Int32] = []
    public var reasons: [String] = []
    /// Window relative to the trace start, in the report's unit.
    public var since: UInt64?
    public var until: UInt64?

    public init() {}

    public var isEmpty: Bool {
        vms.isEmpty && pids.isEmpty && vcpus.isEmpty && reasons.isEmpty && since == nil && until == nil
    }
}

/// The result of `hvtax report` on a trace: the versioned JSON schema is docs/report-schema.md.
public struct TraceReport: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.trace-report/1"

    public var schema: String = TraceReport.schemaID
    public var generator: String
    public var sources: [TraceSource]
    public var clock: ClockInfo
    public var thresholds: Thresholds
    public var filters: ReportFilters
    public var host: HostSummary
    public var vms: [VMReport]
    public var quality: TraceQuality
    /// The host's split over time, when the analysis was asked for it (`--html`, `--time-series`).
    public var timeSeries: TimeSeries?
    /// CPU frequency and thermal throttling while the trace was recorded, when that was measured on
    /// this host (a live stdin trace); otherwise state `unknown` with the reason.
    public var throttling: HostThrottling?
    /// Findings ranked by the time they cost, from the advice rules (docs/advice.md).
    public var advice: Advice?
    /// Guest traces merged with the host's (GUEST and TIME_SHIFT options); absent without one.
    public var guests: [GuestReport]?

    public init(generator: String, sources: [TraceSource], clock: ClockInfo, thresholds: Thresholds,
                filters: ReportFilters, host: HostSummary, vms: [VMReport], quality: TraceQuality) {
        self.generator = generator
        self.sources = sources
        self.clock = clock
        self.thresholds = thresholds
        self.filters = filters
        self.host = host
        self.vms = vms
        self.quality = quality
    }
}
