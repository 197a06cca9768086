/// One processor of a capture: a VM's vCPU (esxtop Vcpu world, Hyper-V VP), a logical processor,
/// or a root VP. Its figures are means over the samples that had a value.
public struct CaptureCPU: Codable, Sendable, Equatable {
    /// The counter instance as written in the capture (`Ted_DEV_ORA:Hv VP 0`, `Hv LP 3`, ...).
    public var instance: String
    /// The processor's number within its VM or host (VP 0, vmx-vcpu-0, LP 3), when the name has one.
    public var index: Int?
    public var values: [CaptureFigure: SampledValue]
    public var tax: RatedRatio
    public var steal: RatedRatio
    /// The hypervisor-specific rules this processor was rated by, with the level reached.
    public var levels: [CaptureFigure: Level]

    public init(instance: String, index: Int?, values: [CaptureFigure: SampledValue], tax: RatedRatio,
                steal: RatedRatio, levels: [CaptureFigure: Level]) {
        self.instance = instance
        self.index = index
        self.values = values
        self.tax = tax
        self.steal = steal
        self.levels = levels
    }

    /// The worst level of anything rated here.
    public var worst: Level { ([tax.level, steal.level] + Array(levels.values)).max() ?? .unavailable }
}

/// A set of processors read together: a VM's vCPUs, the host's logical processors, the root
/// partition's VPs. Its figures are per processor (esxtop group sums are divided by the vCPU count),
/// so a 4-vCPU VM with %RDY 40 shows 0.10.
public struct CaptureCPUGroup: Codable, Sendable, Equatable {
    public var name: String
    /// esxtop's group id (`28868` of `Group Cpu(28868:Ted_DEV_ORA)`); nil for Hyper-V.
    public var groupID: String?
    /// vCPUs, VPs or LPs; nil when the capture does not say (esxtop group without Vcpu columns).
    public var cpuCount: Int?
    public var values: [CaptureFigure: SampledValue]
    public var tax: RatedRatio
    public var steal: RatedRatio
    public var levels: [CaptureFigure: Level]
    public var cpus: [CaptureCPU]

    public init(name: String, groupID: String?, cpuCount: Int?, values: [CaptureFigure: SampledValue],
                tax: RatedRatio, steal: RatedRatio, levels: [CaptureFigure: Level], cpus: [CaptureCPU]) {
        self.name = name
        self.groupID = groupID
        self.cpuCount = cpuCount
        self.values = values
        self.tax = tax
        self.steal = steal
        self.levels = levels
        self.cpus = cpus
    }

    public var worst: Level {
        ([tax.level, steal.level] + Array(levels.values) + cpus.map(\.worst)).max() ?? .unavailable
    }
}

/// One host (the `\\HOST` of the counter paths) with its VMs.
public struct CaptureHost: Codable, Sendable, Equatable {
    public var name: String
    public var vmCount: Int
    public var vcpuCount: Int
    /// Means per vCPU over all VMs' vCPUs: comparable with each VM's figures.
    public var values: [CaptureFigure: SampledValue]
    public var tax: RatedRatio
    public var steal: RatedRatio
    public var levels: [CaptureFigure: Level]
    public var vms: [CaptureCPUGroup]
    /// Hyper-V logical processors: the hardware's view (guest vs hypervisor run time, idle).
    public var logicalProcessors: CaptureCPUGroup?
    /// Hyper-V root partition VPs: the management OS, which also runs each VM's worker process.
    public var root: CaptureCPUGroup?
    /// The root partition's share of the logical processors' run time (Σ root VP % Total Run Time
    /// over Σ LP % Total Run Time); nil unless both are in the capture per processor.
    public var rootShareOfRunTime: Double?

    public init(name: String, vmCount: Int, vcpuCount: Int, values: [CaptureFigure: SampledValue],
                tax: RatedRatio, steal: RatedRatio, levels: [CaptureFigure: Level], vms: [CaptureCPUGroup],
                logicalProcessors: CaptureCPUGroup?, root: CaptureCPUGroup?, rootShareOfRunTime: Double?) {
        self.name = name
        self.vmCount = vmCount
        self.vcpuCount = vcpuCount
        self.values = values
        self.tax = tax
        self.steal = steal
        self.levels = levels
        self.vms = vms
        self.logicalProcessors = logicalProcessors
        self.root = root
        self.rootShareOfRunTime = rootShareOfRunTime
    }
}

