import Foundation
import HVTaxModel

/// Renders the workload's truth records: one JSON object per line, and a short text summary.
public enum WorkloadTruthRenderer {
    /// One record as a single line of JSON (keys sorted, no newline inside), newline-terminated.
    public static func jsonLine(_ record: WorkloadTruthRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(record), as: UTF8.self) + "\n"
    }

    /// Parses a truth file's lines back into records (blank lines ignored); an error names the line.
    public static func records(fromJSONLines text: String) throws(JSONInputError) -> [WorkloadTruthRecord] {
        try JSONInput.decodeLines(WorkloadTruthRecord.self, from: Data(text.utf8))
    }

    /// What the workload is about to do.
    public static func startText(_ start: WorkloadTruthStart) -> String {
        let phases = start.phases.map { Formatting.percent($0.duty) + " for " + seconds($0.durationNs) }
            .joined(separator: ", then ")
        let rates = start.exitRatesPerSecond.isEmpty ? "no extra exits"
            : start.exitRatesPerSecond.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))/s" }
                .joined(separator: ", ")
        let threads = start.vcpus.map { "\($0.threadName) tid \($0.tid)" }.joined(separator: ", ")
        return "hvtax workload: VM guest=\(start.name), pid \(start.pid), \(start.vcpus.count) vCPU(s) [\(threads)]\n"
            + "  period \(seconds(start.periodNs)); \(phases); \(rates) per vCPU; truth every "
            + "\(seconds(start.truthIntervalNs)); TSC \(Formatting.fixed(start.tscHz / 1e6, 3)) MHz (\(start.tscSource))\n"
    }

    /// Per-vCPU totals at the end.
    public static func endText(_ end: WorkloadTruthEnd, style: TerminalStyle = TerminalStyle(colour: false)) -> String {
        var table = TextTable([
            ("vCPU", .left), ("tid", .right), ("wall s", .right), ("duty", .right), ("guest s", .right),
            ("KVM_RUN s", .right), ("userspace s", .right), ("idle s", .right), ("rq wait s", .right), ("io", .right),
            ("mmio", .right), ("cpuid", .right), ("hlt", .right), ("intr", .right),
        ])
        for vcpu in end.vcpus {
            table.add([
                String(vcpu.vcpu), String(vcpu.tid), seconds3(vcpu.wallNs), Formatting.percent(vcpu.measuredDuty),
                seconds3(vcpu.guestNs), seconds3(vcpu.kvmRunNs), seconds3(vcpu.userspaceNs), seconds3(vcpu.idleNs),
                seconds3(vcpu.runQueueWaitNs), String(vcpu.exits.io), String(vcpu.exits.mmio), String(vcpu.exits.cpuid),
                String(vcpu.exits.hlt), String(vcpu.exits.intr),
            ])
        }
        return "hvtax workload ended (\(end.reason)); duty = on-CPU time / wall, rq wait = runnable but not running\n"
            + table.render(style: style) + "\n"
    }

    static func seconds3(_ ns: UInt64) -> String { Formatting.fixed(Double(ns) / 1e9, 3) }

    /// 100ms, 1s, 2.5s, 3m: the way the arguments were written.
    static func seconds(_ ns: UInt64) -> String {
        if ns >= 60_000_000_000 && ns % 60_000_000_000 == 0 { return "\(ns / 60_000_000_000)m" }
        if ns >= 1_000_000_000 { return trimmed(Double(ns) / 1e9) + "s" }
        return trimmed(Double(ns) / 1e6) + "ms"
    }

    static func trimmed(_ value: Double) -> String {
        var text = Formatting.fixed(value, 3)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}
