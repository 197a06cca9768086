import HVTaxModel

/// `hvtax validate --format text`: per VM the figures of every source side by side, then each
/// comparison with its delta, tolerance and explanation, then one verdict per source.
public struct ValidationTextRenderer: Sendable {
    public let style: TerminalStyle

    public init(style: TerminalStyle = TerminalStyle(colour: false)) { self.style = style }

    public func render(_ v: AccountingValidation) -> String {
        var out = style.apply(.heading, "hvtax validate") + ": interval \(Self.seconds(v.intervalNs)); \(Formatting.count(v.vms.count, "VM"))"
            + "; USER_HZ \(v.clockTicksPerSecond)\n"
        out += "  host: \(v.environment.kvmBackend)" + (v.environment.guestCodeEmulated ? " (guest code emulated in the host kernel)" : "")
            + "; schedstats \(v.environment.schedstatsAvailable ? "present" : "absent (no wait_sum)"); libvirt: \(v.environment.libvirt)\n"
        out += style.apply(.dim, "  tolerance: \(Formatting.fixed(v.tolerance.ticksPerThread, 0)) ticks per thread (tick-grained sources) + "
            + "\(Formatting.fixed(v.tolerance.relative * 100, 0))% + \(Self.seconds(v.tolerance.skewNs)); not judged below "
            + "\(v.tolerance.minimumReferenceTicks) ticks of reference time") + "\n"
        for vm in v.vms {
            out += "\n" + style.apply(.heading, "VM \(vm.name)") + " (\(vm.kind.rawValue), pid \(vm.pid))\n"
            out += figures(vm) + "\n"
            out += comparisons(vm.comparisons) + "\n"
        }
        if !v.host.isEmpty {
            out += "\n" + style.apply(.heading, "host-wide") + "\n" + comparisons(v.host) + "\n"
        }
        out += "\n" + style.apply(.heading, "verdicts") + "\n"
        var table = TextTable([("source", .left), ("verdict", .left), ("worst ratio", .right), ("why", .left)])
        for verdict in v.verdicts {
            table.add([
                TextTable.Cell(verdict.source.rawValue), TextTable.Cell(verdict.verdict.rawValue, tone(verdict.verdict)),
                TextTable.Cell(verdict.worstDiscrepancyRatio.map { Formatting.fixed($0, 3) } ?? "-"),
                TextTable.Cell(verdict.reason),
            ])
        }
        out += table.render(style: style) + "\n"
        if let advice = v.advice { out += AdviceTextRenderer(style: style).render(advice) }
        return out
    }

    /// The VM's figures from every source, seconds over the interval, with a row per vCPU.
    func figures(_ vm: VMAccounting) -> String {
        var table = TextTable([
            ("", .left), ("schedstat", .right), ("run delay", .right), ("user", .right), ("system", .right), ("guest", .right),
            ("wait_sum", .right), ("libvirt time", .right), ("libvirt delay", .right),
        ])
        for c in vm.vcpus {
            table.add(["vCPU \(c.vcpu) (tid \(c.tid))", Self.seconds(c.onCPUNs), Self.seconds(c.runDelayNs), Self.seconds(c.userNs),
                       Self.seconds(c.systemNs), Self.seconds(c.guestNs), Self.optional(c.waitSumNs), Self.optional(c.libvirtTimeNs),
                       Self.optional(c.libvirtDelayNs)])
        }
        let f = vm.figures
        table.add(["Σ vCPUs", Self.seconds(f.vcpuOnCPUNs), Self.seconds(f.vcpuRunDelayNs), Self.seconds(f.vcpuUserNs),
                   Self.seconds(f.vcpuSystemNs), Self.seconds(f.vcpuGuestNs), Self.optional(f.vcpuWaitSumNs),
                   Self.optional(f.libvirt?.vcpuTimeNs), Self.optional(f.libvirt?.vcpuDelayNs)])
        var lines = table.render(style: style)
        var totals = "  emulator+I/O threads \(Self.seconds(f.vmmThreadsOnCPUNs)), vhost \(Self.seconds(f.vhostOnCPUNs)); "
            + "process stat \(Self.optional(f.processUserSystemNs)); cgroup usage \(Self.optional(f.cgroupUsageNs)), "
            + "user \(Self.optional(f.cgroupUserNs)), system \(Self.optional(f.cgroupSystemNs))"
        if let lv = f.libvirt {
            totals += "; libvirt cpu_time \(Self.optional(lv.cpuTimeNs)), user_time \(Self.optional(lv.userNs)), "
                + "system_time \(Self.optional(lv.systemNs))"
        }
        lines += "\n" + totals
        return lines
    }

    func comparisons(_ list: [AccountingComparison]) -> String {
        var table = TextTable([("comparison", .left), ("source", .right), ("reference", .right), ("delta", .right),
                               ("tolerance", .right), ("ratio", .right), ("state", .left)])
        var notes: [String] = []
        for c in list {
            table.add([
                TextTable.Cell(c.title), TextTable.Cell(Self.optional(c.sourceNs)), TextTable.Cell(Self.seconds(c.referenceNs)),
                TextTable.Cell(c.deltaNs.map(Self.signedSeconds) ?? "-"), TextTable.Cell("±" + Self.seconds(c.toleranceNs)),
                TextTable.Cell(c.discrepancyRatio.map { Formatting.fixed($0, 3) } ?? "-"),
                TextTable.Cell(c.state.rawValue + (c.cause.map { " (\($0.rawValue))" } ?? ""), tone(c.state)),
            ])
            if c.state == .disagrees || c.state == .unavailable { notes.append("  - \(c.title): \(c.explanation)") }
        }
        return table.render(style: style) + (notes.isEmpty ? "" : "\n" + notes.joined(separator: "\n"))
    }

