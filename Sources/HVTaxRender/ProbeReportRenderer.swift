import HVTaxModel

/// Renders `hvtax probe`'s report as terminal text or JSON.
public enum ProbeReportRenderer {
    public static func json(_ report: ProbeReport) throws -> String {
        try JSONRendering.render(report)
    }

    /// - Parameter histograms: print every measurement's full histogram, not only its one-line shape.
    public static func text(_ report: ProbeReport, histograms: Bool = false,
                            style: TerminalStyle = TerminalStyle(colour: false)) -> String {
        var out = style.apply(.title, "hvtax probe: what one exit costs on this host") + "\n\n"
        let host = report.host
        var hostLine = "\(host.cpuModel.isEmpty ? host.cpuVendor : host.cpuModel) (\(host.cpuVendor)), Linux "
            + "\(host.kernelRelease), \(host.logicalCPUs) CPUs"
        if host.isItselfAGuest { hostLine += "; itself a guest of \(host.hypervisorSignature ?? "a hypervisor")" }
        out += field("Host", hostLine)
        out += field("KVM", host.kvmModules.isEmpty ? "no kvm modules under /sys/module"
                     : "modules " + host.kvmModules.joined(separator: ", "))
        out += field("World", "\(report.world.kind.rawValue): \(report.world.summary)")
        for line in report.world.evidence { out += field("", "- " + line) }
        out += field("TSC", "\(Formatting.fixed(report.tsc.hz / 1e6, 3)) MHz, from \(report.tsc.source)")
        out += field("Samples", "\(report.settings.samplesPerKind) timed iterations per kind in \(report.settings.rounds) "
            + "interleaved rounds; kvm-unit-tests loops doubled from 64 until they last "
            + "\(report.settings.minimumLoopCycles) cycles")
        out += "\n"

        for run in report.runs {
            out += style.apply(.heading, "Run \(run.label)") + ": vCPU thread seen on CPU "
                + run.cpusSeen.map(String.init).joined(separator: ",") + ", "
                + Formatting.fixed(Double(run.durationNs) / 1e9, 1) + " s\n"
            out += table(run, style: style) + "\n"
        }
        out += "  (cycles of the TSC; the guest's timer overhead is subtracted from the other guest rows and the host's\n"
            + "   from the host rows; spread = (p90-p50)/p50; loop/iter = kvm-unit-tests' raw loop figure)\n\n"
        if report.runs.count > 1 { out += sideBySide(report.runs, style: style) + "\n" }

        out += style.apply(.heading, "KVM statistics during each test")
            + " (\(report.runs[0].label) run; cumulative counters that moved)\n"
        for measurement in report.runs[0].measurements where !measurement.kvmStatsDelta.isEmpty {
            var line = "  \(label(measurement)) @\(vantage(measurement.vantage)): "
            line += measurement.kvmStatsDelta.sorted { $0.key < $1.key }.map { "\($0.key) +\($0.value)" }
                .joined(separator: ", ")
            if let executed = measurement.guestInstructionsExecuted { line += "  [guest executed \(executed) instructions]" }
            out += line + "\n"
        }
        out += "\n" + ratios(report.runs[0])
        if !report.comparisons.isEmpty { out += comparisons(report.comparisons, style: style) + "\n" }
        if histograms {
            for run in report.runs {
                out += style.apply(.heading, "Histograms, \(run.label)") + " (cycles, timer overhead subtracted)\n"
                for measurement in run.measurements where !measurement.histogram.isEmpty {
                    out += "  \(label(measurement)) @\(vantage(measurement.vantage))\n" + histogram(measurement.histogram)
                }
                out += "\n"
            }
        }
        if !report.notes.isEmpty {
            out += style.apply(.heading, "Notes") + "\n"
            for note in report.notes { out += "  - \(note)\n" }
        }
        return out
    }

    // MARK: pieces

    static func table(_ run: ProbeRun, style: TerminalStyle) -> String {
        var table = TextTable([
            ("kind", .left), ("timed at", .left), ("min", .right), ("p50", .right), ("p90", .right), ("p99", .right),
            ("max", .right), ("spread", .right), ("p50 ns", .right), ("loop/iter", .right), ("shape (log bins)", .left),
        ])
        for measurement in run.measurements {
            guard measurement.status == .measured, let cycles = measurement.cycles, let ns = measurement.ns else {
                table.add([TextTable.Cell(label(measurement)), TextTable.Cell(vantage(measurement.vantage)),
                           TextTable.Cell("unavailable (see notes)", .warning)])
                continue
            }
            table.add([
                label(measurement), vantage(measurement.vantage), String(cycles.min), String(cycles.p50), String(cycles.p90),
                String(cycles.p99), String(cycles.max), "+" + Formatting.fixed(cycles.upperSpread * 100, 1) + "%",
                String(ns.p50), measurement.loop.map { int($0.cyclesPerIteration) } ?? "-",
                shape(measurement.histogram),
            ])
        }
        return table.render(style: style)
    }

