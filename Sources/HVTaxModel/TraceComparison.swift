/// The result of `hvtax compare A B`: two runs side by side (for example pinned vs unpinned, or
/// before vs after a tuning change), schema `hvtax.trace-comparison/1` (docs/html-perfetto-compare.md).
/// Differences are always B relative to A.
public struct TraceComparison: Codable, Sendable, Equatable {
    public static let schemaID = "hvtax.trace-comparison/1"

    public var schema: String = TraceComparison.schemaID
    public var generator: String
    public var a: Run
    public var b: Run
    /// Both runs' unit (a comparison needs one).
    public var unit: ClockInfo.Unit
    /// The family-wise significance level; each test is held to `alpha / tests` (Bonferroni).
    public var alpha: Double
    public var tests: Int
    public var split: SplitComparison
    /// All exits together, then each reason seen in either run (most exits first).
    public var exits: ReasonComparison
    public var reasons: [ReasonComparison]
    /// Port I/O and MMIO by address, keyed as perf kvm stat keys them (`0x3f8:POUT`), the latency
    /// being access -> entry; nil when neither run has an access table (no kvm_pio/kvm_mmio events).
    public var accesses: [ReasonComparison]?

    public init(generator: String, a: Run, b: Run, unit: ClockInfo.Unit, alpha: Double, tests: Int,
                split: SplitComparison, exits: ReasonComparison, reasons: [ReasonComparison],
                accesses: [ReasonComparison]? = nil) {
        self.generator = generator
        self.a = a
        self.b = b
        self.unit = unit
        self.alpha = alpha
        self.tests = tests
        self.split = split
        self.exits = exits
        self.reasons = reasons
        self.accesses = accesses
    }

    /// One side: what it was made from.
    public struct Run: Codable, Sendable, Equatable {
        public var label: String
        public var sources: [String]
        public var events: UInt64
        public var duration: UInt64
        public var vmCount: Int
        public var vcpuCount: Int

        public init(label: String, sources: [String], events: UInt64, duration: UInt64, vmCount: Int, vcpuCount: Int) {
            self.label = label
            self.sources = sources
            self.events = events
            self.duration = duration
            self.vmCount = vmCount
            self.vcpuCount = vcpuCount
        }
    }

    /// The host's time split of both runs as shares of vCPU time, tax and steal.
    public struct SplitComparison: Codable, Sendable, Equatable {
        public var a: TimeSplit
        public var b: TimeSplit
        public var states: [StateShare]
        public var taxA: Double?
        public var taxB: Double?
        public var stealA: Double?
        public var stealB: Double?

        public init(a: TimeSplit, b: TimeSplit, states: [StateShare], taxA: Double?, taxB: Double?, stealA: Double?, stealB: Double?) {
            self.a = a
            self.b = b
            self.states = states
            self.taxA = taxA
            self.taxB = taxB
            self.stealA = stealA
            self.stealB = stealB
        }
    }

    public struct StateShare: Codable, Sendable, Equatable {
        public var state: VCPUState
        public var shareA: Double?
        public var shareB: Double?
        /// shareB - shareA (a difference of ratios, not a ratio).
        public var difference: Double?

        public init(state: VCPUState, shareA: Double?, shareB: Double?) {
            self.state = state
            self.shareA = shareA
            self.shareB = shareB
            difference = shareA.flatMap { a in shareB.map { $0 - a } }
        }
    }

    /// One exit reason (or all exits) in both runs.
    public struct ReasonComparison: Codable, Sendable, Equatable {
        public var reason: String
        public var countA: UInt64
        public var countB: UInt64
        public var rateA: Double
        public var rateB: Double
        /// rateB / rateA; nil when A has none.
        public var rateRatio: Double?
        public var latencyA: LatencySummary
        public var latencyB: LatencySummary
        /// Percentile ratios B / A; nil when A has no latency.
        public var p50Ratio: Double?
        public var p90Ratio: Double?
        public var p99Ratio: Double?
        /// Are the exit rates different beyond Poisson noise?
        public var rateTest: SignificanceTest?
        /// Do B's latencies tend to be larger or smaller than A's? (Mann-Whitney U on log2 buckets)
        public var latencyTest: SignificanceTest?

        public init(reason: String, countA: UInt64, countB: UInt64, rateA: Double, rateB: Double,
                    latencyA: LatencySummary, latencyB: LatencySummary, rateTest: SignificanceTest?, latencyTest: SignificanceTest?) {
            self.reason = reason
            self.countA = countA
            self.countB = countB
            self.rateA = rateA
            self.rateB = rateB
            rateRatio = rateA > 0 ? rateB / rateA : nil
            self.latencyA = latencyA
            self.latencyB = latencyB
            func ratio(_ a: UInt64, _ b: UInt64) -> Double? { latencyA.count > 0 && latencyB.count > 0 && a > 0 ? Double(b) / Double(a) : nil }
            p50Ratio = ratio(latencyA.p50, latencyB.p50)
            p90Ratio = ratio(latencyA.p90, latencyB.p90)
            p99Ratio = ratio(latencyA.p99, latencyB.p99)
            self.rateTest = rateTest
            self.latencyTest = latencyTest
        }
    }

    /// A two-sided test of A against B.
    public struct SignificanceTest: Codable, Sendable, Equatable {
        /// `mann-whitney-u-log2-bins` or `poisson-rate-ratio`.
        public var method: String
        /// The standard normal statistic (positive: B larger).
        public var z: Double
        public var pValue: Double
        /// For latencies: P(a B exit is slower than an A exit) + half the ties, 0.5 = no shift.
        /// For rates: rateB / rateA.
        public var effect: Double
        /// pValue below alpha / tests.
        public var significant: Bool

        public init(method: String, z: Double, pValue: Double, effect: Double, significant: Bool) {
            self.method = method
            self.z = z
            self.pValue = pValue
            self.effect = effect
            self.significant = significant
        }
    }
}
