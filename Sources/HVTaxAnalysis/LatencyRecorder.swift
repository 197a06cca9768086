import HVTaxModel
import Histogram

/// Exit latencies of one scope: an HdrHistogram for the percentiles, plus exact count, sum, min,
/// max and power-of-two buckets (cheap, exact, and enough for charts and comparisons).
///
/// Two significant digits (values within 1%) keep a histogram to a few KB, so memory grows with
/// vCPUs x reasons, never with the trace length.
struct LatencyRecorder {
    private var histogram: Histogram<UInt64>
    private(set) var count: UInt64 = 0
    private(set) var sum: Double = 0
    private(set) var min: UInt64 = .max
    private(set) var max: UInt64 = 0
    private(set) var log2Buckets = [UInt64](repeating: 0, count: 64)

    init() {
        histogram = Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20,
                              numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
    }

    @inline(__always) mutating func record(_ value: UInt64) {
        histogram.record(value)
        count += 1
        sum += Double(value)
        if value < min { min = value }
        if value > max { max = value }
        log2Buckets.withUnsafeMutableBufferPointer { $0[value <= 1 ? 0 : 63 - value.leadingZeroBitCount] += 1 }
    }

    mutating func add(_ other: LatencyRecorder) {
        guard other.count > 0 else { return }
        histogram.add(other.histogram)
        count += other.count
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
        for index in log2Buckets.indices { log2Buckets[index] += other.log2Buckets[index] }
    }

    var summary: LatencySummary {
        guard count > 0 else { return .empty }
        // Percentiles come from the histogram (within 1%); clamp them into the exact [min, max].
        func percentile(_ p: Double) -> UInt64 {
            Swift.min(max, Swift.max(min, histogram.valueAtPercentile(p)))
        }
        let lastBucket = log2Buckets.lastIndex { $0 > 0 } ?? 0
        return LatencySummary(count: count, min: min, p50: percentile(50), p90: percentile(90),
                              p99: percentile(99), p999: percentile(99.9), max: max, mean: sum / Double(count),
                              log2Buckets: Array(log2Buckets[...lastBucket]))
    }
}
