import Foundation
import HVTaxModel

/// One reason's exit latencies as a histogram on log scales: power-of-two buckets along x, counts
/// on a log10 y axis (so a tail of a few slow exits is visible beside thousands of fast ones).
struct LatencyHistogramChart {
    var title: String
    var latency: LatencySummary
    var axis: LatencyAxis
    var colour = ChartPalette.series(0)
    var width = 310.0
    var height = 180.0

    func svg() -> String {
        let left = 40.0, right = 10.0, top = 34.0, bottom = 26.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let largest = latency.log2Buckets.max() ?? 0
        // log10(count + 1), rounded up to a whole decade for the axis.
        let decades = max(1, Int(log10Ceiling(Double(largest) + 1)))
        var out = SVG.open(width: width, height: height, label: "latency histogram \(title)")
        out += SVG.text(title, x: left, y: 13, size: 11, bold: true)
        out += SVG.text("n=\(Formatting.grouped(latency.count))  p50 \(Formatting.duration(latency.p50, unit: axis.unit))  p99 \(Formatting.duration(latency.p99, unit: axis.unit))",
                        x: left, y: 26, size: 9, fill: "#666")
        for decade in 0...decades {
            let y = top + plotHeight * (1 - Double(decade) / Double(decades))
            out += SVG.line(x1: left, y1: y, x2: left + plotWidth, y2: y, stroke: "#eee")
            out += SVG.text(Self.decadeLabel(decade), x: left - 4, y: y + 3, anchor: .end, size: 8)
        }
        for (index, count) in latency.log2Buckets.enumerated() where count > 0 && index >= axis.lower && index < axis.upper {
            let x0 = axis.x(edge: index, left: left, width: plotWidth), x1 = axis.x(edge: index + 1, left: left, width: plotWidth)
            let h = log10Value(Double(count) + 1) / Double(decades) * plotHeight
            let range = "\(Formatting.duration(LatencyAxis.edgeValue(index), unit: axis.unit)) - \(Formatting.duration(LatencyAxis.edgeValue(index + 1), unit: axis.unit))"
            out += SVG.rect(x: x0 + 0.5, y: top + plotHeight - h, width: x1 - x0 - 1, height: h, fill: colour,
                            title: "\(range): \(Formatting.grouped(count)) exits")
        }
        out += axis.axisSVG(left: left, width: plotWidth, y: top + plotHeight, maximumTicks: 5)
        return out + "</svg>"
    }

    /// 10^n as `1`, `10`, `100`, `1k`, ... `100M`, `1G`.
    static func decadeLabel(_ exponent: Int) -> String {
        let suffixes = ["", "k", "M", "G", "T"]
        let group = min(exponent / 3, suffixes.count - 1)
        return "1" + String(repeating: "0", count: max(0, exponent - group * 3)) + suffixes[group]
    }
}

/// log10 of a positive value, 0 otherwise.
func log10Value(_ value: Double) -> Double { value > 0 ? log10(value) : 0 }

func log10Ceiling(_ value: Double) -> Double { log10Value(value).rounded(.up) }
