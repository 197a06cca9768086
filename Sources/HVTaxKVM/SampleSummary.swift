import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// Percentiles and a histogram of timed samples, in cycles and nanoseconds.
struct SampleSummary: Sendable {
    let cycles: LatencyPercentiles
    let ns: LatencyPercentiles
    let histogram: [LatencyHistogramBin]

    /// Bins per power of two: 4 gives bins about 19% wide, fine enough to see a cluster and a tail.
    static let binsPerOctave = 4.0

    /// - Parameter overheadCycles: subtracted from every sample (clamped at 0): the cost of the
    ///   timing itself, measured by an empty timed region.
    init?(samples: [UInt64], overheadCycles: Double, tsc: TSCFrequency) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.map { max(0, Double($0) - overheadCycles) }.sorted()
        func percentile(_ p: Double) -> Double {
            // Nearest rank: the smallest sample with at least p of the samples at or below it.
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank - 1, 0), sorted.count - 1)]
        }
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        let cycles = LatencyPercentiles(min: sorted.first!, p50: percentile(0.5), p90: percentile(0.9),
                                        p99: percentile(0.99), max: sorted.last!, mean: mean)
        self.cycles = cycles
        self.ns = LatencyPercentiles(
            min: tsc.nanoseconds(ofCycles: cycles.min), p50: tsc.nanoseconds(ofCycles: cycles.p50),
            p90: tsc.nanoseconds(ofCycles: cycles.p90), p99: tsc.nanoseconds(ofCycles: cycles.p99),
            max: tsc.nanoseconds(ofCycles: cycles.max), mean: tsc.nanoseconds(ofCycles: cycles.mean))
        self.histogram = SampleSummary.logHistogram(sorted)
    }

    /// Log-spaced bins from the smallest to the largest sample (values below 1 cycle share bin 0).
    static func logHistogram(_ sorted: [Double]) -> [LatencyHistogramBin] {
        func bin(_ value: Double) -> Int { value < 1 ? 0 : Int((log2(value) * binsPerOctave).rounded(.down)) + 1 }
        func lower(_ index: Int) -> Double { index == 0 ? 0 : exp2(Double(index - 1) / binsPerOctave) }
        guard let first = sorted.first, let last = sorted.last else { return [] }
        let low = bin(first)
        let high = bin(last)
        var counts = [Int](repeating: 0, count: high - low + 1)
        for value in sorted { counts[bin(value) - low] += 1 }
        return counts.enumerated().map { offset, count in
            LatencyHistogramBin(lowerCycles: lower(low + offset), upperCycles: lower(low + offset + 1), count: count)
        }
    }
}
