import HVTaxModel

/// `hvtax compare` of two probe results or two snapshot runs: text and HTML (JSON is the model
/// through `JSONRendering`).
public struct RunComparisonTextRenderer {
    public let style: TerminalStyle

    public init(style: TerminalStyle) { self.style = style }

    public func render(_ comparison: ProbeComparison) -> String {
        var out: [String] = [style.apply(.heading, "hvtax compare (probe results)")]
        for (tag, side) in [("A", comparison.a), ("B", comparison.b)] {
            out.append("  \(tag) \(side.label): \(side.cpuModel), Linux \(side.kernelRelease), \(side.world.rawValue), "
                       + "TSC \(Formatting.fixed(side.tscHz / 1e6, 1)) MHz (\(side.tscSource)), \(side.samplesPerKind) samples per kind")
        }
        for note in comparison.notes { out.append(style.apply(.warning, "  note: \(note)")) }
        for pair in comparison.runs {
            out.append("")
            out.append(style.apply(.title, "Run A \(pair.labelA) vs B \(pair.labelB)")
                       + style.apply(.dim, "  (difference B - A; change = B / A - 1 in ns)"))
            out.append(probeTable(pair).render(style: style))
        }
        out.append(style.apply(.dim, "  test: Mann-Whitney U over log2 \(comparison.testedIn) buckets (tie-corrected), significant at "
                               + "\(Formatting.fixed(comparison.alpha * 100, 0))% over \(comparison.tests) tests (Bonferroni); 'same' = no significant difference; "
                               + "shifts inside one factor-of-two bucket are invisible to it."))
        return out.joined(separator: "\n") + "\n"
    }

    private func probeTable(_ pair: ProbeComparison.RunPair) -> TextTable {
        var table = TextTable([("kind", .left), ("vantage", .left), ("n A", .right), ("n B", .right), ("", .left),
                               ("A cycles", .right), ("B cycles", .right), ("B - A cycles", .right),
                               ("A ns", .right), ("B ns", .right), ("B - A ns", .right), ("change", .right), ("latency", .left)])
        for row in pair.kinds {
            let significant = row.latencyTest?.significant == true
            let head = [TextTable.Cell(row.kind.rawValue), .init(row.vantage.rawValue), .init(String(row.samplesA)), .init(String(row.samplesB))]
            guard !row.figures.isEmpty else {
                table.add(head + [.init("-")] + Array(repeating: TextTable.Cell("-"), count: 7) + [.init(row.unavailable ?? "not measured", .dim)])
                continue
            }
            for (index, figure) in row.figures.enumerated() {
                let lead = index == 0 ? head : Array(repeating: TextTable.Cell(""), count: 4)
                let verdict = index == 0 ? TextTable.Cell(ComparisonFormatting.verdict(latency: row.latencyTest), significant ? .warning : .plain) : .init("")
                table.add(lead + [.init(figure.name), .init(Formatting.grouped(figure.cyclesA)), .init(Formatting.grouped(figure.cyclesB)),
                                  .init(Self.signed(figure.cyclesDifference)), .init(Formatting.grouped(figure.nsA)),
                                  .init(Formatting.grouped(figure.nsB)), .init(Self.signed(figure.nsDifference)),
                                  .init(ComparisonFormatting.change(figure.ratio)), verdict])
            }
        }
        return table
    }

    public func render(_ comparison: SnapshotComparison) -> String {
        var out: [String] = [style.apply(.heading, "hvtax compare (snapshots)")]
        for (tag, side) in [("A", comparison.a), ("B", comparison.b)] {
            out.append("  \(tag) \(side.label): \(Formatting.count(side.intervals, "interval")) over \(Formatting.duration(side.durationNs, unit: .ns)), root \(side.root)")
        }
        for note in comparison.notes { out.append(style.apply(.dim, "  note: \(note)")) }
        out.append("")
        out.append(style.apply(.title, "Host"))
        var host = Self.metricTable(first: "figure")
        for metric in comparison.host { host.add(Self.metricRow(metric.name, metric)) }
        out.append(host.render(style: style))
        out.append("")
        out.append(style.apply(.title, "VMs") + style.apply(.dim, "  (matched by name; mean over intervals, difference B - A, spread over intervals)"))
        var vms = Self.metricTable(first: "vm / figure")
        for vm in comparison.vms {
            vms.add([TextTable.Cell(vm.name + "  (vCPUs A \(vm.vcpusA.map(String.init) ?? "-"), B \(vm.vcpusB.map(String.init) ?? "-"); intervals \(vm.intervalsA)/\(vm.intervalsB))", .title)]
                    + Array(repeating: TextTable.Cell(""), count: 4))
            for metric in vm.metrics { vms.add(Self.metricRow("  " + metric.name, metric)) }
        }
        out.append(comparison.vms.isEmpty ? "  no VMs in either run" : vms.render(style: style))
        return out.joined(separator: "\n") + "\n"
    }

    static func metricTable(first: String) -> TextTable {
        TextTable([(first, .left), ("A", .right), ("B", .right), ("B - A", .right), ("spread A | B (min-max, sd)", .left)])
    }