/// The capture file and what its header said.
public struct CaptureSource: Codable, Sendable, Equatable {
    public var path: String
    public var kind: CaptureKind
    /// `PDH-CSV 4.0` as the header's first cell names it.
    public var format: String
    /// The time zone name of the header (`Eastern Daylight Time`, `UTC`).
    public var timeZone: String?
    /// Minutes to add to the sample times to get UTC (Windows' bias: 240 for EDT, -330 for IST).
    public var biasMinutes: Int?
    public var bytes: UInt64
    /// Counter columns in the header (the timestamp column not counted), and how many were used.
    public var columns: Int
    public var columnsUsed: Int
    public var samples: UInt64
    /// First and last sample, in seconds since 1970 UTC (header bias applied); nil without a bias.
    public var firstSampleUTCSeconds: Double?
    public var lastSampleUTCSeconds: Double?
    /// First and last sample as written, local to the capturing host.
    public var firstSampleLocal: String?
    public var lastSampleLocal: String?
    /// The median gap between samples: the capture's interval (`esxtop -d`, `typeperf -si`).
    public var intervalSeconds: Double?

    public init(path: String, kind: CaptureKind, format: String, timeZone: String?, biasMinutes: Int?,
                bytes: UInt64, columns: Int, columnsUsed: Int, samples: UInt64, firstSampleUTCSeconds: Double?,
                lastSampleUTCSeconds: Double?, firstSampleLocal: String?, lastSampleLocal: String?,
                intervalSeconds: Double?) {
        self.path = path
        self.kind = kind
        self.format = format
        self.timeZone = timeZone
        self.biasMinutes = biasMinutes
        self.bytes = bytes
        self.columns = columns
        self.columnsUsed = columnsUsed
        self.samples = samples
        self.firstSampleUTCSeconds = firstSampleUTCSeconds
        self.lastSampleUTCSeconds = lastSampleUTCSeconds
        self.firstSampleLocal = firstSampleLocal
        self.lastSampleLocal = lastSampleLocal
        self.intervalSeconds = intervalSeconds
    }

    /// The capture's span from first to last sample.
    public var durationSeconds: Double? {
        guard let first = firstSampleUTCSeconds, let last = lastSampleUTCSeconds else { return nil }
        return last - first
    }
}

/// What the capture could not tell cleanly: counted and shown, never silently dropped.
public struct CaptureQuality: Codable, Sendable, Equatable {
    /// Cells written `" "` or `""`: the counter had no value in that sample (a rate's first
    /// sample, an instance that did not exist yet).
    public var blankCells: UInt64 = 0
    /// Rows with fewer cells than the header (the missing cells count as blank).
    public var shortRows: UInt64 = 0
    /// Rows that could not be used (more cells than the header, no timestamp, broken quoting).
    public var malformedRows: UInt64 = 0
    /// Cells with text that is not a number: counted, used as blank.
    public var malformedCells: UInt64 = 0
    public var examples: [TraceQuality.LineIssue] = []
    /// Lines that are not rows (typeperf's "Exiting, please wait..." and the like).
    public var otherLines: UInt64 = 0
    /// The file ended in the middle of a row.
    public var truncated = false
    /// Counter objects in the capture that hvtax does not use, with their column counts.
    public var unusedObjects: [String: Int] = [:]
    /// Counters of the objects hvtax reads that it does not know (localized names, new counters).
    public var unknownCounters: [String] = []
    /// Plain-language notes on what the figures can and cannot show.
    public var notes: [String] = []

    public init() {}

    public static let maxExamples = 5

    public mutating func example(file: String, line: UInt64, problem: String) {
        if examples.count < Self.maxExamples { examples.append(.init(file: file, line: line, problem: problem)) }
    }

    public mutating func note(_ text: String) {
        if !notes.contains(text) { notes.append(text) }
    }
}

/// The result of importing a Hyper-V perfmon or esxtop capture: the same states, tax and steal as
/// the trace report where the counters map onto them, the hypervisor's own figures beyond them,
/// and for every figure whether this capture can give it. Schema: docs/capture-report-schema.md.
public struct CaptureReport: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.capture-report/1"

    public var schema: String = CaptureReport.schemaID
    public var generator: String
    public var source: CaptureSource
    public var thresholds: CaptureThresholds
    /// Every figure of `CaptureFigure`, in its order: available or not, and why.
    public var figures: [FigureAvailability]
    public var hosts: [CaptureHost]
    public var quality: CaptureQuality
    /// Findings ranked by the time they cost, from the advice rules (docs/advice.md).
    public var advice: Advice?

    public init(generator: String, source: CaptureSource, thresholds: CaptureThresholds,
                figures: [FigureAvailability], hosts: [CaptureHost], quality: CaptureQuality) {
        self.generator = generator
        self.source = source
        self.thresholds = thresholds
        self.figures = figures
        self.hosts = hosts
        self.quality = quality
    }

    public func availability(of figure: CaptureFigure) -> FigureAvailability? {
        figures.first { $0.figure == figure }
    }

    public func isAvailable(_ figure: CaptureFigure) -> Bool { availability(of: figure)?.available ?? false }
}
