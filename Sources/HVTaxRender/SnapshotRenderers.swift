import Foundation
import HVTaxModel

/// `hvtax snapshot --format text`: one block per interval, VMs with their vCPUs under them, then
/// what the interval found (storms, noisy neighbours, accounting findings) and the sampler's cost.
public struct SnapshotTextRenderer: Sendable {
    public let style: TerminalStyle

    public init(style: TerminalStyle = TerminalStyle(colour: false)) { self.style = style }

    public func render(_ s: HostSnapshot) -> String {
        var out = style.apply(.heading, "hvtax snapshot #\(s.sequence)") + ": " + Self.headline(s) + "\n"
        if s.vms.isEmpty && s.findings.contains(where: { $0.kind == .filterMatchesNothing }) {
            out += "  no VM selected by --vm (see the finding below)\n"
        } else if s.vms.isEmpty {
            out += "  no VMs found (QEMU, libvirt, Firecracker, Cloud Hypervisor, crosvm, hvtax workload)\n"
        } else {
            var table = TextTable([
                ("VM / vCPU", .left), ("kind", .left), ("pid/tid", .right), ("on-CPU", .right), ("steal", .right),
                ("VMM ovh", .right), ("user", .right), ("system", .right), ("guest", .right), ("invol/s", .right),
                ("migr", .right), ("CPU", .right), ("cgroup usage", .right),
            ])
            let seconds = Double(s.intervalNs) / 1e9
            for vm in s.vms {
                let cgroup = vm.cgroup.map { Formatting.percent(Double($0.usageNs) / Double(s.intervalNs)) } ?? "-"
                table.add([
                    TextTable.Cell(vm.name, .heading), TextTable.Cell(vm.kind.rawValue), TextTable.Cell(String(vm.pid)),
                    TextTable.Cell(Formatting.percent(vm.vcpuOnCPU)), rated(vm.steal), rated(vm.vmmOverhead),
                    TextTable.Cell(""), TextTable.Cell(""), TextTable.Cell(""), TextTable.Cell(""), TextTable.Cell(""),
                    TextTable.Cell(vm.cpus.isEmpty ? "-" : Self.cpuList(vm.cpus)), TextTable.Cell(cgroup),
                ])
                for vcpu in vm.vcpus {
                    table.add([
                        TextTable.Cell("  vCPU \(vcpu.vcpu)"), TextTable.Cell(""), TextTable.Cell(String(vcpu.tid)),
                        TextTable.Cell(Formatting.percent(vcpu.onCPU)), rated(vcpu.steal), TextTable.Cell(""),
                        TextTable.Cell(share(vcpu.userNs, s)), TextTable.Cell(share(vcpu.systemNs, s)),
                        TextTable.Cell(share(vcpu.guestNs, s)),
                        TextTable.Cell(Formatting.fixed(Double(vcpu.involuntarySwitches) / seconds, 0)),
                        TextTable.Cell(vcpu.migrations.map { String($0) } ?? "n/a"), TextTable.Cell(String(vcpu.lastCPU)),
                        TextTable.Cell(""),
                    ])
                }
                if vm.vcpus.isEmpty {
                    table.add([TextTable.Cell("  (no vCPU threads recognised by name)", .dim)])
                }
                for (label, group) in [("emulator", vm.emulator), ("I/O", vm.io), ("vhost", vm.vhost)] where group.threads > 0 {
                    table.add([
                        TextTable.Cell("  \(label) ×\(group.threads)", .dim), TextTable.Cell(""), TextTable.Cell(""),
                        TextTable.Cell(Formatting.percent(Double(group.onCPUNs) / Double(s.intervalNs))),
                        TextTable.Cell(Formatting.percent(Double(group.runDelayNs) / Double(s.intervalNs))),
                    ])
                }
            }
            out += table.render(style: style) + "\n"
        }
        out += "  exit rates: " + (s.exitRates.kind == .none ? style.apply(.warning, s.exitRates.detail) : s.exitRates.detail) + "\n"
        for vm in s.vms where !vm.exitReasons.isEmpty {
            out += "  exits of \(vm.name): " + ExitReasonSummary.line(vm.exitReasons) + "\n"
        }
        for storm in s.interrupts.storms { out += style.apply(.critical, "  interrupt storm: ") + storm.detail + "\n" }
        for noisy in s.noisyNeighbours { out += style.apply(.critical, "  noisy neighbour: ") + noisy.detail + "\n" }
        for finding in s.findings { out += style.apply(.warning, "  finding (\(finding.kind.rawValue)): ") + finding.detail + "\n" }
        if let throttling = s.throttling {
            let tone: TerminalStyle.Tone = throttling.state == .throttled ? .critical : .dim
            out += style.apply(tone, "  throttling: \(throttling.state.rawValue): \(throttling.detail)") + "\n"
        }
        out += style.apply(.dim, "  sampler: \(Formatting.duration(s.sampler.cpuNs, unit: .ns)) CPU for \(s.sampler.filesRead) files, "
            + "\(s.sampler.threadsSampled) threads (\(Formatting.percent(Double(s.sampler.cpuNs) / Double(max(s.intervalNs, 1)), digits: 3)) of a core)") + "\n"
        if let advice = s.advice { out += AdviceTextRenderer(style: style).render(advice) }
        return out
    }

