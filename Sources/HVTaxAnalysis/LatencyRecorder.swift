import HVTaxModel
import Histogram

/// Exit latencies of one scope: an HdrHistogram for the percentiles, plus exact count, sum, min and
/// max. The power-of-two buckets of the summary are read from the histogram, and are exact: with a
/// unit of 1 and two significant digits its bucket 0 counts 0...255 one by one and each bucket b >= 1
/// is exactly [2^(b+7), 2^(b+8)), so no sub-bucket straddles a power of two. (Keeping them in an
/// array of their own cost a cache line per exit.)
///
/// Two significant digits (values within 1%) keep a histogram to a few KB, so memory grows with
/// vCPUs x reasons, never with the trace length.
struct LatencyRecorder {
    private var histogram: Histogram<UInt64>
    private(set) var count: UInt64 = 0
    private(set) var sum: Double = 0
    private(set) var min: UInt64 = .max
    private(set) var max: UInt64 = 0

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
    }

    mutating func add(_ other: LatencyRecorder) {
        guard other.count > 0 else { return }
        histogram.add(other.histogram)
        count += other.count
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    var summary: LatencySummary {
        guard count > 0 else { return .empty }
        // Percentiles come from the histogram (within 1%); clamp them into the exact [min, max].
        func percentile(_ p: Double) -> UInt64 {
            Swift.min(max, Swift.max(min, histogram.valueAtPercentile(p)))
        }
        var log2Buckets = [UInt64](repeating: 0, count: 64)
        for recorded in histogram.recordedValues() {
            let value = recorded.value
            log2Buckets[value <= 1 ? 0 : 63 - value.leadingZeroBitCount] += recorded.count
        }
        let lastBucket = log2Buckets.lastIndex { $0 > 0 } ?? 0
        return LatencySummary(count: count, min: min, p50: percentile(50), p90: percentile(90),
                              p99: percentile(99), p999: percentile(99.9), max: max, mean: sum / Double(count),
                              log2Buckets: Array(log2Buckets[...lastBucket]))
    }
}
