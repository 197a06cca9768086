import CHotPath
import HVTaxModel
import Histogram

/// Exit latencies of one scope: counts in HdrHistogram's own layout (unit 1, two significant digits:
/// values within 1%), plus exact count, sum, min and max. The counts become a `Histogram` only for the
/// summary, which reads its percentiles from it: recording through `Histogram.record` on every exit
/// (its generic code, its own min/max/total upkeep) cost a sixth of the whole analysis on the
/// benchmark, an index and an increment here cost almost nothing.
///
/// The layout (HdrHistogram's, for lowestDiscernibleValue 1, 2 digits: 256 sub-buckets, half 128):
/// slots 0...255 count the values 0...255 one by one; after that, bucket b >= 1 holds
/// [2^(b+7), 2^(b+8)) in 128 slots of width 2^b. No slot straddles a power of two, so the summary's
/// power-of-two buckets are exact too. Memory grows with vCPUs x reasons x the latency range (a few
/// KB each), never with the trace length.
struct LatencyRecorder {
    /// 32-bit counts: half the memory of 64-bit ones, and the histograms of a trace's vCPUs and
    /// reasons together outgrow the L2 cache, so each exit's increment was a cache miss more often.
    /// A slot that wraps past UInt32.max carries into `carries` (2^32 each), which no real trace needs.
    private var counts: [UInt32] = []
    /// `counts.count`, kept here beside the other figures: recording then reads nothing from the
    /// array's own header, which is a cache line apart from them and missed as often as the slots.
    private var slotCount = 0
    private var carries: [Int: UInt64] = [:]
    private(set) var count: UInt64 = 0
    private(set) var sum: Double = 0
    private(set) var min: UInt64 = .max
    private(set) var max: UInt64 = 0

    static let subBucketHalfCountMagnitude = 7
    static let subBucketHalfCount = 1 << subBucketHalfCountMagnitude

    /// The slot of `value`, as HdrHistogram computes it (`countsIndexForValue`).
    @inline(__always)
    static func slot(_ value: UInt64) -> Int {
        // The bucket: how far the value's top bit lies above the 256 values of unit resolution.
        let bucket = 56 - (value | 255).leadingZeroBitCount
        let subBucket = Int(truncatingIfNeeded: value >> UInt64(bucket))
        return ((bucket + 1) << subBucketHalfCountMagnitude) + subBucket - subBucketHalfCount
    }

    /// The lowest value of a slot (inverse of `slot`).
    static func value(ofSlot slot: Int) -> UInt64 {
        var bucket = (slot >> subBucketHalfCountMagnitude) - 1
        var subBucket = (slot & (subBucketHalfCount - 1)) + subBucketHalfCount
        if bucket < 0 {
            subBucket -= subBucketHalfCount
            bucket = 0
        }
        return UInt64(subBucket) << UInt64(bucket)
    }

    /// The count of one slot, with what it carried past 32 bits.
    private subscript(slot: Int) -> UInt64 {
        UInt64(counts[slot]) + (carries.isEmpty ? 0 : carries[slot] ?? 0)
    }

    @inline(__always) mutating func record(_ value: UInt64) {
        countSlot(note(value))
    }

    /// Records `value` but for its slot's count, which the caller adds later with `countSlot`, and
    /// prefetches that slot meanwhile (`PendingLatencySlots`): the count, min, max and sum are
    /// exact at once, the slots once the caller has counted them.
    @inline(__always) mutating func recordDeferringSlot(_ value: UInt64) -> Int {
        let index = note(value)
        counts.withUnsafeBufferPointer { slots in
            hvtax_prefetch_for_write(slots.baseAddress! + index)
            // The array's reference count, 24 bytes before its first element, which `countSlot`'s
            // uniqueness check reads.
            hvtax_prefetch_for_write(UnsafeRawPointer(slots.baseAddress!) - 24)
        }
        return index
    }

    /// Everything about `value` but its slot's count; the slot exists when this returns.
    @inline(__always) private mutating func note(_ value: UInt64) -> Int {
        let index = Self.slot(value)
        if index >= slotCount { grow(to: index + 1) }
        count += 1
        sum += Double(value)
        if value < min { min = value }
        if value > max { max = value }
        return index
    }

