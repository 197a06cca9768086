/// `hvtax compare A B` of two probe results (`hvtax probe --format json`), schema
/// `hvtax.probe-comparison/1` (docs/html-perfetto-compare.md). Differences are B relative to A.
public struct ProbeComparison: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.probe-comparison/1"

    public var schema: String = ProbeComparison.schemaID
    public var generator: String
    public var a: Side
    public var b: Side
    /// The family-wise significance level; each test is held to `alpha / tests` (Bonferroni).
    public var alpha: Double
    public var tests: Int
    /// `cycles` when both TSCs run at the same rate (within 1%), else `ns`: what the latency test ranks.
    public var testedIn: String
    /// Runs paired by position (unpinned first, then pinned when both probes had `--pin`).
    public var runs: [RunPair]
    /// Differences of world, TSC, host or settings the reader must know to trust the numbers.
    public var notes: [String]

    public init(generator: String, a: Side, b: Side, alpha: Double, tests: Int, testedIn: String, runs: [RunPair], notes: [String]) {
        self.generator = generator
        self.a = a
        self.b = b
        self.alpha = alpha
        self.tests = tests
        self.testedIn = testedIn
        self.runs = runs
        self.notes = notes
    }

    public struct Side: Codable, Sendable, Equatable {
        public var label: String
        public var cpuModel: String
        public var kernelRelease: String
        public var world: VirtualizationWorld.Kind
        public var worldSummary: String
        public var tscHz: Double
        public var tscSource: String
        public var samplesPerKind: Int

        public init(label: String, report: ProbeReport) {
            self.label = label
            cpuModel = report.host.cpuModel.isEmpty ? report.host.cpuVendor : report.host.cpuModel
            kernelRelease = report.host.kernelRelease
            world = report.world.kind
            worldSummary = report.world.summary
            tscHz = report.tsc.hz
            tscSource = report.tsc.source
            samplesPerKind = report.settings.samplesPerKind
        }
    }

    public struct RunPair: Codable, Sendable, Equatable {
        public var labelA: String
        public var labelB: String
        public var kinds: [KindComparison]

        public init(labelA: String, labelB: String, kinds: [KindComparison]) {
            self.labelA = labelA
            self.labelB = labelB
            self.kinds = kinds
        }
    }

    /// One exit kind from one vantage point in both runs.
    public struct KindComparison: Codable, Sendable, Equatable {
        public var kind: ProbeKind
        public var vantage: ProbeVantage
        public var samplesA: Int
        public var samplesB: Int
        public var cyclesA: LatencySummary?
        public var cyclesB: LatencySummary?
        public var nsA: LatencySummary?
        public var nsB: LatencySummary?
        /// min, p50, p90, p99, max side by side; empty unless both sides were measured.
        public var figures: [Figure]
        /// Mann-Whitney U over the log2 buckets (in `testedIn` units); nil when not both measured.
        public var latencyTest: TraceComparison.SignificanceTest?
        /// Why a side has no figures (unavailable on this host, missing from that probe).
        public var unavailable: String?

        public init(kind: ProbeKind, vantage: ProbeVantage, samplesA: Int, samplesB: Int, cyclesA: LatencySummary?,
                    cyclesB: LatencySummary?, nsA: LatencySummary?, nsB: LatencySummary?,
                    latencyTest: TraceComparison.SignificanceTest?, unavailable: String?) {
            self.kind = kind
            self.vantage = vantage
            self.samplesA = samplesA
            self.samplesB = samplesB
            self.cyclesA = cyclesA
            self.cyclesB = cyclesB
            self.nsA = nsA
            self.nsB = nsB
            self.latencyTest = latencyTest
            self.unavailable = unavailable
            var figures: [Figure] = []
            if let cyclesA, let cyclesB, let nsA, let nsB {
                let picks: [(String, KeyPath<LatencySummary, UInt64>)] = [("min", \.min), ("p50", \.p50), ("p90", \.p90), ("p99", \.p99), ("max", \.max)]
                figures = picks.map { name, path in
                    Figure(name: name, cyclesA: cyclesA[keyPath: path], cyclesB: cyclesB[keyPath: path],
                           nsA: nsA[keyPath: path], nsB: nsB[keyPath: path])
                }
            }
            self.figures = figures
        }
    }

    /// One percentile (or min, max) of both runs in cycles and nanoseconds.
    public struct Figure: Codable, Sendable, Equatable {
        public var name: String
        public var cyclesA: UInt64
        public var cyclesB: UInt64
        /// cyclesB - cyclesA.
        public var cyclesDifference: Int64
        public var nsA: UInt64
        public var nsB: UInt64
        public var nsDifference: Int64
        /// nsB / nsA; nil when nsA is 0.
        public var ratio: Double?

        public init(name: String, cyclesA: UInt64, cyclesB: UInt64, nsA: UInt64, nsB: UInt64) {
            self.name = name
            self.cyclesA = cyclesA
            self.cyclesB = cyclesB
            cyclesDifference = Int64(clamping: cyclesB) - Int64(clamping: cyclesA)
            self.nsA = nsA
            self.nsB = nsB
            nsDifference = Int64(clamping: nsB) - Int64(clamping: nsA)
            ratio = nsA > 0 ? Double(nsB) / Double(nsA) : nil
        }
    }
}

