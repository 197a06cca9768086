import HVTaxModel

/// The terminal report of an imported capture: what was read, the totals per host, then the VMs
/// and processors that explain them, then the figures this hypervisor cannot give and why.
public struct CaptureTextRenderer {
    public var style: TerminalStyle

    public init(style: TerminalStyle) {
        self.style = style
    }

    /// Figures shown as time shares, in this order, when the capture has them.
    static let shareFigures: [CaptureFigure] = [
        .guest, .hypervisor, .vmm, .preempted, .halted, .totalRun, .remoteRun, .coStop, .maxLimited,
        .vmWait, .swapWait, .overlap, .cpuLatency,
    ]
    /// Figures shown as rates and costs.
    static let rateFigures: [CaptureFigure] = [
        .dispatchWait, .intercepts, .hypercalls, .interrupts, .ioInstructions, .msrAccesses, .cpuid,
        .interceptCost, .hypercallCost, .ioInstructionCost, .msrAccessCost, .cpuidCost,
        .hardwareInterrupts, .contextSwitches, .worldSwitches, .migrations,
    ]

    public func render(_ report: CaptureReport) -> String {
        var lines: [String] = []
        let source = report.source
        let kindName = Self.kindName(source.kind)
        lines.append(style.apply(.title, "hvtax capture report: \(kindName), \(source.path)"))
        var read = "  \(source.format)"
        if let zone = source.timeZone { read += ", time zone \(zone)" }
        if let bias = source.biasMinutes { read += " (bias \(bias) min)" }
        read += ", " + Formatting.count(Int(source.samples), "sample")
        if let interval = source.intervalSeconds { read += " every \(CaptureFormat.seconds(interval))" }
        lines.append(read)
        if let first = source.firstSampleLocal, let last = source.lastSampleLocal {
            var span = "  \(first) to \(last) local"
            if let duration = source.durationSeconds { span += " (\(CaptureFormat.seconds(duration)))" }
            lines.append(span)
        }
        lines.append("  \(Formatting.grouped(UInt64(source.columns))) counter columns, \(Formatting.grouped(UInt64(source.columnsUsed))) used")
        lines.append("")

        let shares = Self.shareFigures.filter(report.isAvailable)
        let rates = Self.rateFigures.filter(report.isAvailable)
        let stealName = source.kind == .esxtop ? "steal (%RDY)" : "steal"

        for host in report.hosts {
            lines.append(style.apply(.heading, "Host \(host.name): \(Formatting.count(host.vmCount, "VM")), \(Formatting.count(host.vcpuCount, "vCPU"))"))
            var summary = "  tax \(rated(host.tax))   \(stealName) \(rated(host.steal))"
            if source.kind == .hyperV, let wait = host.values[.dispatchWait] {
                summary += "   wait per dispatch \(CaptureFormat.value(wait.mean, unit: .nanoseconds))"
                if let level = host.levels[.dispatchWait] { summary += " " + style.apply(CaptureFormat.tone(level), level.rawValue) }
            }
            lines.append(summary)
            lines.append("  (means per vCPU over all VMs and over the capture's samples)")
            if let share = host.rootShareOfRunTime {
                lines.append("  root partition: \(CaptureFormat.percent(share)) of the logical processors' run time")
            }
            lines.append("")

            if !host.vms.isEmpty {
                lines.append(style.apply(.heading, "  VMs: shares of each vCPU's time, per vCPU"))
                lines += groupTable(host.vms, figures: shares, withRatings: true, kind: source.kind)
                if !rates.isEmpty {
                    lines.append("")
                    lines.append(style.apply(.heading, "  VMs: exit-like rates and costs, per vCPU"))
                    lines += groupTable(host.vms, figures: rates, withRatings: false, kind: source.kind)
                }
                lines.append("")
                lines.append(style.apply(.heading, "  vCPUs"))
                lines += cpuTable(host.vms, figures: shares + rates, kind: source.kind)
                lines.append("")
            }
            for group in [host.logicalProcessors, host.root].compactMap({ $0 }) {
                let figures = (Self.shareFigures + Self.rateFigures).filter { figure in
                    group.values[figure] != nil || group.cpus.contains { $0.values[figure] != nil }
                }
                lines.append(style.apply(.heading, "  \(group.name.prefix(1).uppercased() + group.name.dropFirst()) (\(group.cpuCount.map(String.init) ?? "_Total only"))"))
                lines += cpuTable([group], figures: figures, kind: source.kind, showGroup: false,
                                  includeGroupRow: true)
                lines.append("")
            }
        }

        let missing = report.figures.filter { !$0.available && Self.isShownWhenMissing($0.figure, kind: source.kind) }
        if !missing.isEmpty {
            lines.append(style.apply(.heading, "Not available from this capture"))
            var table = TextTable([("figure", .left), ("why", .left)])
            for figure in missing { table.add([label(figure.figure, kind: source.kind), figure.reason ?? ""]) }
            lines.append(table.render(style: style))
            lines.append("")
        }

        lines.append(style.apply(.heading, "Thresholds"))
        lines += thresholdLines(report.thresholds, kind: source.kind)
        lines.append("")

        lines += qualityLines(report.quality)
        if let advice = report.advice {
            lines.append("")
            lines.append(AdviceTextRenderer(style: style).render(advice).dropLastNewline())
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func kindName(_ kind: CaptureKind) -> String {
        switch kind {
        case .hyperV: "Hyper-V perfmon capture"
        case .esxtop: "VMware esxtop capture"
        case .pdhCSV: "PDH-CSV capture"
        }
    }

    /// The trace report's states and exit-like rates are listed when missing, whatever the
    /// hypervisor: that is the point. The other hypervisor's own figures are not.
    static func isShownWhenMissing(_ figure: CaptureFigure, kind: CaptureKind) -> Bool {
        if CaptureFigure.states.contains(figure) || CaptureFigure.exitLike.contains(figure) { return true }
        switch kind {
        case .esxtop: return [.coStop, .maxLimited, .vmWait, .swapWait, .overlap, .cpuLatency].contains(figure)
        case .hyperV: return [.dispatchWait, .totalRun, .interceptCost, .hypercallCost].contains(figure)
        case .pdhCSV: return false
        }
    }

    /// esxtop readers know its columns by esxtop's names.
    func label(_ figure: CaptureFigure, kind: CaptureKind) -> String {
        guard kind == .esxtop else { return figure.label }
        switch figure {
        case .guest: return "guest(%RUN-%OVRLP)"
        case .hypervisor: return "%SYS"
        case .preempted: return "%RDY"
        case .halted: return "%IDLE"
        case .totalRun: return "%RUN"
        default: return figure.label
        }
    }

    private func rated(_ ratio: RatedRatio) -> String {
        let cell = ratedCell(ratio)
        return style.apply(cell.style, cell.text)
    }

    private func cell(_ values: [CaptureFigure: SampledValue], _ figure: CaptureFigure,
                      _ levels: [CaptureFigure: Level]) -> TextTable.Cell {
        guard let value = values[figure] else { return TextTable.Cell("n/a", .dim) }
        return TextTable.Cell(CaptureFormat.value(value.mean, unit: figure.unit), CaptureFormat.tone(levels[figure]))
    }

    private func ratedCell(_ ratio: RatedRatio) -> TextTable.Cell {
        guard let value = ratio.ratio else { return TextTable.Cell("n/a", .dim) }
        let tone: TerminalStyle.Tone = ratio.level == .ok ? .ok : CaptureFormat.tone(ratio.level)
        return TextTable.Cell("\(CaptureFormat.percent(value)) \(ratio.level.rawValue)", tone)
    }

    private func groupTable(_ groups: [CaptureCPUGroup], figures: [CaptureFigure],
                            withRatings: Bool, kind: CaptureKind) -> [String] {
        var columns: [(String, TextTable.Alignment)] = [("VM", .left), ("vCPUs", .right)]
        columns += figures.map { (label($0, kind: kind), .right) }
        if withRatings { columns += [("tax", .right), ("steal", .right)] }
        var table = TextTable(columns)
        for group in groups {
            var row = [TextTable.Cell(group.name), TextTable.Cell(group.cpuCount.map(String.init) ?? "?")]
            row += figures.map { cell(group.values, $0, group.levels) }
            if withRatings { row += [ratedCell(group.tax), ratedCell(group.steal)] }
            table.add(row)
        }
        return [table.render(style: style, indent: "    ")]
    }

    private func cpuTable(_ groups: [CaptureCPUGroup], figures: [CaptureFigure],
                          kind: CaptureKind, showGroup: Bool = true, includeGroupRow: Bool = false) -> [String] {
        var columns: [(String, TextTable.Alignment)] = showGroup ? [("VM", .left), ("vCPU", .left)] : [("processor", .left)]
        columns += figures.map { (label($0, kind: kind), .right) }
        columns += [("tax", .right), ("steal", .right)]
        var table = TextTable(columns)
        for group in groups {
            if includeGroupRow {
                var row = [TextTable.Cell("all (mean)")]
                row += figures.map { cell(group.values, $0, group.levels) }
                row += [ratedCell(group.tax), ratedCell(group.steal)]
                table.add(row)
            }
            for cpu in group.cpus {
                var row = showGroup
                    ? [TextTable.Cell(group.name), TextTable.Cell(cpu.index.map(String.init) ?? cpu.instance)]
                    : [TextTable.Cell(cpu.instance)]
                row += figures.map { cell(cpu.values, $0, cpu.levels) }
                row += [ratedCell(cpu.tax), ratedCell(cpu.steal)]
                table.add(row)
            }
        }
        return [table.render(style: style, indent: "    ")]
    }

    private func thresholdLines(_ thresholds: CaptureThresholds, kind: CaptureKind) -> [String] {
        func pair(_ name: String, _ pair: ThresholdPair) -> String {
            "  \(name): warning from \(CaptureFormat.percent(pair.warning)), critical from \(CaptureFormat.percent(pair.critical))"
        }
        func above(_ name: String, _ rule: AboveThreshold, unit: CaptureFigureUnit) -> String {
            var parts: [String] = []
            if let warning = rule.warningAbove { parts.append("warning above \(CaptureFormat.value(warning, unit: unit))") }
            if let critical = rule.criticalAbove { parts.append("critical above \(CaptureFormat.value(critical, unit: unit))") }
            return "  \(name): " + parts.joined(separator: ", ")
        }
        var lines = [pair("tax (hypervisor / (guest + hypervisor + vmm))", thresholds.tax),
                     pair(kind == .esxtop ? "steal (%RDY per vCPU)" : "steal", thresholds.steal)]
        switch kind {
        case .esxtop:
            lines.append(above("%RDY per vCPU", thresholds.readyRatio, unit: .ratio))
            lines.append(above("%CSTP per vCPU", thresholds.coStopRatio, unit: .ratio))
            lines.append(above("%MLMTD per vCPU", thresholds.maxLimitedRatio, unit: .ratio))
        case .hyperV:
            lines.append(above("CPU Wait Time Per Dispatch", thresholds.dispatchWaitNs, unit: .nanoseconds))
            lines.append(above("logical processor % Total Run Time", thresholds.lpTotalRunRatio, unit: .ratio))
        case .pdhCSV:
            break
        }
        return lines
    }

    private func qualityLines(_ quality: CaptureQuality) -> [String] {
        var lines = [style.apply(.heading, "Capture quality")]
        var counts: [String] = []
        if quality.blankCells > 0 { counts.append("\(quality.blankCells) blank cells (no value in that sample)") }
        if quality.shortRows > 0 { counts.append("\(quality.shortRows) short rows") }
        if quality.malformedRows > 0 { counts.append(style.apply(.warning, "\(quality.malformedRows) malformed rows skipped")) }
        if quality.malformedCells > 0 { counts.append(style.apply(.warning, "\(quality.malformedCells) cells not numbers")) }
        if quality.otherLines > 0 { counts.append("\(quality.otherLines) lines that are not rows") }
        if quality.truncated { counts.append(style.apply(.warning, "the file ends in the middle of a row (ignored)")) }
        lines.append("  " + (counts.isEmpty ? "every row read cleanly" : counts.joined(separator: "; ")))
        for example in quality.examples {
            lines.append("  \(example.file):\(example.line): \(example.problem)")
        }
        if !quality.unknownCounters.isEmpty {
            let shown = quality.unknownCounters.prefix(6).joined(separator: ", ")
            lines.append("  counters of the sets read that hvtax does not use (\(quality.unknownCounters.count)): \(shown)\(quality.unknownCounters.count > 6 ? ", ..." : "")")
        }
        if !quality.unusedObjects.isEmpty {
            let objects = quality.unusedObjects.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(6)
                .map { "\($0.key) (\($0.value))" }.joined(separator: ", ")
            let columns = quality.unusedObjects.values.reduce(0, +)
            lines.append("  columns of other objects, not used (\(columns)): \(objects)\(quality.unusedObjects.count > 6 ? ", ..." : "")")
        }
        for note in quality.notes { lines.append("  - \(note)") }
        return lines
    }
}
