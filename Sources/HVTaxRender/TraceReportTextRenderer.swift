import HVTaxModel

/// The terminal report: totals first (host, then VMs, then vCPUs), then the detail that explains
/// them (exit reasons, paths, per-VM reasons), then what the trace could not tell.
public struct TraceReportTextRenderer {
    public let style: TerminalStyle
    /// Reasons listed per VM in the detail section.
    public var reasonsPerVM = 8
    /// Addresses listed in the port I/O and MMIO table (all are in JSON and CSV).
    public var accessesShown = 16

    public init(style: TerminalStyle) { self.style = style }

    public func render(_ report: TraceReport) -> String {
        var out: [String] = []
        let unit = report.clock.unit
        out.append(header(report))
        out.append("")
        out.append(hostSection(report))
        if !report.vms.isEmpty {
            out.append("")
            out.append(style.apply(.title, "VMs") + dim("  (vCPU-time shares; tax = (hypervisor + vmm) / (guest + hypervisor + vmm), steal = preempted / wall)"))
            out.append(vmTable(report).render(style: style))
            out.append("")
            out.append(style.apply(.title, "vCPUs"))
            out.append(vcpuTable(report).render(style: style))
        }
        if report.host.exits.count > 0 {
            out.append("")
            out.append(style.apply(.title, "Exit reasons, all VMs") + dim("  (latency = exit to next entry; hypervisor = on-CPU kernel time in those windows)"))
            out.append(reasonTable(report.host.exits, unit: unit, limit: nil).render(style: style))
            out.append("")
            out.append(style.apply(.title, "Exit paths"))
            out.append(pathTable(report.host.exits, unit: unit).render(style: style))
            if report.vms.count > 1 || report.vms.first?.vcpus.count ?? 0 > 1 {
                for vm in report.vms where vm.exits.count > 0 {
                    out.append("")
                    out.append(style.apply(.title, "Exit reasons, \(vm.name)") + dim("  (top \(reasonsPerVM))"))
                    out.append(reasonTable(vm.exits, unit: unit, limit: reasonsPerVM).render(style: style))
                }
            }
        }
        if let accesses = report.host.exits.accesses, !accesses.isEmpty {
            out.append("")
            out.append(style.apply(.title, "Port I/O and MMIO, all VMs")
                + dim("  (latency = access to next entry, as perf kvm stat --event=ioport/mmio; most time first)"))
            out.append(accessTable(accesses, unit: unit, limit: accessesShown).render(style: style))
            // Which VM touches which device: per VM when there are several.
            if report.vms.count > 1 {
                for vm in report.vms {
                    guard let own = vm.exits.accesses, !own.isEmpty else { continue }
                    out.append("")
                    out.append(style.apply(.title, "Port I/O and MMIO, \(vm.name)") + dim("  (top \(reasonsPerVM))"))
                    out.append(accessTable(own, unit: unit, limit: reasonsPerVM).render(style: style))
                }
            }
        }
        if let guests = report.guests, !guests.isEmpty {
            out += GuestActivityTextRenderer(style: style).render(guests, unit: unit)
        }
        out.append("")
        out.append(qualitySection(report))
        if let advice = report.advice {
            out.append("")
            out.append(AdviceTextRenderer(style: style).render(advice).dropLastNewline())
        }
        return out.joined(separator: "\n") + "\n"
    }

    private func dim(_ text: String) -> String { style.apply(.dim, text) }

    private func header(_ report: TraceReport) -> String {
        let files = report.sources.map { "\($0.path) (\($0.format)\($0.compression.map { ", " + $0 } ?? ""))" }
        var clock = report.clock.unit == .ns ? "ns clock" : "raw counter clock, durations in ticks"
        if let hz = report.clock.convertedFromCounterHz { clock = "counter converted at \(Formatting.compact(hz)) Hz" }
        var lines = [style.apply(.heading, "hvtax report") + "  \(files.joined(separator: ", "))",
                     "  \(Formatting.grouped(report.quality.events)) events over "
                        + "\(Formatting.duration(report.host.duration, unit: report.clock.unit)) (\(clock))"]
        if !report.filters.isEmpty { lines.append("  filtered: " + describe(report.filters, unit: report.clock.unit)) }
        return lines.joined(separator: "\n")
    }