    static func headline(_ s: HostSnapshot) -> String {
        let vcpus = s.vms.reduce(0) { $0 + $1.vcpus.count }
        var parts = ["interval \(Formatting.duration(s.intervalNs, unit: .ns))", "\(Formatting.count(s.vms.count, "VM")), \(Formatting.count(vcpus, "vCPU"))"]
        if let all = s.hostCPUs.first(where: { $0.cpu == nil }) {
            parts.append("host CPU user \(Formatting.percent(all.user)) system \(Formatting.percent(all.system)) "
                + "steal \(Formatting.percent(all.steal)) guest \(Formatting.percent(all.guest)) idle \(Formatting.percent(all.idle))")
        }
        parts.append("interrupts \(Formatting.compact(s.interrupts.totalPerSecond))/s")
        if s.root != "/" { parts.append("host files under \(s.root)") }
        return parts.joined(separator: "; ")
    }

    func rated(_ r: RatedRatio) -> TextTable.Cell {
        let tone: TerminalStyle.Tone =
            switch r.level {
            case .ok: .ok
            case .warning: .warning
            case .critical: .critical
            case .unavailable: .dim
            }
        return TextTable.Cell(Formatting.percent(r.ratio), tone)
    }

    func share(_ ns: UInt64, _ s: HostSnapshot) -> String { Formatting.percent(Double(ns) / Double(max(s.intervalNs, 1))) }

    /// [0, 1, 2, 5] -> `0-2,5`.
    public static func cpuList(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = cpus.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] + 1 { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}

/// `hvtax snapshot --format json`: one compact JSON object per interval and per line (JSON Lines),
/// so a script can read each interval as it comes (`jq -c`, a line-by-line reader); every object
/// carries its schema `hvtax.snapshot/1`.
public struct SnapshotJSONRenderer: Sendable {
    public init() {}

    public func render(_ snapshot: HostSnapshot) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(snapshot), as: UTF8.self) + "\n"
    }
}

/// `hvtax snapshot --format csv`: long form, one figure per row, the header once per run:
///
///     sequence,end_unix_ns,scope,vm,vcpu,tid,metric,value,unit
public struct SnapshotCSVRenderer: Sendable {
    public static let header = "sequence,end_unix_ns,scope,vm,vcpu,tid,metric,value,unit\n"

    public init() {}

