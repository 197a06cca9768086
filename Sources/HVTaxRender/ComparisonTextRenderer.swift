import HVTaxModel

/// `hvtax compare` on a terminal: the split side by side, then per reason counts, rates and
/// latency percentiles with B's change against A and whether it is significant.
public struct ComparisonTextRenderer {
    public let style: TerminalStyle

    public init(style: TerminalStyle) { self.style = style }

    public func render(_ comparison: TraceComparison) -> String {
        let unit = comparison.unit
        var out: [String] = []
        out.append(style.apply(.heading, "hvtax compare"))
        for (tag, run) in [("A", comparison.a), ("B", comparison.b)] {
            out.append("  \(tag) \(run.label): \(run.sources.joined(separator: ", "))  \(Formatting.grouped(run.events)) events over "
                       + "\(Formatting.duration(run.duration, unit: unit)), \(Formatting.count(run.vmCount, "VM")), \(Formatting.count(run.vcpuCount, "vCPU"))")
        }
        out.append("")
        out.append(style.apply(.title, "Time split") + style.apply(.dim, "  (shares of vCPU time; difference B - A in percentage points)"))
        var split = TextTable([("", .left), ("A", .right), ("B", .right), ("B - A", .right)])
        let s = comparison.split
        split.add(["tax", Formatting.percent(s.taxA), Formatting.percent(s.taxB), ComparisonFormatting.points(s.taxA.flatMap { a in s.taxB.map { $0 - a } })])
        split.add(["steal", Formatting.percent(s.stealA), Formatting.percent(s.stealB), ComparisonFormatting.points(s.stealA.flatMap { a in s.stealB.map { $0 - a } })])
        for state in s.states {
            split.add([state.state.rawValue, Formatting.percent(state.shareA), Formatting.percent(state.shareB), ComparisonFormatting.points(state.difference)])
        }
        out.append(split.render(style: style))
        out.append("")
        out.append(style.apply(.title, "Exits") + style.apply(.dim, "  (change = B / A - 1; significant at \(Formatting.fixed(comparison.alpha * 100, 0))% over \(comparison.tests) tests, Bonferroni)"))
        out.append(table([comparison.exits] + comparison.reasons, firstColumn: "reason", unit: unit).render(style: style))
        if let accesses = comparison.accesses, !accesses.isEmpty {
            out.append("")
            out.append(style.apply(.title, "Port I/O and MMIO") + style.apply(.dim, "  (latency = access to next entry; the same tests)"))
            out.append(table(accesses, firstColumn: "access", unit: unit).render(style: style))
        }
        out.append(style.apply(.dim, "  latency test: Mann-Whitney U over log2 latency buckets (tie-corrected); rate test: Poisson (rate highlighted when significant); 'same' = no significant difference."))
        return out.joined(separator: "\n") + "\n"
    }

    /// Counts, rates and percentiles of A and B, B's change, and the verdicts of the tests.
    private func table(_ rows: [TraceComparison.ReasonComparison], firstColumn: String, unit: ClockInfo.Unit) -> TextTable {
        var table = TextTable([(firstColumn, .left), ("count A", .right), ("count B", .right), ("rate A", .right), ("rate B", .right),
                               ("rate", .right), ("p50 A", .right), ("p50 B", .right), ("p50", .right), ("p90 A", .right), ("p90 B", .right),
                               ("p99 A", .right), ("p99 B", .right), ("p99", .right), ("latency", .left)])
        for row in rows {
            let significant = row.latencyTest?.significant == true
            let rateCell = TextTable.Cell(ComparisonFormatting.change(row.rateRatio), row.rateTest?.significant == true ? .warning : .plain)
            table.add([
                TextTable.Cell(row.reason), .init(Formatting.grouped(row.countA)), .init(Formatting.grouped(row.countB)),
                .init(Formatting.rate(row.rateA, unit: unit)), .init(Formatting.rate(row.rateB, unit: unit)), rateCell,
                .init(latency(row.latencyA.p50, row.latencyA, unit)), .init(latency(row.latencyB.p50, row.latencyB, unit)),
                .init(ComparisonFormatting.change(row.p50Ratio)),
                .init(latency(row.latencyA.p90, row.latencyA, unit)), .init(latency(row.latencyB.p90, row.latencyB, unit)),
                .init(latency(row.latencyA.p99, row.latencyA, unit)), .init(latency(row.latencyB.p99, row.latencyB, unit)),
                .init(ComparisonFormatting.change(row.p99Ratio)),
                .init(ComparisonFormatting.verdict(latency: row.latencyTest), significant ? .warning : .plain),
            ])
        }
        return table
    }

    private func latency(_ value: UInt64, _ summary: LatencySummary, _ unit: ClockInfo.Unit) -> String {
        summary.count == 0 ? "-" : Formatting.duration(value, unit: unit)
    }
}
