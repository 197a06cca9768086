import HVTaxModel

/// `hvtax report --html`: the report as one self-contained page with inline SVG charts — the time
/// split per VM and vCPU, the exit-reason Pareto chart, latency histograms and CDFs per reason, the
/// tax over time, the exit paths and the trace quality.
///
/// Its size does not grow with the trace: charts are drawn from the report's aggregates (log2
/// latency buckets, a bounded time series) and long lists are capped, with the exact totals kept.
public struct HTMLReportRenderer {
    /// vCPU bars and rows shown (the VM rows and the host totals always cover all of them).
    public var maxVCPUs = 64
    public var maxVMs = 50
    /// Reasons in the Pareto chart and the table; the rest are summed as "other".
    public var maxReasons = 24
    public var histogramReasons = 12
    public var cdfReasons = 8
    /// Port I/O and MMIO addresses listed (most time first).
    public var maxAccesses = 32

    public init() {}

    public func render(_ report: TraceReport) -> String {
        let unit = report.clock.unit
        var page = HTMLPage(title: "hvtax report: " + report.sources.map(\.path).joined(separator: ", "))
        page.raw("<h1>hvtax report</h1>")
        page.paragraph("\(report.sources.map { "\($0.path) (\($0.format))" }.joined(separator: ", ")) — "
                       + "\(Formatting.grouped(report.quality.events)) events over \(Formatting.duration(report.host.duration, unit: unit)); "
                       + "\(Formatting.count(report.host.vmCount, "VM")), \(Formatting.count(report.host.vcpuCount, "vCPU")); \(report.generator)", className: "sub")
        page.raw(cards(report))
        splitSection(report, into: &page)
        reasonSection(report, into: &page)
        accessSection(report, into: &page)
        latencySection(report, into: &page)
        if let series = report.timeSeries {
            page.heading("Tax over time", id: "over-time")
            page.figure(id: "chart-over-time", caption: "Host tax and steal per bucket (dashed: warning and critical tax thresholds), and each bucket's vCPU time split.",
                        TimeSeriesChart(series: series, unit: unit, thresholds: report.thresholds).svg())
        }
        pathSection(report, into: &page)
        qualitySection(report, into: &page)
        if let advice = report.advice { AdviceHTMLSection.render(advice, into: &page) }
        return page.render()
    }

    // MARK: - Sections

