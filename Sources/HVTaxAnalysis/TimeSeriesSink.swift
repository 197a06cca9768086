import HVTaxModel

/// Accumulates the host's time split per time bucket (for "tax over time"). The bucket width
/// starts at `initialWidth` and doubles, merging neighbours, whenever the series would exceed
/// `maxBuckets`: memory stays bounded whatever the trace's length, and totals stay exact.
public final class TimeSeriesSink: TimelineSink {
    public private(set) var width: UInt64
    public let maxBuckets: Int
    private var origin: UInt64?
    private var buckets: [TimeSplit] = []

    public init(initialWidth: UInt64 = 1_000_000, maxBuckets: Int = 600) {
        width = max(1, initialWidth)
        self.maxBuckets = max(2, maxBuckets)
    }

    public func begin(at start: UInt64) { origin = start }

    public func interval(vcpu: TimelineVCPU, state: VCPUState, start: UInt64, end: UInt64, exitReason: UInt32?) {
        guard end > start else { return }
        let origin = self.origin ?? start
        var from = max(start, origin)
        while from < end {
            var index = Int((from - origin) / width)
            while index >= maxBuckets {
                coarsen()
                index = Int((from - origin) / width)
            }
            if index >= buckets.count { buckets.append(contentsOf: repeatElement(TimeSplit(), count: index + 1 - buckets.count)) }
            let bucketEnd = origin + UInt64(index + 1) * width
            let to = min(end, bucketEnd)
            buckets[index][state] += to - from
            from = to
        }
    }

    private func coarsen() {
        var merged: [TimeSplit] = []
        merged.reserveCapacity((buckets.count + 1) / 2)
        var index = 0
        while index < buckets.count {
            var pair = buckets[index]
            if index + 1 < buckets.count { pair += buckets[index + 1] }
            merged.append(pair)
            index += 2
        }
        buckets = merged
        width *= 2
    }

    /// The series, with times relative to `traceStart`.
    public func series(traceStart: UInt64, thresholds: Thresholds) -> TimeSeries {
        let offset = (origin ?? traceStart) - traceStart
        return TimeSeries(bucketWidth: width, points: buckets.enumerated().map { index, split in
            TimeSeries.Point(start: offset + UInt64(index) * width, split: split,
                             tax: RatedRatio(split.taxRatio, against: thresholds.tax),
                             steal: RatedRatio(split.stealRatio, against: thresholds.steal))
        })
    }
}
