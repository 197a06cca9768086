import HVTaxModel

/// The host over time: tax and steal as lines above, the vCPU-time split of each bucket as stacked
/// areas below. The series is already bounded (TimeSeriesSink coarsens to at most a few hundred
/// buckets), so every point is drawn.
struct TimeSeriesChart {
    var series: TimeSeries
    var unit: ClockInfo.Unit
    var thresholds: Thresholds
    var width = 960.0

    func svg() -> String {
        let left = 50.0, right = 20.0
        let plotWidth = width - left - right
        let ratioTop = 24.0, ratioHeight = 140.0
        let splitTop = ratioTop + ratioHeight + 40, splitHeight = 160.0
        let height = splitTop + splitHeight + 34
        let points = series.points
        var out = SVG.open(width: width, height: height, label: "tax over time")
        guard !points.isEmpty, series.bucketWidth > 0 else { return out + SVG.text("no time series", x: 20, y: 40) + "</svg>" }
        let span = Double(points.last!.start + series.bucketWidth)
        func x(_ time: Double) -> Double { left + time / span * plotWidth }

        // Tax and steal, scaled to the largest value (at least the critical threshold).
        let largest = points.reduce(thresholds.tax.critical) { max($0, $1.tax.ratio ?? 0, $1.steal.ratio ?? 0) }
        // A top that is a multiple of 4% keeps the four tick labels whole percentages.
        let top = min(1, (largest * 25).rounded(.up) / 25)
        out += SVG.legend([("tax", ChartPalette.series(1)), ("steal", ChartPalette.series(4))], x: left, y: 12, spacing: 70)
        out += SVG.text("bucket \(Formatting.duration(series.bucketWidth, unit: unit)), \(Formatting.count(points.count, "bucket"))", x: width - right, y: 12, anchor: .end, size: 10, fill: "#666")
        for tick in 0...4 {
            let value = top * Double(tick) / 4
            let y = ratioTop + ratioHeight * (1 - Double(tick) / 4)
            out += SVG.line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: tick == 0 ? "#999" : "#eee")
            out += SVG.text(Formatting.percent(value, digits: 0), x: left - 6, y: y + 4, anchor: .end, size: 10)
        }
        for (threshold, name) in [(thresholds.tax.warning, "warning"), (thresholds.tax.critical, "critical")] where threshold <= top {
            let y = ratioTop + ratioHeight * (1 - threshold / top)
            out += SVG.line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: name == "warning" ? "#fbc02d" : "#e53935", dash: true)
        }
        for (index, pick) in [(1, { (p: TimeSeries.Point) in p.tax.ratio }), (4, { (p: TimeSeries.Point) in p.steal.ratio })] {
            // A gap in the line where a bucket has no value (no vCPU on CPU).
            var run: [(Double, Double)] = []
            for point in points {
                if let ratio = pick(point) {
                    run.append((x(Double(point.start) + Double(series.bucketWidth) / 2), ratioTop + ratioHeight * (1 - min(ratio, top) / top)))
                } else if !run.isEmpty {
                    out += SVG.polyline(run, stroke: ChartPalette.series(index))
                    run = []
                }
            }
            if !run.isEmpty { out += SVG.polyline(run, stroke: ChartPalette.series(index)) }
        }

        // The split: shares of each bucket's vCPU time, stacked.
        out += SVG.legend(VCPUState.allCases.map { ($0.rawValue, ChartPalette.colour($0)) }, x: left, y: splitTop - 10, spacing: 95)
        var lowerEdge = [Double](repeating: 0, count: points.count)
        for state in VCPUState.allCases {
            var upperEdge = lowerEdge
            var any = false
            for (index, point) in points.enumerated() {
                let total = Double(point.split.total)
                if total > 0 { upperEdge[index] += Double(point.split[state]) / total }
                if point.split[state] > 0 { any = true }
            }
            guard any else { continue }
            var polygon: [(Double, Double)] = []
            for (index, point) in points.enumerated() {
                let y = splitTop + splitHeight * (1 - upperEdge[index])
                polygon.append((x(Double(point.start)), y))
                polygon.append((x(Double(point.start + series.bucketWidth)), y))
            }
            for (index, point) in points.enumerated().reversed() {
                let y = splitTop + splitHeight * (1 - lowerEdge[index])
                polygon.append((x(Double(point.start + series.bucketWidth)), y))
                polygon.append((x(Double(point.start)), y))
            }
            out += SVG.polygon(polygon, fill: ChartPalette.colour(state), title: state.rawValue)
            lowerEdge = upperEdge
        }
        for tick in 0...2 {
            let y = splitTop + splitHeight * (1 - Double(tick) / 2)
            out += SVG.text("\(tick * 50)%", x: left - 6, y: y + 4, anchor: .end, size: 10)
        }
        // Time axis under both panels.
        let axisY = splitTop + splitHeight
        out += SVG.line(x1: left, y1: axisY, x2: left + plotWidth, y2: axisY)
        for tick in 0...6 {
            let time = span * Double(tick) / 6
            out += SVG.text("+" + Formatting.duration(time, unit: unit), x: x(time), y: axisY + 16,
                            anchor: tick == 0 ? .start : tick == 6 ? .end : .middle, size: 10)
        }
        return out + "</svg>"
    }
}