    private func describe(_ filters: ReportFilters, unit: ClockInfo.Unit) -> String {
        var parts: [String] = []
        if !filters.vms.isEmpty { parts.append("vm " + filters.vms.joined(separator: ",")) }
        if !filters.pids.isEmpty { parts.append("pid " + filters.pids.map(String.init).joined(separator: ",")) }
        if !filters.vcpus.isEmpty { parts.append("vcpu " + filters.vcpus.map(String.init).joined(separator: ",")) }
        if !filters.reasons.isEmpty { parts.append("reason " + filters.reasons.joined(separator: ",") + " (exit tables only)") }
        if let since = filters.since { parts.append("since +" + Formatting.duration(since, unit: unit)) }
        if let until = filters.until { parts.append("until +" + Formatting.duration(until, unit: unit)) }
        return parts.joined(separator: "; ")
    }

    private func tone(_ level: Level) -> TerminalStyle.Tone {
        switch level {
        case .ok: .ok
        case .warning: .warning
        case .critical: .critical
        case .unavailable: .dim
        }
    }

    private func rated(_ rated: RatedRatio) -> String {
        let text = Formatting.percent(rated.ratio)
        return rated.level == .unavailable ? style.apply(.dim, text) : style.apply(tone(rated.level), "\(text) \(rated.level.rawValue)")
    }

    private func hostSection(_ report: TraceReport) -> String {
        let host = report.host
        let unit = report.clock.unit
        let split = host.split
        let total = split.total
        var lines = [style.apply(.title, "Host") + "  \(Formatting.count(host.vmCount, "VM")), \(Formatting.count(host.vcpuCount, "vCPU"))"
                        + "    tax \(rated(host.tax))    steal \(rated(host.steal))"]
        let offCPU = Set(report.quality.statesIncludingOffCPU)
        let parts = VCPUState.allCases.map { state in
            "\(state.rawValue)\(offCPU.contains(state) ? "*" : "") \(Formatting.share(split[state], of: total))"
        }
        lines.append("  vCPU time  " + parts.joined(separator: "  ") + "  of " + Formatting.duration(total, unit: unit))
        if !offCPU.isEmpty { lines.append(dim("             * includes off-CPU time (no sched_switch in the trace)")) }
        let exits = host.exits
        if exits.count > 0 {
            let paths = ExitPath.allCases.map { "\($0.rawValue) \(Formatting.share(exits.paths[$0].count, of: exits.count))" }
            lines.append("  exits      \(Formatting.grouped(exits.count)) (\(Formatting.rate(exits.ratePerSecond, unit: unit)))    "
                         + paths.joined(separator: "  "))
            let l = exits.latency
            lines.append("  latency    min \(Formatting.duration(l.min, unit: unit))  p50 \(Formatting.duration(l.p50, unit: unit))"
                         + "  p90 \(Formatting.duration(l.p90, unit: unit))  p99 \(Formatting.duration(l.p99, unit: unit))"
                         + "  p99.9 \(Formatting.duration(l.p999, unit: unit))  max \(Formatting.duration(l.max, unit: unit))")
        }
        return lines.joined(separator: "\n")
    }

    private func splitCells(_ split: TimeSplit) -> [TextTable.Cell] {
        VCPUState.allCases.map { TextTable.Cell(Formatting.share(split[$0], of: split.total)) }
    }

    private func ratedCell(_ rated: RatedRatio) -> TextTable.Cell {
        TextTable.Cell(Formatting.percent(rated.ratio), tone(rated.level))
    }

