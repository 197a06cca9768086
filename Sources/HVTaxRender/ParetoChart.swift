/// Bars largest first with the cumulative share as a line: which few exit reasons make most of
/// the exits (or of the time).
struct ParetoChart {
    struct Bar {
        var label: String
        var value: Double
        var title: String
    }

    var bars: [Bar]
    var valueLabel: String
    var width = 960.0
    var height = 320.0

    func svg(label: String) -> String {
        let left = 60.0, right = 50.0, top = 20.0, bottom = 110.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let sorted = bars.sorted { $0.value > $1.value }
        let total = sorted.reduce(0) { $0 + $1.value }
        let largest = Self.niceCeiling(sorted.first?.value ?? 0)
        var out = SVG.open(width: width, height: height, label: label)
        out += SVG.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight)
        out += SVG.line(x1: left, y1: top, x2: left, y2: top + plotHeight)
        out += SVG.line(x1: left + plotWidth, y1: top, x2: left + plotWidth, y2: top + plotHeight)
        for tick in 0...4 {
            let fraction = Double(tick) / 4
            let y = top + plotHeight * (1 - fraction)
            out += SVG.text(Formatting.compact(largest * fraction), x: left - 6, y: y + 4, anchor: .end, size: 10)
            out += SVG.text("\(tick * 25)%", x: left + plotWidth + 6, y: y + 4, size: 10)
            if tick > 0 { out += SVG.line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: "#e6e6e6") }
        }
        out += SVG.text(valueLabel, x: 4, y: top - 6, size: 10)
        out += SVG.text("cumulative", x: width - 4, y: top - 6, anchor: .end, size: 10)
        guard total > 0, !sorted.isEmpty else { return out + SVG.text("no exits", x: width / 2, y: height / 2, anchor: .middle) + "</svg>" }
        let slot = plotWidth / Double(sorted.count)
        var cumulative = 0.0
        var points: [(Double, Double)] = []
        for (index, bar) in sorted.enumerated() {
            let x = left + Double(index) * slot
            let h = bar.value / largest * plotHeight
            out += SVG.rect(x: x + slot * 0.15, y: top + plotHeight - h, width: slot * 0.7, height: h,
                            fill: ChartPalette.series(0), title: bar.title)
            cumulative += bar.value
            points.append((x + slot / 2, top + plotHeight * (1 - cumulative / total)))
            let cx = x + slot / 2, cy = top + plotHeight + 10
            out += "<text x=\"\(SVG.n(cx))\" y=\"\(SVG.n(cy))\" font-size=\"10\" fill=\"#333\" text-anchor=\"end\" transform=\"rotate(-45 \(SVG.n(cx)) \(SVG.n(cy)))\">\(SVG.escape(bar.label))</text>"
        }
        out += SVG.polyline(points, stroke: ChartPalette.series(1), width: 2, title: "cumulative share")
        for point in points {
            out += "<circle cx=\"\(SVG.n(point.0))\" cy=\"\(SVG.n(point.1))\" r=\"2.5\" fill=\"\(ChartPalette.series(1))\"/>"
        }
        return out + "</svg>"
    }

    /// The next 1, 2, 4, 5 or 8 times a power of ten, so that quarter ticks are round numbers.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 0 }
        var scale = 1.0
        while scale * 10 <= value { scale *= 10 }
        while scale > value { scale /= 10 }
        for step in [1.0, 2, 4, 5, 8, 10] where step * scale >= value { return step * scale }
        return 10 * scale
    }
}
