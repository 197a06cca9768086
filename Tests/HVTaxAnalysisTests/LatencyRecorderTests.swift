import Histogram
import Testing
@testable import HVTaxAnalysis

/// The latency counts use HdrHistogram's layout by hand (for speed); the summary must be what the
/// package's own `Histogram` gives for the same values, and the power-of-two buckets exact.
@Suite("latency recorder")
struct LatencyRecorderTests {
    @Test("slots, percentiles and power-of-two buckets agree with HdrHistogram on values across 30 octaves")
    func agreesWithHistogram() {
        var state: UInt64 = 0x2545_f491_4f6c_dd1d
        func random() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        var values: [UInt64] = [0, 1, 2, 127, 128, 255, 256, 257, 511, 512, 1 << 20, (1 << 20) + 1, 1 << 30]
        for _ in 0..<20_000 {
            // Log-uniform: as many small values as large ones.
            let bits = random() % 31
            values.append(bits == 0 ? 0 : random() >> (64 - bits))
        }
        var recorder = LatencyRecorder()
        var reference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20, numberOfSignificantValueDigits: .two)
        reference.autoResize = true
        var log2 = [UInt64](repeating: 0, count: 64)
        for value in values {
            recorder.record(value)
            reference.record(value)
            log2[value <= 1 ? 0 : 63 - value.leadingZeroBitCount] += 1
            // A slot is exactly HdrHistogram's range of equivalent values.
            #expect(LatencyRecorder.value(ofSlot: LatencyRecorder.slot(value)) == reference.lowestEquivalentForValue(value), "slot of \(value)")
            #expect(LatencyRecorder.slot(reference.highestEquivalentForValue(value)) == LatencyRecorder.slot(value))
        }
        let summary = recorder.summary
        let low = values.min()!, high = values.max()!
        func clamped(_ p: Double) -> UInt64 { min(high, max(low, reference.valueAtPercentile(p))) }
        #expect(summary.count == UInt64(values.count))
        #expect(summary.min == low && summary.max == high)
        #expect([summary.p50, summary.p90, summary.p99, summary.p999] == [clamped(50), clamped(90), clamped(99), clamped(99.9)])
        let last = log2.lastIndex { $0 > 0 }!
        #expect(summary.log2Buckets == Array(log2[...last]))

        // Few values (where rounding the count at a percentile matters most), and the recorder's own
        // histogram, each against a Histogram that recorded the same values.
        for size in [1, 2, 3, 7, 10, 101, 1000] {
            var small = LatencyRecorder()
            var smallReference = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 1 << 20, numberOfSignificantValueDigits: .two)
            smallReference.autoResize = true
            for value in values.prefix(size) {
                small.record(value)
                smallReference.record(value)
            }
            for p in [1.0, 25, 50, 90, 99, 99.9, 99.99] {
                #expect(small.percentile(p) == smallReference.valueAtPercentile(p), "p\(p) of \(size) values")
                #expect(small.histogram.valueAtPercentile(p) == smallReference.valueAtPercentile(p), "p\(p) of \(size) values")
            }
        }

        // Merging two recorders is the same as recording everything in one.
        var first = LatencyRecorder(), second = LatencyRecorder()
        for (index, value) in values.enumerated() {
            if index % 3 == 0 { first.record(value) } else { second.record(value) }
        }
        first.add(second)
        #expect(first.summary == summary)
    }

    @Test("a slot counts past 32 bits, by single records, bulk records and merges")
    func countsPastThirtyTwoBits() {
        // The counts are 32-bit for cache footprint; a slot that passes UInt32.max carries.
        let value: UInt64 = 1000, bucket = 63 - value.leadingZeroBitCount
        var recorder = LatencyRecorder()
        recorder.record(value, count: UInt64(UInt32.max))
        recorder.record(value)  // wraps the 32-bit count to 0
        recorder.record(value)
        #expect(recorder.count == (1 << 32) + 1)
        #expect(recorder.summary.log2Buckets[bucket] == (1 << 32) + 1)
        #expect(recorder.summary.p50 == value)

        // A bulk count above 32 bits, then a merge of two such recorders.
        var big = LatencyRecorder()
        big.record(value, count: 3_000_000_000)
        big.record(2 * value, count: 5_000_000_000)
        var merged = big
        merged.add(big)
        merged.add(recorder)
        let summary = merged.summary
        #expect(summary.count == 16_000_000_000 + (1 << 32) + 1)
        #expect(summary.log2Buckets[bucket] == 6_000_000_000 + (1 << 32) + 1)
        #expect(summary.log2Buckets[bucket + 1] == 10_000_000_000)
        // Half the values are at 2000: the median sits in 1000's slot, p90 in 2000's.
        #expect(LatencyRecorder.slot(summary.p50) == LatencyRecorder.slot(value))
        #expect(LatencyRecorder.slot(summary.p90) == LatencyRecorder.slot(2 * value))
        #expect(merged.histogram.totalCount == summary.count)
    }
}