    private static let splitColumns: [(String, TextTable.Alignment)] =
        [("guest", .right), ("hyperv", .right), ("vmm", .right), ("preempt", .right), ("halted", .right), ("unknown", .right)]

    private func vmTable(_ report: TraceReport) -> TextTable {
        var table = TextTable([("VM", .left), ("pid", .right), ("vCPUs", .right)] + Self.splitColumns
                              + [("tax", .right), ("steal", .right), ("exits", .right), ("exits/s", .right)])
        for vm in report.vms {
            table.add([TextTable.Cell(vm.name), TextTable.Cell(vm.pid.map(String.init) ?? "-"), TextTable.Cell(String(vm.vcpus.count))]
                      + splitCells(vm.split)
                      + [ratedCell(vm.tax), ratedCell(vm.steal), TextTable.Cell(Formatting.grouped(vm.exits.count)),
                         TextTable.Cell(Formatting.rate(vm.exits.ratePerSecond, unit: report.clock.unit))])
        }
        return table
    }

    private func vcpuTable(_ report: TraceReport) -> TextTable {
        let unit = report.clock.unit
        var table = TextTable([("VM", .left), ("vCPU", .right), ("tid", .right), ("thread", .left), ("wall", .right)]
                              + Self.splitColumns
                              + [("tax", .right), ("steal", .right), ("exits/s", .right), ("p50", .right), ("p99", .right)])
        for vm in report.vms {
            for vcpu in vm.vcpus {
                table.add([TextTable.Cell(vm.name), TextTable.Cell(vcpu.vcpu.map(String.init) ?? "?"),
                           TextTable.Cell(String(vcpu.tid)), TextTable.Cell(vcpu.thread),
                           TextTable.Cell(Formatting.duration(vcpu.split.total, unit: unit))]
                          + splitCells(vcpu.split)
                          + [ratedCell(vcpu.tax), ratedCell(vcpu.steal),
                             TextTable.Cell(Formatting.rate(vcpu.exits.ratePerSecond, unit: unit)),
                             TextTable.Cell(Formatting.duration(vcpu.exits.latency.p50, unit: unit)),
                             TextTable.Cell(Formatting.duration(vcpu.exits.latency.p99, unit: unit))])
            }
        }
        return table
    }

    private func reasonTable(_ exits: ExitSummary, unit: ClockInfo.Unit, limit: Int?) -> TextTable {
        var table = TextTable([("reason", .left), ("count", .right), ("share", .right), ("rate", .right),
                               ("hyperv time", .right), ("hyperv share", .right), ("vmm time", .right),
                               ("min", .right), ("p50", .right), ("p90", .right), ("p99", .right), ("p99.9", .right),
                               ("max", .right), ("kernel", .right), ("via vmm", .right), ("irq", .right)])
        let rows = limit.map { Array(exits.byReason.prefix($0)) } ?? exits.byReason
        for reason in rows {
            let l = reason.latency
            table.add([reason.reason, Formatting.grouped(reason.count), Formatting.percent(reason.shareOfExits),
                       Formatting.rate(reason.ratePerSecond, unit: unit),
                       Formatting.duration(reason.hypervisorTime, unit: unit), Formatting.percent(reason.shareOfHypervisorTime),
                       Formatting.duration(reason.vmmTime, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.min, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.p50, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.p90, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.p99, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.p999, unit: unit),
                       l.count == 0 ? "-" : Formatting.duration(l.max, unit: unit),
                       Formatting.grouped(reason.paths.kernel.count), Formatting.grouped(reason.paths.vmm.count),
                       Formatting.grouped(reason.paths.interrupt.count)])
        }
        if let limit, exits.byReason.count > limit {
            table.add(["(\(exits.byReason.count - limit) more)"])
        }
        return table
    }

