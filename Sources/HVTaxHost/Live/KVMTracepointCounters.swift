import CKVM
import HVTaxModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One counter: a kvm tracepoint, optionally narrowed by a filter on one of its fields, as kvm_stat
/// does (`kvm_exit` per `exit_reason`, `kvm_userspace_exit` per `reason`).
public struct ExitCounterSpec: Sendable, Equatable {
    /// What it is called in the model and on screen: `kvm_pio`, `kvm_userspace_exit:IO`, `kvm_exit:HLT`.
    public var label: String
    /// The tracepoint under events/kvm/.
    public var event: String
    public var filter: String?

    public init(label: String, event: String, filter: String? = nil) {
        self.label = label
        self.event = event
        self.filter = filter
    }
}

/// Which counters to open on a host: every exit-related kvm tracepoint that exists, `kvm_exit`
/// split by reason only where it fires (VT-x and AMD-V; the paravirtual backend bypasses it), and
/// `kvm_userspace_exit` in total and by KVM_EXIT_* reason.
public enum ExitCounterPlan {
    public static let userspaceExitName = "kvm_userspace_exit"

    /// Events counted whole: exits the VMM sees and the in-kernel work behind exits.
    static let plainEvents = [
        "kvm_userspace_exit", "kvm_pio", "kvm_mmio", "kvm_fast_mmio", "kvm_cpuid", "kvm_msr", "kvm_hypercall",
        "kvm_emulate_insn", "kvm_page_fault", "kvm_inj_virq", "kvm_halt_poll_ns", "kvm_exit",
    ]

    /// KVM_EXIT_* values of <linux/kvm.h> worth splitting (the kvm_userspace_exit format lists them all).
    static let userspaceReasons: [(UInt32, String)] = [
        (2, "IO"), (5, "HLT"), (6, "MMIO"), (8, "SHUTDOWN"), (10, "INTR"), (17, "INTERNAL_ERROR"), (24, "SYSTEM_EVENT"),
    ]

    public static func specs(backend: KVMBackend, exists: (String) -> Bool) -> (specs: [ExitCounterSpec], skipped: [String]) {
        var out: [ExitCounterSpec] = []
        var skipped: [String] = []
        for event in plainEvents {
            guard exists(event) else {
                skipped.append("\(event) (no such tracepoint)")
                continue
            }
            if event == "kvm_exit" {
                let table: [UInt32: String]
                switch backend {
                case .intelVMX: table = ExitReasonTable.vmx
                case .amdSVM: table = ExitReasonTable.svm
                case .paravirtual(let module):
                    skipped.append("kvm_exit (does not fire: the paravirtual KVM \(module) bypasses it)")
                    continue
                case .none:
                    skipped.append("kvm_exit (no KVM backend)")
                    continue
                }
                out.append(ExitCounterSpec(label: "kvm_exit", event: event))
                for (code, name) in table.sorted(by: { $0.key < $1.key }) {
                    out.append(ExitCounterSpec(label: "kvm_exit:\(name)", event: event, filter: "exit_reason == \(code)"))
                }
                continue
            }
            out.append(ExitCounterSpec(label: event, event: event))
            if event == userspaceExitName {
                for (code, name) in userspaceReasons {
                    out.append(ExitCounterSpec(label: "\(event):\(name)", event: event, filter: "reason == \(code)"))
                }
            }
        }
        return (out, skipped)
    }
}

/// Counts kvm tracepoints per VM through perf_event_open in counting mode: one counter per spec and
/// vCPU thread, no ring buffer, nothing to drain. A thread's counters form one perf group, so a
/// sample costs one read(2) per vCPU thread however many reasons are counted. The kernel adds to a
/// counter only while its thread runs, so grouping a VM's vCPU threads groups its exits.
///
/// Not Sendable: the counters belong to the sampling loop. Closing (deinit, or `close()`) releases
/// every fd; nothing on the host is changed, so nothing else needs restoring.
public final class KVMTracepointCounters {
    public let specs: [ExitCounterSpec]
    /// Tracepoints not counted and why.
    public let skipped: [String]
    private let ids: [String: UInt64]

    /// A vCPU thread's group: its fds in opening order and, for each, the spec it counts.
    private struct Group {
        var leader: Int32
        var fds: [Int32]
        var specIndex: [Int]
        var pid: Int32
    }

    private var groups: [Int32: Group] = [:]
    /// Counts of threads that went away, kept so a VM's totals never go backwards.
    private var retired: [Int32: [String: UInt64]] = [:]
    private var values = [UInt64](repeating: 0, count: 256)
    public private(set) var openErrors: [String] = []

