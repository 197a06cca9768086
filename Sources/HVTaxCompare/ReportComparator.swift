import HVTaxModel

/// Compares two trace reports: the host's time split, and for all exits and each reason the
/// counts, rates and latency percentiles with their differences and significance.
public struct ReportComparator {
    /// Family-wise significance level, split over all tests made (Bonferroni): comparing 20 reasons
    /// at 5% each would otherwise find one "difference" by chance in most comparisons.
    public var alpha = 0.05
    /// Fewer completed exits than this on either side: no latency test (the normal approximation
    /// and the reader's trust both need some data).
    public var minimumSamples: UInt64 = 10

    public init(alpha: Double = 0.05) { self.alpha = alpha }

    /// One run's figures for a row: its count, rate and latency (zero where the run has none).
    struct Side {
        var count: UInt64
        var rate: Double
        var latency: LatencySummary

        init(_ count: UInt64, _ rate: Double, _ latency: LatencySummary) {
            self.count = count
            self.rate = rate
            self.latency = latency
        }

        static let none = Side(0, 0, .empty)
    }

    /// Rows keyed by what either run has (a reason, an address), the most counted in either first.
    static func paired<T>(_ a: [T], _ b: [T], key: (T) -> String, side: (T) -> Side) -> [(String, Side, Side)] {
        let byKeyA = Dictionary(a.map { (key($0), side($0)) }, uniquingKeysWith: { first, _ in first })
        let byKeyB = Dictionary(b.map { (key($0), side($0)) }, uniquingKeysWith: { first, _ in first })
        func largest(_ k: String) -> UInt64 { max(byKeyA[k]?.count ?? 0, byKeyB[k]?.count ?? 0) }
        return Set(byKeyA.keys).union(byKeyB.keys)
            .sorted { (largest($0), $1) > (largest($1), $0) }
            .map { ($0, byKeyA[$0] ?? .none, byKeyB[$0] ?? .none) }
    }

    public enum ComparisonError: Error, CustomStringConvertible {
        case differentUnits(ClockInfo.Unit, ClockInfo.Unit)
        public var description: String {
            switch self {
            case let .differentUnits(a, b):
                "the runs use different time units (\(a.rawValue) and \(b.rawValue)): give --counter-hz for the raw-counter trace"
            }
        }
    }

    public func compare(_ a: TraceReport, _ b: TraceReport, labels: (String, String) = ("A", "B"),
                        generator: String = "hvtax") throws -> TraceComparison {
        guard a.clock.unit == b.clock.unit else { throw ComparisonError.differentUnits(a.clock.unit, b.clock.unit) }
        let secondsA = Double(a.host.duration) / a.clock.ticksPerSecond
        let secondsB = Double(b.host.duration) / b.clock.ticksPerSecond
        let all = (Side(a.host.exits.count, a.host.exits.ratePerSecond, a.host.exits.latency),
                   Side(b.host.exits.count, b.host.exits.ratePerSecond, b.host.exits.latency))
        var rows: [(String, Side, Side)] = [("all exits", all.0, all.1)]
        rows += Self.paired(a.host.exits.byReason, b.host.exits.byReason, key: \.reason) { Side($0.count, $0.ratePerSecond, $0.latency) }
        let reasonRows = rows.count
        // Port I/O and MMIO addresses join the same family of tests: a comparison of 20 addresses is
        // held to the same family-wise level as one of 20 reasons.
        let hasAccesses = a.host.exits.accesses != nil || b.host.exits.accesses != nil
        rows += Self.paired(a.host.exits.accesses ?? [], b.host.exits.accesses ?? [], key: \.key) { Side($0.count, $0.ratePerSecond, $0.latency) }
        // Count the tests first, so each is held to alpha / tests.
        let timed = a.clock.unit == .ns || a.clock.convertedFromCounterHz != nil
        var tests = 0
        for (_, x, y) in rows {
            if timed && x.count + y.count > 0 { tests += 1 }
            if x.latency.count >= minimumSamples && y.latency.count >= minimumSamples { tests += 1 }
        }
        let level = alpha / Double(max(1, tests))

        let compared: [TraceComparison.ReasonComparison] = rows.map { name, x, y in
            var rateTest: TraceComparison.SignificanceTest?
            if timed, let test = RankTests.poissonRates(countA: x.count, exposureA: secondsA, countB: y.count, exposureB: secondsB) {
                let effect = x.rate > 0 ? y.rate / x.rate : .infinity
                rateTest = .init(method: "poisson-rate-ratio", z: test.z, pValue: test.pValue, effect: effect.isFinite ? effect : 0,
                                 significant: test.pValue < level)
            }
            var latencyTest: TraceComparison.SignificanceTest?
            if x.latency.count >= minimumSamples && y.latency.count >= minimumSamples,
               let test = RankTests.mannWhitney(binsA: x.latency.log2Buckets, binsB: y.latency.log2Buckets) {
                latencyTest = .init(method: "mann-whitney-u-log2-bins", z: test.z, pValue: test.pValue, effect: test.effect,
                                    significant: test.pValue < level)
            }
            return .init(reason: name, countA: x.count, countB: y.count, rateA: x.rate, rateB: y.rate,
                         latencyA: x.latency, latencyB: y.latency, rateTest: rateTest, latencyTest: latencyTest)
        }

        let splitA = a.host.split, splitB = b.host.split
        func share(_ split: TimeSplit, _ state: VCPUState) -> Double? { split.total == 0 ? nil : Double(split[state]) / Double(split.total) }
        let split = TraceComparison.SplitComparison(
            a: splitA, b: splitB,
            states: VCPUState.allCases.map { .init(state: $0, shareA: share(splitA, $0), shareB: share(splitB, $0)) },
            taxA: a.host.tax.ratio, taxB: b.host.tax.ratio, stealA: a.host.steal.ratio, stealB: b.host.steal.ratio)
        func run(_ report: TraceReport, _ label: String) -> TraceComparison.Run {
            .init(label: label, sources: report.sources.map(\.path), events: report.quality.events, duration: report.host.duration,
                  vmCount: report.host.vmCount, vcpuCount: report.host.vcpuCount)
        }
        return TraceComparison(generator: generator, a: run(a, labels.0), b: run(b, labels.1), unit: a.clock.unit, alpha: alpha,
                               tests: tests, split: split, exits: compared[0], reasons: Array(compared[1..<reasonRows]),
                               accesses: hasAccesses ? Array(compared[reasonRows...]) : nil)
    }
}