    static func metricRow(_ label: String, _ metric: SnapshotComparison.Metric) -> [TextTable.Cell] {
        [.init(label), .init(value(metric.a?.mean, metric.unit)), .init(value(metric.b?.mean, metric.unit)),
         .init(difference(metric.difference, metric.unit)), .init(spread(metric.a, metric.unit) + " | " + spread(metric.b, metric.unit))]
    }

    static func value(_ value: Double?, _ unit: String) -> String {
        guard let value else { return "n/a" }
        switch unit {
        case "ratio": return Formatting.percent(value)
        case "per-second": return Formatting.compact(value) + "/s"
        default: return Formatting.fixed(value, 2)
        }
    }

    static func difference(_ value: Double?, _ unit: String) -> String {
        guard let value else { return "-" }
        if unit == "ratio" { return ComparisonFormatting.points(value) }
        return (value >= 0 ? "+" : "") + Self.value(value, unit)
    }

    static func spread(_ summary: SnapshotComparison.Summary?, _ unit: String) -> String {
        guard let summary else { return "-" }
        return "\(value(summary.min, unit))-\(value(summary.max, unit)), sd \(value(summary.standardDeviation, unit))"
    }

    static func signed(_ value: Int64) -> String {
        (value > 0 ? "+" : value < 0 ? "-" : "") + Formatting.grouped(value.magnitude)
    }
}

public struct RunComparisonHTMLRenderer {
    public init() {}

    public func render(_ comparison: ProbeComparison) -> String {
        var page = HTMLPage(title: "hvtax compare: \(comparison.a.label) vs \(comparison.b.label)")
        page.raw("<h1>hvtax compare (probe results)</h1>")
        for (tag, side) in [("A", comparison.a), ("B", comparison.b)] {
            page.paragraph("\(tag) = \(side.label): \(side.cpuModel), Linux \(side.kernelRelease), \(side.world.rawValue), TSC "
                           + "\(Formatting.fixed(side.tscHz / 1e6, 1)) MHz (\(side.tscSource)), \(side.samplesPerKind) samples per kind", className: "sub")
        }
        for note in comparison.notes { page.paragraph("Note: " + note, className: "note") }
        for (index, pair) in comparison.runs.enumerated() {
            page.heading("Run A \(pair.labelA) vs B \(pair.labelB)", id: "run-\(index)")
            var rows: [[String]] = []
            for row in pair.kinds {
                if row.figures.isEmpty {
                    rows.append([row.kind.rawValue, row.vantage.rawValue, "-", "-", "-", "-", "-", "-", "-", "-", row.unavailable ?? "not measured"])
                }
                for (n, figure) in row.figures.enumerated() {
                    rows.append([n == 0 ? row.kind.rawValue : "", n == 0 ? row.vantage.rawValue : "", figure.name,
                                 Formatting.grouped(figure.cyclesA), Formatting.grouped(figure.cyclesB), RunComparisonTextRenderer.signed(figure.cyclesDifference),
                                 Formatting.grouped(figure.nsA), Formatting.grouped(figure.nsB), RunComparisonTextRenderer.signed(figure.nsDifference),
                                 ComparisonFormatting.change(figure.ratio), n == 0 ? ComparisonFormatting.verdict(latency: row.latencyTest) : ""])
                }
            }
            page.table(["kind", "vantage", "", "A cycles", "B cycles", "B - A", "A ns", "B ns", "B - A", "change", "latency test"], rows,
                       numeric: [3, 4, 5, 6, 7, 8, 9])
        }
        page.paragraph("Latency test: Mann-Whitney U over log2 \(comparison.testedIn) buckets, tie-corrected, at "
                       + "\(Formatting.fixed(comparison.alpha * 100, 0))% family-wise over \(comparison.tests) tests (Bonferroni).", className: "note")
        return page.render()
    }

    public func render(_ comparison: SnapshotComparison) -> String {
        var page = HTMLPage(title: "hvtax compare: \(comparison.a.label) vs \(comparison.b.label)")
        page.raw("<h1>hvtax compare (snapshots)</h1>")
        for (tag, side) in [("A", comparison.a), ("B", comparison.b)] {
            page.paragraph("\(tag) = \(side.label): \(Formatting.count(side.intervals, "interval")) over \(Formatting.duration(side.durationNs, unit: .ns))", className: "sub")
        }
        for note in comparison.notes { page.paragraph("Note: " + note, className: "note") }
        func rows(_ metrics: [SnapshotComparison.Metric]) -> [[String]] {
            metrics.map { RunComparisonTextRenderer.metricRow($0.name, $0).map(\.text) }
        }
        page.heading("Host", id: "host")
        page.table(["figure", "A", "B", "B - A", "spread A | B"], rows(comparison.host), numeric: [1, 2, 3])
        for vm in comparison.vms {
            page.heading("VM \(vm.name)", id: "vm-\(vm.name)")
            page.table(["figure", "A", "B", "B - A", "spread A | B"], rows(vm.metrics), numeric: [1, 2, 3],
                       note: "vCPUs A \(vm.vcpusA.map(String.init) ?? "-"), B \(vm.vcpusB.map(String.init) ?? "-"); intervals \(vm.intervalsA) / \(vm.intervalsB)")
        }
        return page.render()
    }
}
