/// Horizontal bars, each split into coloured parts in proportion to their values (100% bars):
/// the time split of every VM and vCPU, the exit paths.
struct StackedBarChart {
    struct Part {
        var value: Double
        var colour: String
        var title: String
    }

    struct Row {
        var label: String
        var parts: [Part]
        /// Printed right of the bar (a total, a tax figure).
        var note: String = ""
    }

    var rows: [Row]
    var legend: [(name: String, colour: String)]
    var width = 960.0
    var labelWidth = 190.0
    var noteWidth = 150.0
    var barHeight = 18.0
    var legendSpacing = 110.0

    func svg(label: String) -> String {
        let top = 24.0
        let height = top + Double(rows.count) * (barHeight + 6) + 6
        let barWidth = width - labelWidth - noteWidth
        var out = SVG.open(width: width, height: height, label: label)
        out += SVG.legend(legend, x: labelWidth, y: 13, spacing: legendSpacing)
        for (index, row) in rows.enumerated() {
            let y = top + Double(index) * (barHeight + 6)
            out += SVG.text(row.label, x: labelWidth - 8, y: y + barHeight - 5, anchor: .end)
            let total = row.parts.reduce(0) { $0 + $1.value }
            var x = labelWidth
            out += SVG.rect(x: labelWidth, y: y, width: barWidth, height: barHeight, fill: "#f4f4f4")
            if total > 0 {
                for part in row.parts where part.value > 0 {
                    let w = part.value / total * barWidth
                    out += SVG.rect(x: x, y: y, width: w, height: barHeight, fill: part.colour, title: part.title)
                    x += w
                }
            }
            out += SVG.text(row.note, x: labelWidth + barWidth + 8, y: y + barHeight - 5)
        }
        return out + "</svg>"
    }
}