    /// Reads the tracepoint ids under `tracefs/events/kvm`. Fails when tracefs or the kvm events are
    /// missing, or when a first counter cannot be opened (not root and perf_event_paranoid too high).
    public init(fs: HostFileSystem, tracefs: Tracefs, backend: KVMBackend) throws(HostError) {
        var ids: [String: UInt64] = [:]
        let (specs, skipped) = ExitCounterPlan.specs(backend: backend) { event in
            tracefs.hasEvent(system: "kvm", name: event)
        }
        guard !specs.isEmpty else { throw HostError(.list, tracefs.file("events/kvm"), reason: "no kvm exit tracepoints") }
        for event in Set(specs.map(\.event)) {
            let path = tracefs.file("events/kvm/\(event)/id")
            let text = try fs.readValue(path)
            guard let id = UInt64(text) else { throw HostError(.parse, path, reason: "expected a tracepoint id, got \(text)") }
            ids[event] = id
        }
        // One counter on this very thread tells at once whether tracepoint counting is allowed.
        let probe = ckvm_perf_tracepoint_open(ids[specs[0].event]!, 0, -1)
        guard probe >= 0 else {
            throw HostError(.open, "perf_event_open(kvm:\(specs[0].event))", errno: errno,
                            reason: "tracepoint counters need root (CAP_PERFMON) or kernel.perf_event_paranoid <= -1")
        }
        Glibc.close(probe)
        self.specs = Array(specs.prefix(values.count))
        self.skipped = skipped
        self.ids = ids
    }

    deinit { close() }

    public func close() {
        for group in groups.values { for fd in group.fds { Glibc.close(fd) } }
        groups = [:]
    }

    /// Opens counters on vCPU threads not yet counted and retires those of threads that are gone.
    public func track(_ vms: [DiscoveredVM]) {
        var wanted: [Int32: Int32] = [:]
        for vm in vms {
            for thread in vm.threads where thread.role == .vcpu { wanted[thread.tid] = vm.pid }
        }
        for (tid, group) in groups where wanted[tid] == nil || wanted[tid] != group.pid {
            add(group, into: &retired)
            for fd in group.fds { Glibc.close(fd) }
            groups[tid] = nil
        }
        let alive = Set(wanted.values)
        retired = retired.filter { alive.contains($0.key) }
        for (tid, pid) in wanted where groups[tid] == nil {
            if let group = open(tid: tid, pid: pid) { groups[tid] = group }
        }
        if openErrors.count > 100 { openErrors.removeFirst(openErrors.count - 100) }
    }

    private func open(tid: Int32, pid: Int32) -> Group? {
        var group = Group(leader: -1, fds: [], specIndex: [], pid: pid)
        for (index, spec) in specs.enumerated() {
            let fd = ckvm_perf_tracepoint_open(ids[spec.event]!, tid, group.leader)
            guard fd >= 0 else {
                // The thread ended between discovery and now: nothing to count.
                if errno == ESRCH { break }
                openErrors.append("\(spec.label) on tid \(tid): \(HostError.describe(errno: errno))")
                continue
            }
            if let filter = spec.filter, ckvm_perf_set_filter(fd, filter) != 0 {
                openErrors.append("\(spec.label) filter \"\(filter)\": \(HostError.describe(errno: errno))")
                Glibc.close(fd)
                continue
            }
            if group.leader < 0 { group.leader = fd }
            group.fds.append(fd)
            group.specIndex.append(index)
        }
        guard group.leader >= 0 else {
            for fd in group.fds { Glibc.close(fd) }
            return nil
        }
        _ = ckvm_perf_enable_group(group.leader)
        return group
    }

    /// One VM's counts by the place of their spec in `specs`, and which places any counter fills.
    private struct Totals {
        var counts: [UInt64]
        var counted: [Bool]
        init(specs: Int) {
            counts = [UInt64](repeating: 0, count: specs)
            counted = [Bool](repeating: false, count: specs)
        }
    }

    /// Adds a group's counts at their specs' places; false when the group could not be read.
    @discardableResult
    private func add(_ group: Group, into totals: inout Totals) -> Bool {
        let n = values.withUnsafeMutableBufferPointer { ckvm_perf_read_group(group.leader, $0.baseAddress, Int32($0.count)) }
        guard n > 0 else { return false }
        for i in 0..<min(Int(n), group.specIndex.count) {
            totals.counts[group.specIndex[i]] &+= values[i]
            totals.counted[group.specIndex[i]] = true
        }
        return true
    }

    private func add(_ group: Group, into out: inout [Int32: [String: UInt64]]) {
        var totals = Totals(specs: specs.count)
        guard add(group, into: &totals) else { return }
        out[group.pid] = labelled(totals, onto: out[group.pid] ?? [:])
    }

    private func labelled(_ totals: Totals, onto base: [String: UInt64]) -> [String: UInt64] {
        var byLabel = base
        for (index, spec) in specs.enumerated() where totals.counted[index] {
            byLabel[spec.label, default: 0] &+= totals.counts[index]
        }
        return byLabel
    }

    /// Cumulative counts per VM pid and label. Summed per VM by the spec's place first and labelled
    /// once per VM: a String-keyed update for each counter (18 per vCPU thread here) was a tenth of
    /// a sample on a host of 100 VMs x 8 vCPUs (scripts/bench/live-sampler-real.sh).
    public func read() -> [Int32: [String: UInt64]] {
        var perVM: [Int32: Totals] = [:]
        let empty = Totals(specs: specs.count)
        for group in groups.values { add(group, into: &perVM[group.pid, default: empty]) }
        var out = retired
        for (pid, totals) in perVM where totals.counted.contains(true) { out[pid] = labelled(totals, onto: out[pid] ?? [:]) }
        return out
    }

    public var countedThreads: Int { groups.count }
    public var counterCount: Int { groups.values.reduce(0) { $0 + $1.fds.count } }
}
