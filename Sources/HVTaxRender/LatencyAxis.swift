import HVTaxModel

/// A logarithmic latency axis over power-of-two buckets (LatencySummary.log2Buckets): bucket `i`
/// covers [2^i, 2^(i+1)), so equal widths per bucket make the axis log2-scaled. Charts drawn on the
/// same axis can be compared by eye.
struct LatencyAxis {
    /// First and one-past-last bucket shown.
    var lower: Int
    var upper: Int
    var unit: ClockInfo.Unit

    /// The smallest range holding every non-empty bucket of `summaries`.
    init?(_ summaries: [LatencySummary], unit: ClockInfo.Unit) {
        var lower = Int.max, upper = Int.min
        for summary in summaries {
            for (index, count) in summary.log2Buckets.enumerated() where count > 0 {
                lower = min(lower, index)
                upper = max(upper, index + 1)
            }
        }
        guard lower < upper else { return nil }
        self.lower = lower
        self.upper = upper
        self.unit = unit
    }

    var bucketCount: Int { upper - lower }

    /// x of the edge 2^edge on a plot from `left` of width `width`.
    func x(edge: Int, left: Double, width: Double) -> Double {
        left + Double(edge - lower) / Double(bucketCount) * width
    }

    /// Edge labels, thinned so that at most about `maximum` are printed.
    func ticks(maximum: Int) -> [(edge: Int, label: String)] {
        let step = max(1, (bucketCount + maximum - 1) / maximum)
        return stride(from: lower, through: upper, by: step).map { edge in
            (edge, Formatting.duration(Self.edgeValue(edge), unit: unit))
        }
    }

    static func edgeValue(_ edge: Int) -> Double { edge <= 0 ? 1 : Double(UInt64(1) << UInt64(min(edge, 63))) }

    func axisSVG(left: Double, width: Double, y: Double, maximumTicks: Int) -> String {
        var out = SVG.line(x1: left, y1: y, x2: left + width, y2: y)
        for tick in ticks(maximum: maximumTicks) {
            let x = self.x(edge: tick.edge, left: left, width: width)
            out += SVG.line(x1: x, y1: y, x2: x, y2: y + 4)
            out += SVG.text(tick.label, x: x, y: y + 15, anchor: .middle, size: 9)
        }
        return out
    }
}