    private func cards(_ report: TraceReport) -> String {
        let unit = report.clock.unit
        func card(_ value: String, _ label: String, _ level: Level? = nil) -> String {
            "<div class=\"card\"><b\(level.map { " class=\"\($0.rawValue)\"" } ?? "")>\(SVG.escape(value))</b><span>\(SVG.escape(label))</span></div>"
        }
        let host = report.host
        return "<div class=\"cards\">"
            + card(Formatting.percent(host.tax.ratio), "tax (\(host.tax.level.rawValue))", host.tax.level)
            + card(Formatting.percent(host.steal.ratio), "steal (\(host.steal.level.rawValue))", host.steal.level)
            + card(Formatting.grouped(host.exits.count), "exits, \(Formatting.rate(host.exits.ratePerSecond, unit: unit))")
            + card(Formatting.duration(host.exits.latency.p99, unit: unit), "exit latency p99")
            + card(Formatting.duration(host.split.total, unit: unit), "vCPU time")
            + "</div>"
    }

    static func splitParts(_ split: TimeSplit, unit: ClockInfo.Unit) -> [StackedBarChart.Part] {
        VCPUState.allCases.map { state in
            .init(value: Double(split[state]), colour: ChartPalette.colour(state),
                  title: "\(state.rawValue) \(Formatting.share(split[state], of: split.total)) (\(Formatting.duration(split[state], unit: unit)))")
        }
    }

    static var stateLegend: [(name: String, colour: String)] { VCPUState.allCases.map { ($0.rawValue, ChartPalette.colour($0)) } }

    private func splitSection(_ report: TraceReport, into page: inout HTMLPage) {
        let unit = report.clock.unit
        page.heading("Where vCPU time goes", id: "split")
        var rows = [StackedBarChart.Row(label: "host", parts: Self.splitParts(report.host.split, unit: unit),
                                        note: "tax \(Formatting.percent(report.host.tax.ratio))")]
        for vm in report.vms.prefix(maxVMs) {
            rows.append(.init(label: "VM \(vm.name)", parts: Self.splitParts(vm.split, unit: unit), note: "tax \(Formatting.percent(vm.tax.ratio))"))
        }
        page.figure(id: "chart-split-vms", caption: "vCPU-time split of the host and each VM (hover a segment for its share and time).",
                    StackedBarChart(rows: rows, legend: Self.stateLegend).svg(label: "time split per VM"))
        let vcpus = report.vms.flatMap(\.vcpus)
        let vcpuRows = vcpus.prefix(maxVCPUs).map { vcpu in
            StackedBarChart.Row(label: "\(vcpu.vm) vCPU \(vcpu.vcpu.map(String.init) ?? "?")",
                                parts: Self.splitParts(vcpu.split, unit: unit),
                                note: "tax \(Formatting.percent(vcpu.tax.ratio)) steal \(Formatting.percent(vcpu.steal.ratio))")
        }
        page.figure(id: "chart-split-vcpus", caption: vcpus.count > maxVCPUs
                        ? "Wall-time split of the first \(maxVCPUs) of \(vcpus.count) vCPUs (the host and VM bars above include all)."
                        : "Wall-time split of each vCPU.",
                    StackedBarChart(rows: Array(vcpuRows), legend: Self.stateLegend).svg(label: "time split per vCPU"))
        let header = ["VM", "pid", "vCPUs"] + VCPUState.allCases.map(\.rawValue) + ["tax", "steal", "exits", "exits/s"]
        let vmRows = report.vms.prefix(maxVMs).map { vm in
            [vm.name, vm.pid.map(String.init) ?? "", String(vm.vcpus.count)]
                + VCPUState.allCases.map { Formatting.share(vm.split[$0], of: vm.split.total) }
                + [Formatting.percent(vm.tax.ratio), Formatting.percent(vm.steal.ratio), Formatting.grouped(vm.exits.count),
                   Formatting.rate(vm.exits.ratePerSecond, unit: unit)]
        }
        page.table(header, vmRows, numeric: Set(1..<header.count),
                   note: report.vms.count > maxVMs ? "\(report.vms.count - maxVMs) more VMs not listed; the host totals include them." : nil)
    }

    private func reasonSection(_ report: TraceReport, into page: inout HTMLPage) {
        let unit = report.clock.unit
        let exits = report.host.exits
        page.heading("Exit reasons", id: "reasons")
        guard exits.count > 0 else {
            page.paragraph("The trace has no VM exits.")
            return
        }
        let byCount = exits.byReason.sorted { ($0.count, $0.reason) > ($1.count, $1.reason) }
        var bars = byCount.prefix(maxReasons).map { stats in
            ParetoChart.Bar(label: stats.reason, value: Double(stats.count),
                            title: "\(stats.reason): \(Formatting.grouped(stats.count)) exits (\(Formatting.percent(stats.shareOfExits)))")
        }
        if byCount.count > maxReasons {
            let rest = byCount.dropFirst(maxReasons).reduce(0) { $0 + $1.count }
            bars.append(.init(label: "other (\(byCount.count - maxReasons))", value: Double(rest), title: "\(Formatting.grouped(rest)) exits of other reasons"))
        }
        page.figure(id: "chart-pareto", caption: "Exits per reason, most frequent first, with the cumulative share (right axis).",
                    ParetoChart(bars: bars, valueLabel: "exits").svg(label: "exit reason Pareto chart"))
        let header = ["reason", "count", "share", "rate", "hyperv time", "vmm time", "p50", "p90", "p99", "max", "kernel", "via vmm", "irq"]
        let rows = exits.byReason.prefix(maxReasons).map { stats in
            [stats.reason, Formatting.grouped(stats.count), Formatting.percent(stats.shareOfExits),
             Formatting.rate(stats.ratePerSecond, unit: unit), Formatting.duration(stats.hypervisorTime, unit: unit),
             Formatting.duration(stats.vmmTime, unit: unit), Formatting.duration(stats.latency.p50, unit: unit),
             Formatting.duration(stats.latency.p90, unit: unit), Formatting.duration(stats.latency.p99, unit: unit),
             Formatting.duration(stats.latency.max, unit: unit), Formatting.grouped(stats.paths.kernel.count),
             Formatting.grouped(stats.paths.vmm.count), Formatting.grouped(stats.paths.interrupt.count)]
        }
        page.raw("<div class=\"scroll\">")
        page.table(header, rows, numeric: Set(1..<header.count),
                   note: exits.byReason.count > maxReasons ? "\(exits.byReason.count - maxReasons) more reasons not listed (largest hypervisor + vmm time first)." : nil)
        page.raw("</div>")
    }

    /// Port I/O and MMIO by address, when the trace has kvm_pio/kvm_mmio events.
    private func accessSection(_ report: TraceReport, into page: inout HTMLPage) {
        guard let accesses = report.host.exits.accesses, !accesses.isEmpty else { return }
        let unit = report.clock.unit
        page.heading("Port I/O and MMIO", id: "accesses")
        page.paragraph("Each address the guests touched through KVM's emulation, as perf kvm stat --event=ioport and --event=mmio "
                       + "key it (PIN/POUT: port read/write; R/W: MMIO). Latency runs from the access to the vCPU's next entry; "
                       + "via vmm counts the accesses that went on to the userspace VMM.", className: "sub")
        let header = ["access", "device", "count", "rate", "via vmm", "time", "p50", "p99", "max", "no entry"]
        let rows = accesses.prefix(maxAccesses).map { access in
            let l = access.latency
            let latency = { (value: UInt64) in l.count == 0 ? "-" : Formatting.duration(value, unit: unit) }
            return [access.key, access.device ?? "", Formatting.grouped(access.count), Formatting.rate(access.ratePerSecond, unit: unit),
                    access.throughVMM.map(Formatting.grouped) ?? "n/a", latency(access.time), latency(l.p50), latency(l.p99),
                    latency(l.max), Formatting.grouped(access.unfinished)]
        }
        page.raw("<div class=\"scroll\">")
        page.table(header, rows, numeric: Set(2..<header.count),
                   note: accesses.count > maxAccesses ? "\(accesses.count - maxAccesses) more addresses not listed (all are in the JSON and CSV)." : nil)
        page.raw("</div>")
    }

    private func latencySection(_ report: TraceReport, into page: inout HTMLPage) {
        let unit = report.clock.unit
        let exits = report.host.exits
        let byCount = exits.byReason.filter { $0.latency.count > 0 }.sorted { ($0.count, $0.reason) > ($1.count, $1.reason) }
        guard let axis = LatencyAxis([exits.latency] + byCount.map(\.latency), unit: unit) else { return }
        page.heading("Exit latency", id: "latency")
        var series = [LatencyCDFChart.Series(name: "all exits", latency: exits.latency, colour: "#222", dashed: true)]
        for (index, stats) in byCount.prefix(cdfReasons).enumerated() {
            series.append(.init(name: stats.reason, latency: stats.latency, colour: ChartPalette.series(index)))
        }
        page.figure(id: "chart-cdf", caption: "Share of exits completed within each latency (exit to next entry), log2 latency axis; the \(min(cdfReasons, byCount.count)) most frequent reasons.",
                    LatencyCDFChart(series: series, axis: axis).svg(label: "exit latency CDF"))
        let charts = byCount.prefix(histogramReasons).enumerated().map { index, stats in
            LatencyHistogramChart(title: stats.reason, latency: stats.latency, axis: axis, colour: ChartPalette.series(index)).svg()
        }
        page.raw("<figure id=\"chart-histograms\"><div class=\"grid\">" + charts.joined() + "</div><figcaption>"
                 + SVG.escape("Latency histograms of the \(charts.count) most frequent reasons: power-of-two buckets, counts on a log scale, the same axes for all.")
                 + "</figcaption></figure>")
    }

    private func pathSection(_ report: TraceReport, into page: inout HTMLPage) {
        let unit = report.clock.unit
        let paths = report.host.exits.paths
        page.heading("Exit paths", id: "paths")
        func row(_ label: String, _ value: (PathStats) -> UInt64, time: Bool) -> StackedBarChart.Row {
            let total = ExitPath.allCases.reduce(0) { $0 + value(paths[$1]) }
            return .init(label: label, parts: ExitPath.allCases.map { path in
                let v = value(paths[path])
                return .init(value: Double(v), colour: ChartPalette.colour(path),
                             title: "\(path.rawValue): \(time ? Formatting.duration(v, unit: unit) : Formatting.grouped(v)) (\(Formatting.share(v, of: total)))")
            }, note: time ? Formatting.duration(total, unit: unit) : Formatting.grouped(total))
        }
        let legend: [(name: String, colour: String)] = [
            ("kernel (VM → KVM → VM)", ChartPalette.colour(ExitPath.kernel)), ("vmm (through userspace)", ChartPalette.colour(ExitPath.vmm)),
            ("interrupt-induced", ChartPalette.colour(ExitPath.interrupt))]
        page.figure(id: "chart-paths", caption: "The three exit paths: their share of the exits, of the exit windows' time, and of its hypervisor and VMM parts.",
                    StackedBarChart(rows: [row("exits", \.count, time: false), row("window time", \.windowTime, time: true),
                                           row("hypervisor time", \.hypervisorTime, time: true), row("vmm time", \.vmmTime, time: true)],
                                    legend: legend, labelWidth: 130, legendSpacing: 200).svg(label: "exit paths"))
        let total = paths.count
        let named: [(String, PathStats)] = [("kernel (VM → KVM → VM)", paths.kernel), ("vmm (through userspace)", paths.vmm),
                                             ("interrupt-induced", paths.interrupt)]
        let rows: [[String]] = named.map { name, stats in
            let mean = stats.count == 0 ? "-" : Formatting.duration(Double(stats.windowTime) / Double(stats.count), unit: unit)
            return [name, Formatting.grouped(stats.count), Formatting.share(stats.count, of: total),
                    Formatting.duration(stats.windowTime, unit: unit), Formatting.duration(stats.hypervisorTime, unit: unit),
                    Formatting.duration(stats.vmmTime, unit: unit), mean]
        }
        page.table(["path", "exits", "share", "window time", "hyperv time", "vmm time", "mean window"], rows, numeric: Set(1...6))
    }

    private func qualitySection(_ report: TraceReport, into page: inout HTMLPage) {
        let q = report.quality
        page.heading("Trace quality", id: "quality")
        let kinds = q.eventsByKind.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \(Formatting.grouped($0.value))" }.joined(separator: ", ")
        var rows: [[String]] = [["events", Formatting.grouped(q.events), kinds]]
        func add(_ label: String, _ value: UInt64, _ meaning: String) { rows.append([label, Formatting.grouped(value), meaning]) }
        for counter in TraceQualityCounters.counters(q) { add(counter.label, counter.value, counter.meaning) }
        add("malformed lines", q.malformedLines, q.malformedExamples.prefix(5).map { "\($0.file):\($0.line): \($0.problem)" }.joined(separator: "; "))
        add("unknown reasons", q.unknownReasons.values.reduce(0, +), q.unknownReasons.sorted { $0.key < $1.key }.prefix(10).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        add("unknown events", q.unknownEvents.values.reduce(0, +), q.unknownEvents.sorted { $0.key < $1.key }.prefix(10).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        rows.append(["VMs grouped by", q.vmGrouping, ""])
        rows.append(["event families", "", [("sched_switch", q.hasSchedSwitch), ("userspace exits", q.hasUserspaceExits), ("irq", q.hasIRQEvents), ("kvm exits", q.hasExitEvents)]
            .map { "\($0.0) \($0.1 ? "yes" : "no")" }.joined(separator: ", ")])
        if !q.truncatedFiles.isEmpty { rows.append(["truncated files", String(q.truncatedFiles.count), q.truncatedFiles.joined(separator: ", ")]) }
        page.table(["check", "count", "meaning"], rows, numeric: [1], className: "quality")
        for note in q.notes { page.paragraph("note: " + note, className: "note") }
    }
}
