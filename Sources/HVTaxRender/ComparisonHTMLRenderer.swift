import HVTaxModel

/// `hvtax compare --html`: the two runs' split as paired bars, the per-reason table with
/// significance, and each frequent reason's latency CDF of A (solid) against B (dashed).
public struct ComparisonHTMLRenderer {
    public var cdfReasons = 5
    public var maxReasons = 40

    public init() {}

    public func render(_ comparison: TraceComparison) -> String {
        let unit = comparison.unit
        let a = comparison.a, b = comparison.b
        var page = HTMLPage(title: "hvtax compare: \(a.label) vs \(b.label)")
        page.raw("<h1>hvtax compare</h1>")
        for (tag, run) in [("A", a), ("B", b)] {
            page.paragraph("\(tag) = \(run.label): \(run.sources.joined(separator: ", ")) — \(Formatting.grouped(run.events)) events over "
                           + "\(Formatting.duration(run.duration, unit: unit)), \(Formatting.count(run.vmCount, "VM")), \(Formatting.count(run.vcpuCount, "vCPU"))", className: "sub")
        }
        page.heading("Where vCPU time goes", id: "split")
        let s = comparison.split
        let rows = [StackedBarChart.Row(label: "A \(a.label)", parts: HTMLReportRenderer.splitParts(s.a, unit: unit), note: "tax \(Formatting.percent(s.taxA))"),
                    StackedBarChart.Row(label: "B \(b.label)", parts: HTMLReportRenderer.splitParts(s.b, unit: unit), note: "tax \(Formatting.percent(s.taxB))")]
        page.figure(id: "chart-split", caption: "Host vCPU-time split of both runs.",
                    StackedBarChart(rows: rows, legend: HTMLReportRenderer.stateLegend).svg(label: "time split A and B"))
        var splitRows = [["tax", Formatting.percent(s.taxA), Formatting.percent(s.taxB), ComparisonFormatting.points(s.taxA.flatMap { x in s.taxB.map { $0 - x } })],
                         ["steal", Formatting.percent(s.stealA), Formatting.percent(s.stealB), ComparisonFormatting.points(s.stealA.flatMap { x in s.stealB.map { $0 - x } })]]
        splitRows += s.states.map { [$0.state.rawValue, Formatting.percent($0.shareA), Formatting.percent($0.shareB), ComparisonFormatting.points($0.difference)] }
        page.table(["", "A", "B", "B - A"], splitRows, numeric: [1, 2, 3])

        page.heading("Exits", id: "exits")
        page.paragraph("Change = B / A - 1. Significant at \(Formatting.fixed(comparison.alpha * 100, 0))% family-wise over \(comparison.tests) tests (Bonferroni). "
                       + "Latency: Mann-Whitney U over log2 latency buckets, tie-corrected; rate: Poisson rate test.", className: "note")
        page.raw(table([comparison.exits] + comparison.reasons.prefix(maxReasons), firstColumn: "reason", unit: unit))
        if let accesses = comparison.accesses, !accesses.isEmpty {
            page.heading("Port I/O and MMIO", id: "accesses")
            page.paragraph("Each address as perf kvm stat keys it (PIN/POUT: port read/write; R/W: MMIO); latency runs from the access "
                           + "to the vCPU's next entry. The same tests, in the same family.", className: "note")
            page.raw(table(Array(accesses.prefix(maxReasons)), firstColumn: "access", unit: unit))
        }

        let frequent = ([comparison.exits] + comparison.reasons.prefix(cdfReasons)).filter { $0.latencyA.count > 0 || $0.latencyB.count > 0 }
        if let axis = LatencyAxis(frequent.flatMap { [$0.latencyA, $0.latencyB] }, unit: unit) {
            page.heading("Exit latency, A against B", id: "latency")
            var series: [LatencyCDFChart.Series] = []
            for (index, row) in frequent.enumerated() {
                let colour = index == 0 ? "#222" : ChartPalette.series(index - 1)
                series.append(.init(name: "\(row.reason) A", latency: row.latencyA, colour: colour))
                series.append(.init(name: "\(row.reason) B", latency: row.latencyB, colour: colour, dashed: true))
            }
            page.figure(id: "chart-cdf", caption: "Latency CDFs: A solid, B dashed, same colour per reason; log2 latency axis.",
                        LatencyCDFChart(series: series, axis: axis, height: max(300, 30 + Double(series.count) * 15)).svg(label: "latency CDF A and B"))
        }
        return page.render()
    }

    /// Counts, rate change, percentiles and the verdicts of the tests, one row per reason or address.
    private func table(_ rows: [TraceComparison.ReasonComparison], firstColumn: String, unit: ClockInfo.Unit) -> String {
        var body = "<div class=\"scroll\"><table><thead><tr>"
        for (index, title) in [firstColumn, "count A", "count B", "rate", "rate test", "p50 A", "p50 B", "p50", "p99 A", "p99 B", "p99", "latency test"].enumerated() {
            body += "<th\([1, 2, 3, 5, 6, 7, 8, 9, 10].contains(index) ? " class=\"n\"" : "")>\(title)</th>"
        }
        body += "</tr></thead><tbody>"
        for row in rows {
            func cell(_ text: String, numeric: Bool = true, bold: Bool = false) -> String {
                "<td class=\"\(numeric ? "n" : "")\(bold ? " sig" : "")\">\(SVG.escape(text))</td>"
            }
            func duration(_ value: UInt64, _ summary: LatencySummary) -> String { summary.count == 0 ? "-" : Formatting.duration(value, unit: unit) }
            body += "<tr>" + cell(row.reason, numeric: false) + cell(Formatting.grouped(row.countA)) + cell(Formatting.grouped(row.countB))
                + cell(ComparisonFormatting.change(row.rateRatio), bold: row.rateTest?.significant == true)
                + cell(ComparisonFormatting.verdict(rate: row.rateTest), numeric: false, bold: row.rateTest?.significant == true)
                + cell(duration(row.latencyA.p50, row.latencyA)) + cell(duration(row.latencyB.p50, row.latencyB)) + cell(ComparisonFormatting.change(row.p50Ratio))
                + cell(duration(row.latencyA.p99, row.latencyA)) + cell(duration(row.latencyB.p99, row.latencyB)) + cell(ComparisonFormatting.change(row.p99Ratio))
                + cell(ComparisonFormatting.verdict(latency: row.latencyTest), numeric: false, bold: row.latencyTest?.significant == true) + "</tr>"
        }
        return body + "</tbody></table></div>"
    }
}
