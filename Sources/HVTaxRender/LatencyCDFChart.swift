import Foundation
import HVTaxModel

/// Cumulative distributions of exit latencies, one line per series (reasons of one run, or the same
/// reason in two runs), on a log2 latency axis: the share of exits faster than each power of two.
struct LatencyCDFChart {
    struct Series {
        var name: String
        var latency: LatencySummary
        var colour: String
        var dashed = false
    }

    var series: [Series]
    var axis: LatencyAxis
    var width = 960.0
    var height = 300.0

    func svg(label: String) -> String {
        let left = 50.0, right = 200.0, top = 14.0, bottom = 30.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        var out = SVG.open(width: width, height: height, label: label)
        for tick in 0...4 {
            let y = top + plotHeight * (1 - Double(tick) / 4)
            out += SVG.line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: tick == 0 ? "#999" : "#eee")
            out += SVG.text("\(tick * 25)%", x: left - 6, y: y + 4, anchor: .end, size: 10)
        }
        out += axis.axisSVG(left: left, width: plotWidth, y: top + plotHeight, maximumTicks: 12)
        for (index, series) in self.series.enumerated() where series.latency.count > 0 {
            let total = Double(series.latency.log2Buckets.reduce(0, +))
            guard total > 0 else { continue }
            var cumulative = 0.0
            var points: [(Double, Double)] = [(axis.x(edge: axis.lower, left: left, width: plotWidth), top + plotHeight)]
            for edge in axis.lower..<axis.upper {
                cumulative += Double(edge < series.latency.log2Buckets.count ? series.latency.log2Buckets[edge] : 0)
                points.append((axis.x(edge: edge + 1, left: left, width: plotWidth), top + plotHeight * (1 - cumulative / total)))
            }
            let title = "\(series.name): p50 \(Formatting.duration(series.latency.p50, unit: axis.unit)), p99 \(Formatting.duration(series.latency.p99, unit: axis.unit))"
            var line = SVG.polyline(points, stroke: series.colour, width: 2, title: title)
            if series.dashed { line = line.replacingFirst("<polyline ", with: "<polyline stroke-dasharray=\"6 3\" ") }
            out += line
            let y = top + 10 + Double(index) * 15
            out += SVG.line(x1: width - right + 12, y1: y - 4, x2: width - right + 32, y2: y - 4, stroke: series.colour, dash: series.dashed)
            out += SVG.text(series.name, x: width - right + 36, y: y, size: 10)
        }
        return out + "</svg>"
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