    static func sideBySide(_ runs: [ProbeRun], style: TerminalStyle) -> String {
        var columns: [(String, TextTable.Alignment)] = [("kind", .left), ("timed at", .left)]
        for run in runs {
            columns += [("p50 " + run.label, .right), ("p99", .right), ("max", .right), ("spread", .right)]
        }
        var table = TextTable(columns)
        for measurement in runs[0].measurements where measurement.status == .measured {
            var row = [label(measurement), vantage(measurement.vantage)]
            for run in runs {
                if let cycles = run.measurement(measurement.kind, measurement.vantage)?.cycles {
                    row += [String(cycles.p50), String(cycles.p99), String(cycles.max),
                            "+" + Formatting.fixed(cycles.upperSpread * 100, 1) + "%"]
                } else {
                    row += ["-", "-", "-", "-"]
                }
            }
            table.add(row)
        }
        return style.apply(.heading, "Placement side by side") + " (cycles)\n" + table.render(style: style) + "\n"
    }

    static func comparisons(_ comparisons: [PublishedComparison], style: TerminalStyle) -> String {
        var table = TextTable([("kind", .left), ("published", .left), ("cycles", .right), ("CPU; source", .left),
                               ("here p50", .right), ("ratio", .right)])
        for comparison in comparisons {
            let published = comparison.published
            let range = published.lowCycles == published.highCycles ? int(published.lowCycles)
                : int(published.lowCycles) + "-" + int(published.highCycles)
            table.add([comparison.kind.rawValue, published.measured, range, "\(published.cpu); \(published.source)",
                       int(comparison.measuredP50Cycles), Formatting.fixed(comparison.ratio, 1) + "x"])
        }
        return style.apply(.heading, "Published figures vs this host") + "\n" + table.render(style: style) + "\n"
    }

    static func ratios(_ run: ProbeRun) -> String {
        guard let native = run.measurement(.hostCPUID, .host)?.cycles.map({ Double($0.p50) }), native > 0 else { return "" }
        let syscall = run.measurement(.hostNullSyscall, .host)?.cycles.map { Double($0.p50) }
        var out = "Exit cost vs the host's native operations (p50)\n"
        let exits: [(ProbeKind, ProbeVantage)] = [(.cpuid, .insideGuest), (.hypercall, .insideGuest),
                                                   (.portIO, .aroundKVMRun), (.mmio, .aroundKVMRun), (.hlt, .aroundKVMRun)]
        for (kind, vantage) in exits {
            guard let measurement = run.measurement(kind, vantage), let p50 = measurement.cycles.map({ Double($0.p50) })
            else { continue }
            var line = "  an exit by \(label(measurement)) costs \(int(p50)) cycles = "
                + Formatting.fixed(p50 / native, 1) + "x a native CPUID"
            if let syscall, syscall > 0 { line += ", " + Formatting.fixed(p50 / syscall, 1) + "x a null syscall" }
            out += line + "\n"
        }
        return out + "\n"
    }

    static func histogram(_ bins: [LatencyHistogramBin]) -> String {
        let peak = max(bins.map(\.count).max() ?? 1, 1)
        var table = TextTable([("from", .right), ("to", .right), ("count", .right), ("", .left)])
        for bin in bins where bin.count > 0 {
            let width = max(1, Int((Double(bin.count) / Double(peak) * 40).rounded()))
            table.add([int(bin.lowerCycles), int(bin.upperCycles), String(bin.count), String(repeating: "#", count: width)])
        }
        return table.render(style: TerminalStyle(colour: false), indent: "    ") + "\n"
    }

    /// One character per log bin: the distribution's outline (cluster, tail) at a glance.
    static func shape(_ bins: [LatencyHistogramBin]) -> String {
        let levels: [Character] = [" ", "\u{2581}", "\u{2582}", "\u{2583}", "\u{2584}", "\u{2585}", "\u{2586}", "\u{2587}", "\u{2588}"]
        let peak = Double(bins.map(\.count).max() ?? 0)
        guard peak > 0 else { return "" }
        // Square-root scale, so that a tail of a few samples stays visible next to the cluster.
        return String(bins.prefix(48).map { bin in
            bin.count == 0 ? levels[0] : levels[max(1, Int((Double(bin.count) / peak).squareRoot() * 8))]
        })
    }

    static func label(_ measurement: ExitCostMeasurement) -> String {
        switch measurement.kind {
        case .timerOverhead: "timer overhead"
        case .guestInstructions: "guest code (4 adds)"
        case .cpuid: "cpuid"
        case .hypercall: "hypercall (" + (measurement.timedCode.contains("vmmcall") ? "vmmcall" : "vmcall") + ")"
        case .portIO: "port I/O (out)"
        case .mmio: "MMIO write"
        case .hlt: "hlt"
        case .hostCPUID: "host cpuid"
        case .hostNullSyscall: "host null syscall"
        }
    }

    static func vantage(_ vantage: ProbeVantage) -> String {
        switch vantage {
        case .insideGuest: "guest"
        case .aroundKVMRun: "KVM_RUN"
        case .host: "host"
        }
    }

    static func field(_ name: String, _ value: String) -> String {
        name + String(repeating: " ", count: max(1, 10 - name.count)) + value + "\n"
    }

    static func int(_ value: Double) -> String { Formatting.fixed(value, 0) }
}