    /// Counts one value in a slot that `recordDeferringSlot` returned.
    @inline(__always) mutating func countSlot(_ index: Int) {
        let wrapped = counts.withUnsafeMutableBufferPointer { slots in
            slots[index] &+= 1
            return slots[index] == 0
        }
        if wrapped { carries[index, default: 0] += 1 << 32 }
    }

    /// `n` values of `value` at once (HdrHistogram's `record(_:count:)`), any count.
    mutating func record(_ value: UInt64, count n: UInt64) {
        guard n > 0 else { return }
        let index = Self.slot(value)
        if index >= slotCount { grow(to: index + 1) }
        add(n, toSlot: index)
        count += n
        sum += Double(value) * Double(n)
        if value < min { min = value }
        if value > max { max = value }
    }

    private mutating func grow(to slots: Int) {
        counts.append(contentsOf: repeatElement(0, count: slots - counts.count))
        slotCount = counts.count
    }

    /// Adds to one slot's count, carrying what passes 32 bits.
    private mutating func add(_ n: UInt64, toSlot index: Int) {
        let (low, overflow) = counts[index].addingReportingOverflow(UInt32(truncatingIfNeeded: n))
        counts[index] = low
        let carry = ((n >> 32) + (overflow ? 1 : 0)) << 32
        if carry > 0 { carries[index, default: 0] += carry }
    }

    mutating func add(_ other: LatencyRecorder) {
        guard other.count > 0 else { return }
        if other.slotCount > slotCount { grow(to: other.slotCount) }
        for index in other.counts.indices { add(other[index], toSlot: index) }
        count += other.count
        sum += other.sum
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// What `histogram.valueAtPercentile(p)` gives (HdrHistogram's rule: the highest value
    /// equivalent to the slot where the running count reaches ceil(p% of the count), kept within
    /// [min, max]), read from the counts directly: building a `Histogram` per vCPU and reason for the
    /// summary went through its unspecialized generic code and cost 6% of a 5M-event report.
    func percentile(_ p: Double) -> UInt64 {
        guard count > 0 else { return 0 }
        guard p > 0 else { return min }
        guard p < 100 else { return max }
        let requested = Swift.min(Swift.max(p.nextDown, 0), 100)
        let wanted = Swift.max(1, UInt64((requested * Double(count) / 100).rounded(.up)))
        var running: UInt64 = 0
        for slot in counts.indices {
            running += self[slot]
            if running >= wanted { return Swift.max(Swift.min(Self.value(ofSlot: slot + 1) - 1, max), min) }
        }
        return max
    }

    /// The counts as an HdrHistogram: each slot recorded at its lowest value (any value of a slot
    /// counts the same), except that the exact min and max are recorded as themselves, since the
    /// histogram bounds its percentiles by the min and max it saw.
    var histogram: Histogram<UInt64> {
        var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: Swift.max(1 << 20, max),
                                          numberOfSignificantValueDigits: .two)
        histogram.autoResize = true
        guard count > 0 else { return histogram }
        let minSlot = Self.slot(min), maxSlot = Self.slot(max)
        for slot in counts.indices where self[slot] > 0 {
            var left = self[slot]
            if slot == minSlot {
                histogram.record(min)
                left -= 1
            }
            if slot == maxSlot && left > 0 {
                histogram.record(max)
                left -= 1
            }
            if left > 0 { histogram.record(Self.value(ofSlot: slot), count: left) }
        }
        return histogram
    }

    var summary: LatencySummary {
        guard count > 0 else { return .empty }
        var log2Buckets = [UInt64](repeating: 0, count: 64)
        for slot in counts.indices where self[slot] > 0 {
            let n = self[slot]
            let value = Self.value(ofSlot: slot)
            log2Buckets[value <= 1 ? 0 : 63 - value.leadingZeroBitCount] += n
        }
        let lastBucket = log2Buckets.lastIndex { $0 > 0 } ?? 0
        return LatencySummary(count: count, min: min, p50: percentile(50), p90: percentile(90),
                              p99: percentile(99), p999: percentile(99.9), max: max, mean: sum / Double(count),
                              log2Buckets: Array(log2Buckets[...lastBucket]))
    }
}