    private func accessTable(_ accesses: [DeviceAccessStats], unit: ClockInfo.Unit, limit: Int) -> TextTable {
        var table = TextTable([("access", .left), ("device", .left), ("count", .right), ("rate", .right), ("via vmm", .right),
                               ("time", .right), ("min", .right), ("p50", .right), ("p99", .right), ("max", .right),
                               ("no entry", .right)])
        for access in accesses.prefix(limit) {
            let l = access.latency
            func latency(_ value: UInt64) -> String { l.count == 0 ? "-" : Formatting.duration(value, unit: unit) }
            table.add([access.key, access.device ?? "", Formatting.grouped(access.count), Formatting.rate(access.ratePerSecond, unit: unit),
                       access.throughVMM.map(Formatting.grouped) ?? "n/a", latency(access.time),
                       latency(l.min), latency(l.p50), latency(l.p99), latency(l.max), Formatting.grouped(access.unfinished)])
        }
        if accesses.count > limit {
            table.add(["(\(accesses.count - limit) more)"])
        }
        return table
    }

    private func pathTable(_ exits: ExitSummary, unit: ClockInfo.Unit) -> TextTable {
        var table = TextTable([("path", .left), ("exits", .right), ("share", .right), ("window time", .right),
                               ("hyperv time", .right), ("vmm time", .right), ("mean window", .right)])
        let explanations: [ExitPath: String] = [
            .kernel: "kernel (VM -> KVM -> VM)", .vmm: "vmm (through userspace)", .interrupt: "interrupt-induced",
        ]
        for path in ExitPath.allCases {
            let stats = exits.paths[path]
            table.add([explanations[path]!, Formatting.grouped(stats.count), Formatting.share(stats.count, of: exits.count),
                       Formatting.duration(stats.windowTime, unit: unit), Formatting.duration(stats.hypervisorTime, unit: unit),
                       Formatting.duration(stats.vmmTime, unit: unit),
                       stats.count == 0 ? "-" : Formatting.duration(Double(stats.windowTime) / Double(stats.count), unit: unit)])
        }
        return table
    }

    private func qualitySection(_ report: TraceReport) -> String {
        let q = report.quality
        var lines = [style.apply(.title, "Trace quality")]
        let kinds = q.eventsByKind.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \(Formatting.grouped($0.value))" }
        lines.append("  events           " + (kinds.isEmpty ? "none" : kinds.joined(separator: ", ")))
        func count(_ label: String, _ value: UInt64, _ explanation: String) {
            let text = "  " + label.padding(17) + Formatting.grouped(value) + (value > 0 ? "  " + explanation : "")
            lines.append(value > 0 ? style.apply(.warning, text) : text)
        }
        for counter in TraceQualityCounters.counters(q) { count(counter.label, counter.value, counter.meaning) }
        count("malformed lines", q.malformedLines, q.malformedExamples.map { "\($0.file):\($0.line): \($0.problem)" }.first ?? "")
        for example in q.malformedExamples.dropFirst() {
            lines.append(style.apply(.warning, "                   \(example.file):\(example.line): \(example.problem)"))
        }
        if !q.truncatedFiles.isEmpty {
            lines.append(style.apply(.warning, "  truncated        last line cut short in " + q.truncatedFiles.joined(separator: ", ")))
        }
        if !q.unknownReasons.isEmpty {
            lines.append(style.apply(.warning, "  unknown reasons  " + q.unknownReasons.sorted { $0.key < $1.key }
                .map { "\($0.key) \(Formatting.grouped($0.value))" }.joined(separator: ", ")))
        }
        if !q.unknownEvents.isEmpty {
            lines.append("  other events     " + q.unknownEvents.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.prefix(12)
                .map { "\($0.key) \(Formatting.grouped($0.value))" }.joined(separator: ", ")
                + (q.unknownEvents.count > 12 ? ", ..." : "") + dim(" (not used by the time split)"))
        }
        lines.append("  VMs grouped by   " + q.vmGrouping)
        for note in q.notes { lines.append(style.apply(.warning, "  note: ") + note) }
        return lines.joined(separator: "\n")
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
