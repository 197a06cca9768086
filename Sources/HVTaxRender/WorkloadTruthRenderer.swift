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

    /// Parses a truth file's lines back into records (blank lines ignored).
    public static func records(fromJSONLines text: String) throws -> [WorkloadTruthRecord] {
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { line in
            try decoder.decode(WorkloadTruthRecord.self, from: Data(line.utf8))
        }
    }

    /// What the workload is about to do.
    public static func startText(_ start: WorkloadTruthStart) -> String {
        let phases = start.phases.map { "\(percent($0.duty)) for \(seconds($0.durationNs))" }.joined(separator: ", then ")
        let rates = start.exitRatesPerSecond.isEmpty ? "no extra exits"
            : start.exitRatesPerSecond.sorted { $0.key < $1.key }.map { "\($0.key) \(Int($0.value))/s" }
                .joined(separator: ", ")
        let threads = start.vcpus.map { "\($0.threadName) tid \($0.tid)" }.joined(separator: ", ")
        return "hvtax workload: VM guest=\(start.name), pid \(start.pid), \(start.vcpus.count) vCPU(s) [\(threads)]\n"
            + "  period \(seconds(start.periodNs)); \(phases); \(rates) per vCPU; truth every "
            + "\(seconds(start.truthIntervalNs)); TSC \(String(format: "%.3f", start.tscHz / 1e6)) MHz (\(start.tscSource))\n"
    }

    /// Per-vCPU totals at the end.
    public static func endText(_ end: WorkloadTruthEnd) -> String {
        var out = "hvtax workload ended (\(end.reason)); duty = on-CPU time / wall, rq wait = runnable but not running\n"
        out += "  vCPU  tid      wall s   duty    guest s  KVM_RUN s  userspace s  idle s  rq wait s      io     mmio    cpuid"
            + "    hlt  intr\n"
        for vcpu in end.vcpus {
            out += "  " + pad(String(vcpu.vcpu), 5) + pad(String(vcpu.tid), 8) + rpad(secondsNumber(vcpu.wallNs), 7)
                + rpad(percent(vcpu.measuredDuty), 7) + rpad(secondsNumber(vcpu.guestNs), 11)
                + rpad(secondsNumber(vcpu.kvmRunNs), 11) + rpad(secondsNumber(vcpu.userspaceNs), 13)
                + rpad(secondsNumber(vcpu.idleNs), 8) + rpad(secondsNumber(vcpu.runQueueWaitNs), 11)
                + rpad(String(vcpu.exits.io), 8) + rpad(String(vcpu.exits.mmio), 9)
                + rpad(String(vcpu.exits.cpuid), 9) + rpad(String(vcpu.exits.hlt), 7) + rpad(String(vcpu.exits.intr), 6)
                + "\n"
        }
        return out
    }

    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }

    static func secondsNumber(_ ns: UInt64) -> String { String(format: "%.3f", Double(ns) / 1e9) }

    static func seconds(_ ns: UInt64) -> String {
        ns % 60_000_000_000 == 0 && ns >= 60_000_000_000 ? "\(ns / 60_000_000_000)m"
            : ns >= 1_000_000_000 ? String(format: "%gs", Double(ns) / 1e9) : String(format: "%gms", Double(ns) / 1e6)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func rpad(_ text: String, _ width: Int) -> String {
        text.count >= width ? " " + text : String(repeating: " ", count: width - text.count) + text
    }
}
