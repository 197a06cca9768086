import Foundation
import HVTaxModel

/// Renders `hvtax probe`'s report as terminal text or JSON.
public enum ProbeReportRenderer {
    public static func json(_ report: ProbeReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    /// - Parameter histograms: print every measurement's full histogram, not only its one-line shape.
    public static func text(_ report: ProbeReport, histograms: Bool = false) -> String {
        var out = "hvtax probe: what one exit costs on this host\n\n"
        let host = report.host
        var hostLine = "\(host.cpuModel.isEmpty ? host.cpuVendor : host.cpuModel) (\(host.cpuVendor)), Linux "
            + "\(host.kernelRelease), \(host.logicalCPUs) CPUs"
        if host.isItselfAGuest { hostLine += "; itself a guest of \(host.hypervisorSignature ?? "a hypervisor")" }
        out += field("Host", hostLine)
        out += field("KVM", host.kvmModules.isEmpty ? "no kvm modules under /sys/module" : "modules " + host.kvmModules.joined(separator: ", "))
        out += field("World", "\(report.world.kind.rawValue): \(report.world.summary)")
        for line in report.world.evidence { out += field("", "- " + line) }
        out += field("TSC", "\(fixed(report.tsc.hz / 1e6, 3)) MHz, from \(report.tsc.source)")
        out += field("Samples", "\(report.settings.samplesPerKind) timed iterations per kind in \(report.settings.rounds) "
            + "interleaved rounds; kvm-unit-tests loops doubled from 64 until they last \(report.settings.minimumLoopCycles) cycles")
        out += "\n"

        for run in report.runs {
            out += "Run \(run.label): vCPU thread seen on CPU \(run.cpusSeen.map(String.init).joined(separator: ",")), "
                + "\(fixed(Double(run.durationNs) / 1e9, 1)) s\n"
            out += table(run)
            out += "\n"
        }
        if report.runs.count > 1 { out += sideBySide(report.runs) + "\n" }

        out += "KVM statistics during each test (\(report.runs[0].label) run; cumulative counters that moved)\n"
        for measurement in report.runs[0].measurements where !measurement.kvmStatsDelta.isEmpty {
            var line = "  \(label(measurement)) @\(vantage(measurement.vantage)): "
            line += measurement.kvmStatsDelta.sorted { $0.key < $1.key }.map { "\($0.key) +\($0.value)" }
                .joined(separator: ", ")
            if let executed = measurement.guestInstructionsExecuted { line += "  [guest executed \(executed) instructions]" }
            out += line + "\n"
        }
        out += "\n"

        out += ratios(report.runs[0])
        if !report.comparisons.isEmpty {
            out += "Published figures (reference anchors) vs this host's p50\n"
            for comparison in report.comparisons {
                let published = comparison.published
                let range = published.lowCycles == published.highCycles ? "\(Int(published.lowCycles))"
                    : "\(Int(published.lowCycles))-\(Int(published.highCycles))"
                out += "  \(pad(comparison.kind.rawValue, 10)) \(pad(published.measured, 34)) \(pad(range, 10)) cycles "
                    + "[\(published.cpu); \(published.source)]  here \(Int(comparison.measuredP50Cycles)) = "
                    + "\(fixed(comparison.ratio, 1))x\n"
            }
            out += "\n"
        }
        if histograms {
            for run in report.runs {
                out += "Histograms, \(run.label) (cycles, timer overhead subtracted)\n"
                for measurement in run.measurements where !measurement.histogram.isEmpty {
                    out += "  \(label(measurement)) @\(vantage(measurement.vantage))\n"
                    out += histogram(measurement.histogram)
                }
                out += "\n"
            }
        }
        if !report.notes.isEmpty {
            out += "Notes\n"
            for note in report.notes { out += "  - \(note)\n" }
        }
        return out
    }

    // MARK: pieces

    static func table(_ run: ProbeRun) -> String {
        var out = "  " + pad("kind", 22) + pad("timed at", 9) + rpad("min", 9) + rpad("p50", 9) + rpad("p90", 9)
            + rpad("p99", 9) + rpad("max", 10) + rpad("spread", 8) + rpad("p50 ns", 9) + rpad("loop/iter", 11)
            + "  shape (log bins)\n"
        for measurement in run.measurements {
            var line = "  " + pad(label(measurement), 22) + pad(vantage(measurement.vantage), 9)
            if measurement.status == .unavailable {
                out += line + "unavailable (see notes)\n"
                continue
            }
            guard let cycles = measurement.cycles, let ns = measurement.ns else { continue }
            line += rpad(int(cycles.min), 9) + rpad(int(cycles.p50), 9) + rpad(int(cycles.p90), 9)
                + rpad(int(cycles.p99), 9) + rpad(int(cycles.max), 10)
                + rpad("+" + fixed(cycles.upperSpread * 100, 1) + "%", 8) + rpad(fixed(ns.p50, 1), 9)
                + rpad(measurement.loop.map { fixed($0.cyclesPerIteration, 0) } ?? "-", 11)
                + "  " + shape(measurement.histogram)
            out += line + "\n"
        }
        out += "  (cycles of the TSC; the guest's timer overhead is subtracted from the other guest rows and the host's\n"
            + "   from the host rows; spread = (p90-p50)/p50; loop/iter = kvm-unit-tests' raw loop figure)\n"
        return out
    }

    static func sideBySide(_ runs: [ProbeRun]) -> String {
        var out = "Placement side by side (cycles): " + runs.map(\.label).joined(separator: " | ") + "\n"
        out += "  " + pad("kind", 22) + pad("timed at", 9)
        for _ in runs { out += rpad("p50", 9) + rpad("p99", 9) + rpad("max", 10) + rpad("spread", 8) + " |" }
        out += "\n"
        for measurement in runs[0].measurements where measurement.status == .measured {
            var line = "  " + pad(label(measurement), 22) + pad(vantage(measurement.vantage), 9)
            for run in runs {
                if let cycles = run.measurement(measurement.kind, measurement.vantage)?.cycles {
                    line += rpad(int(cycles.p50), 9) + rpad(int(cycles.p99), 9) + rpad(int(cycles.max), 10)
                        + rpad("+" + fixed(cycles.upperSpread * 100, 1) + "%", 8) + " |"
                } else {
                    line += rpad("-", 36) + " |"
                }
            }
            out += line + "\n"
        }
        return out
    }

    static func ratios(_ run: ProbeRun) -> String {
        guard let native = run.measurement(.hostCPUID, .host)?.cycles?.p50, native > 0 else { return "" }
        let syscall = run.measurement(.hostNullSyscall, .host)?.cycles?.p50
        var out = "Exit cost vs the host's native operations (p50)\n"
        let exits: [(ProbeKind, ProbeVantage)] = [(.cpuid, .insideGuest), (.hypercall, .insideGuest),
                                                   (.portIO, .aroundKVMRun), (.mmio, .aroundKVMRun), (.hlt, .aroundKVMRun)]
        for (kind, vantage) in exits {
            guard let measurement = run.measurement(kind, vantage), let p50 = measurement.cycles?.p50 else { continue }
            var line = "  an exit by \(label(measurement)) costs \(int(p50)) cycles = \(fixed(p50 / native, 1))x a native CPUID"
            if let syscall, syscall > 0 { line += ", \(fixed(p50 / syscall, 1))x a null syscall" }
            out += line + "\n"
        }
        return out + "\n"
    }

    static func histogram(_ bins: [LatencyHistogramBin]) -> String {
        let peak = bins.map(\.count).max() ?? 1
        var out = ""
        for bin in bins where bin.count > 0 {
            let width = max(1, Int((Double(bin.count) / Double(max(peak, 1)) * 40).rounded()))
            out += "    [" + rpad(int(bin.lowerCycles), 9) + ", " + rpad(int(bin.upperCycles), 9) + ") "
                + rpad(String(bin.count), 7) + " " + String(repeating: "#", count: width) + "\n"
        }
        return out
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

    static func field(_ name: String, _ value: String) -> String { pad(name, 10) + value + "\n" }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func rpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }

    static func int(_ value: Double) -> String { String(Int(value.rounded())) }

    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}
