import HVTaxModel

#if canImport(Glibc)
import Glibc
#endif

/// Percentiles and a histogram of timed samples, in cycles and nanoseconds.
struct SampleSummary: Sendable {
    let cycles: LatencySummary
    let ns: LatencySummary
    let histogram: [LatencyHistogramBin]

    /// Bins per power of two: 4 gives bins about 19% wide, fine enough to see a cluster and a tail.
    static let binsPerOctave = 4.0

    /// - Parameter overheadCycles: subtracted from every sample (clamped at 0): the cost of the
    ///   timing itself, measured by an empty timed region.
    init?(samples: [UInt64], overheadCycles: UInt64, tsc: TSCFrequency) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.map { $0 > overheadCycles ? $0 - overheadCycles : 0 }.sorted()
        cycles = SampleSummary.summary(sorted)
        ns = SampleSummary.summary(sorted.map { UInt64(tsc.nanoseconds(ofCycles: Double($0)).rounded()) })
        histogram = SampleSummary.logHistogram(sorted.map { Double($0) })
    }

    /// Nearest-rank percentiles (the smallest sample with at least p of the samples at or below it)
    /// of ascending values, and their power-of-two buckets.
    static func summary(_ sorted: [UInt64]) -> LatencySummary {
        func percentile(_ p: Double) -> UInt64 {
            let rank = Int((p * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank - 1, 0), sorted.count - 1)]
        }
        var buckets: [UInt64] = []
        for value in sorted {
            let bucket = value < 2 ? 0 : UInt64.bitWidth - 1 - value.leadingZeroBitCount
            if buckets.count <= bucket { buckets += Array(repeating: 0, count: bucket + 1 - buckets.count) }
            buckets[bucket] += 1
        }
        return LatencySummary(
            count: UInt64(sorted.count), min: sorted.first ?? 0, p50: percentile(0.5), p90: percentile(0.9),
            p99: percentile(0.99), p999: percentile(0.999), max: sorted.last ?? 0,
            mean: sorted.reduce(0.0) { $0 + Double($1) } / Double(sorted.count), log2Buckets: buckets)
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