    func tone(_ state: AccountingComparison.State) -> TerminalStyle.Tone {
        switch state {
        case .agrees: .plain
        case .disagrees: .critical
        case .notJudged, .unavailable: .dim
        }
    }

    func tone(_ verdict: SourceVerdict.Verdict) -> TerminalStyle.Tone {
        switch verdict {
        case .trustworthy: .plain
        case .notTrustworthy: .critical
        case .unavailable, .notJudged: .dim
        }
    }

    static func seconds(_ ns: UInt64) -> String { Formatting.fixed(Double(ns) / 1e9, 3) + " s" }
    static func signedSeconds(_ ns: Int64) -> String { (ns >= 0 ? "+" : "") + Formatting.fixed(Double(ns) / 1e9, 3) + " s" }
    static func optional(_ ns: UInt64?) -> String { ns.map(seconds) ?? "-" }
}

/// `hvtax validate --experiment --format text`: per phase, each source's share against the truth,
/// then a verdict per source and the exit counts against the workload's own.
public struct ExperimentTextRenderer: Sendable {
    public let style: TerminalStyle

    public init(style: TerminalStyle = TerminalStyle(colour: false)) { self.style = style }

    public func render(_ e: AccountingExperiment) -> String {
        var out = style.apply(.heading, "hvtax validate --experiment") + ": VM \(e.vm) (pid \(e.pid), \(Formatting.count(e.vcpus, "vCPU"))"
            + "); truth: \(e.truthSource); tolerance ±\(Formatting.fixed(e.tolerancePoints, 1)) points\n"
        for phase in e.phases {
            out += "\n" + style.apply(.heading, "phase \(phase.index + 1)") + ": requested duty \(Formatting.percent(phase.requestedDuty)), "
                + "sampled \(Formatting.fixed(Double(phase.windowNs) / 1e9, 2)) s from +\(Formatting.fixed(Double(phase.windowStartNs) / 1e9, 2)) s\n"
            var table = TextTable([("source", .left), ("measured", .right), ("truth", .right), ("error", .right), ("", .left), ("truth is", .left)])
            for f in phase.figures {
                table.add([
                    TextTable.Cell(f.source.rawValue), TextTable.Cell(f.measured.map { Formatting.percent($0) } ?? "-"),
                    TextTable.Cell(Formatting.percent(f.truth)),
                    TextTable.Cell(f.errorPoints.map { (($0 >= 0) ? "+" : "") + Formatting.fixed($0, 2) + " pts" } ?? "-"),
                    TextTable.Cell(f.withinTolerance.map { $0 ? "ok" : "OFF" } ?? (f.note ?? ""),
                                   f.withinTolerance == false ? .critical : f.withinTolerance == nil ? .dim : .plain),
                    TextTable.Cell(f.truthKind, .dim),
                ])
            }
            out += table.render(style: style) + "\n"
        }
        if e.phases.isEmpty { out += "  no phase was sampled long enough (a phase needs two samples inside it)\n" }
        out += "\n" + style.apply(.heading, "verdicts against the truth") + "\n"
        var verdicts = TextTable([("source", .left), ("verdict", .left), ("worst error", .right), ("why", .left)])
        for r in e.results {
            verdicts.add([
                TextTable.Cell(r.source.rawValue),
                TextTable.Cell(r.verdict.rawValue, r.verdict == .notTrustworthy ? .critical : r.verdict == .trustworthy ? .plain : .dim),
                TextTable.Cell(r.worstErrorPoints.map { Formatting.fixed($0, 2) + " pts" } ?? "-"), TextTable.Cell(r.explanation),
            ])
        }
        out += verdicts.render(style: style) + "\n"
        out += "\n" + style.apply(.heading, "exits") + ": \(e.exitSource)\n"
        if !e.exits.isEmpty {
            var exits = TextTable([("reason", .left), ("counted", .right), ("truth", .right), ("error", .right), ("allowed", .right),
                                   ("", .left), ("truth is", .left)])
            for x in e.exits {
                exits.add([TextTable.Cell(x.reason), TextTable.Cell(String(x.counted)), TextTable.Cell(String(x.truth)),
                           TextTable.Cell(x.relativeError.map { Formatting.fixed($0 * 100, 2) + "%" } ?? "-"),
                           TextTable.Cell("±" + Formatting.fixed(x.allowedRelativeError * 100, 1) + "%"),
                           TextTable.Cell(x.withinTolerance ? "ok" : "OFF", x.withinTolerance ? .plain : .critical),
                           TextTable.Cell(x.truthKind, .dim)])
            }
            out += exits.render(style: style) + "\n"
        }
        if let v = e.validation {
            let disagreements = v.allComparisons.filter { $0.comparison.state == .disagrees }
            if !disagreements.isEmpty {
                out += "\n" + style.apply(.heading, "sources against each other over the run") + "\n"
                for d in disagreements {
                    out += "  - \(d.comparison.title) (\(d.comparison.cause?.rawValue ?? "?")): \(d.comparison.explanation)\n"
                }
            }
        }
        return out
    }
}