/// `hvtax compare A B` of two snapshot runs (`hvtax snapshot --format json`, JSON Lines), schema
/// `hvtax.snapshot-comparison/1`. Each figure is the mean over a run's intervals, weighted by
/// interval length, with its spread (min, max, standard deviation over intervals). No significance
/// test: intervals of one run are few and autocorrelated, so a test treating them as independent
/// samples would overstate its confidence; the spread is shown instead.
public struct SnapshotComparison: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.snapshot-comparison/1"

    public var schema: String = SnapshotComparison.schemaID
    public var generator: String
    public var a: Side
    public var b: Side
    /// The host's aggregate CPU line and interrupt rate.
    public var host: [Metric]
    /// VMs matched by name: those in both runs first (by name), then those in one run only.
    public var vms: [VMComparison]
    public var notes: [String]

    public init(generator: String, a: Side, b: Side, host: [Metric], vms: [VMComparison], notes: [String]) {
        self.generator = generator
        self.a = a
        self.b = b
        self.host = host
        self.vms = vms
        self.notes = notes
    }

    public struct Side: Codable, Sendable, Equatable {
        public var label: String
        public var intervals: Int
        /// Σ interval lengths.
        public var durationNs: UInt64
        public var firstEndUnixNs: UInt64
        public var lastEndUnixNs: UInt64
        public var root: String

        public init(label: String, intervals: Int, durationNs: UInt64, firstEndUnixNs: UInt64, lastEndUnixNs: UInt64, root: String) {
            self.label = label
            self.intervals = intervals
            self.durationNs = durationNs
            self.firstEndUnixNs = firstEndUnixNs
            self.lastEndUnixNs = lastEndUnixNs
            self.root = root
        }
    }

    /// A figure's statistics over one run's intervals.
    public struct Summary: Codable, Sendable, Equatable {
        /// Intervals in which the figure was measurable.
        public var intervals: Int
        /// Interval-length-weighted mean.
        public var mean: Double
        public var min: Double
        public var max: Double
        public var standardDeviation: Double

        public init(intervals: Int, mean: Double, min: Double, max: Double, standardDeviation: Double) {
            self.intervals = intervals
            self.mean = mean
            self.min = min
            self.max = max
            self.standardDeviation = standardDeviation
        }

        /// Nil when no interval measured it.
        public init?(values: [(value: Double, weight: Double)]) {
            guard !values.isEmpty else { return nil }
            // Past 1e150 the squares overflow to inf, which JSON cannot carry (a damaged input's 1e300
            // made compare fail): then the sums are worked in units of the largest magnitude.
            let largest = values.reduce(0) { Swift.max($0, abs($1.value)) }
            let unit = largest > 1e150 && largest.isFinite ? largest : 1
            let total = values.reduce(0) { $0 + $1.weight }
            let mean = total > 0 ? values.reduce(0) { $0 + $1.value / unit * $1.weight } / total
                : values.reduce(0) { $0 + $1.value / unit } / Double(values.count)
            let variance = values.count > 1
                ? values.reduce(0) { $0 + ($1.value / unit - mean) * ($1.value / unit - mean) } / Double(values.count - 1) : 0
            self.init(intervals: values.count, mean: mean * unit, min: values.map(\.value).min()!, max: values.map(\.value).max()!,
                      standardDeviation: variance.squareRoot() * unit)
        }
    }

    public struct Metric: Codable, Sendable, Equatable {
        /// `steal`, `on-cpu`, `vmm-overhead`, ...
        public var name: String
        /// `ratio` (0-1, differences in percentage points), `cpus` (CPUs' worth), `per-second`.
        public var unit: String
        public var a: Summary?
        public var b: Summary?
        /// b.mean - a.mean; nil unless both measured it.
        public var difference: Double?

        public init(name: String, unit: String, a: Summary?, b: Summary?) {
            self.name = name
            self.unit = unit
            self.a = a
            self.b = b
            difference = a.flatMap { a in b.map { $0.mean - a.mean } }
        }
    }

    public struct VMComparison: Codable, Sendable, Equatable {
        public var name: String
        /// Intervals the VM appears in, per run (0: absent from that run).
        public var intervalsA: Int
        public var intervalsB: Int
        public var vcpusA: Int?
        public var vcpusB: Int?
        public var metrics: [Metric]

        public init(name: String, intervalsA: Int, intervalsB: Int, vcpusA: Int?, vcpusB: Int?, metrics: [Metric]) {
            self.name = name
            self.intervalsA = intervalsA
            self.intervalsB = intervalsB
            self.vcpusA = vcpusA
            self.vcpusB = vcpusB
            self.metrics = metrics
        }

        public func metric(_ name: String) -> Metric? { metrics.first { $0.name == name } }
    }
}