    public func render(_ s: HostSnapshot) -> String {
        var out = ""
        func add(_ scope: String, _ vm: String, _ vcpu: String, _ tid: String, _ metric: String, _ value: String, _ unit: String) {
            out += [String(s.sequence), String(s.endUnixNs), scope, vm, vcpu, tid, metric, value, unit]
                .map(TraceReportCSVRenderer.quote).joined(separator: ",") + "\n"
        }
        func ratio(_ r: Double?) -> String { r.map { "\($0)" } ?? "" }
        add("host", "", "", "", "interval", String(s.intervalNs), "ns")
        for cpu in s.hostCPUs {
            let scope = cpu.cpu.map { "cpu\($0)" } ?? "cpu"
            for (metric, value) in [("user", cpu.user), ("system", cpu.system), ("idle", cpu.idle), ("iowait", cpu.iowait),
                                    ("irq", cpu.irq), ("softirq", cpu.softirq), ("steal", cpu.steal), ("guest", cpu.guest)] {
                add(scope, "", "", "", metric, "\(value)", "ratio")
            }
        }
        for vm in s.vms {
            let pid = String(vm.pid)
            add("vm", vm.name, "", pid, "vcpu_on_cpu", "\(vm.vcpuOnCPU)", "cpus")
            add("vm", vm.name, "", pid, "steal", ratio(vm.steal.ratio), "ratio")
            add("vm", vm.name, "", pid, "vmm_overhead", ratio(vm.vmmOverhead.ratio), "ratio")
            add("vm", vm.name, "", pid, "emulator_on_cpu", String(vm.emulator.onCPUNs), "ns")
            add("vm", vm.name, "", pid, "io_on_cpu", String(vm.io.onCPUNs), "ns")
            add("vm", vm.name, "", pid, "vhost_on_cpu", String(vm.vhost.onCPUNs), "ns")
            if let c = vm.cgroup {
                add("vm", vm.name, "", pid, "cgroup_usage", String(c.usageNs), "ns")
                add("vm", vm.name, "", pid, "cgroup_user", String(c.userNs), "ns")
                add("vm", vm.name, "", pid, "cgroup_system", String(c.systemNs), "ns")
            }
            add("vm", vm.name, "", pid, "exits_per_second", vm.exitsPerSecond.map { "\($0)" } ?? "", "1/s")
            for reason in vm.exitReasons {
                add("vm", vm.name, "", pid, "exits_per_second:\(reason.reason)", "\(reason.perSecond)", "1/s")
            }
            for v in vm.vcpus {
                let id = String(v.vcpu)
                let tid = String(v.tid)
                for (metric, value) in [("on_cpu", v.onCPUNs), ("run_delay", v.runDelayNs), ("user", v.userNs),
                                        ("system", v.systemNs), ("guest", v.guestNs)] {
                    add("vcpu", vm.name, id, tid, metric, String(value), "ns")
                }
                add("vcpu", vm.name, id, tid, "steal", ratio(v.steal.ratio), "ratio")
                add("vcpu", vm.name, id, tid, "voluntary_switches", String(v.voluntarySwitches), "count")
                add("vcpu", vm.name, id, tid, "involuntary_switches", String(v.involuntarySwitches), "count")
                add("vcpu", vm.name, id, tid, "migrations", v.migrations.map { String($0) } ?? "", "count")
            }
        }
        for irq in s.interrupts.top { add("irq", "", "", "", "irq_\(irq.irq)_rate", "\(irq.perSecond)", "1/s") }
        add("host", "", "", "", "sampler_cpu", String(s.sampler.cpuNs), "ns")
        return out
    }
}

/// Exit reasons in one line, busiest first, the per-reason splits of a tracepoint after it:
/// `kvm_emulate_insn 435k/s, kvm_userspace_exit 2.4k/s (IO 2.0k/s, MMIO 402/s, HLT 19/s), kvm_pio 2.0k/s`.
public enum ExitReasonSummary {
    public static func line(_ reasons: [ExitReasonRate], limit: Int = 8) -> String {
        let whole = reasons.filter { !$0.reason.contains(":") && $0.count > 0 }
        guard !whole.isEmpty else { return "none in this interval" }
        return whole.prefix(limit).map { reason in
            let parts = splits(of: reason.reason, in: reasons)
            let split = parts.isEmpty ? "" : " (" + parts.map { "\($0.name) \(rate($0.perSecond))" }.joined(separator: ", ") + ")"
            return "\(reason.reason) \(rate(reason.perSecond))\(split)"
        }.joined(separator: ", ") + (whole.count > limit ? ", +\(whole.count - limit) more" : "")
    }

    /// The non-zero per-reason counters of one tracepoint (`kvm_exit:HLT` under `kvm_exit`), busiest first.
    public static func splits(of event: String, in reasons: [ExitReasonRate]) -> [(name: String, perSecond: Double)] {
        reasons.filter { $0.reason.hasPrefix(event + ":") && $0.count > 0 }
            .sorted { $0.perSecond > $1.perSecond }
            .map { (String($0.reason.dropFirst(event.count + 1)), $0.perSecond) }
    }

    public static func rate(_ perSecond: Double) -> String { Formatting.compact(perSecond) + "/s" }
}
