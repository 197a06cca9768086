#if canImport(Glibc)
import Glibc
#endif

/// Which tracepoints a recording enables: a named preset or a list of `system:event` (`system:*`
/// for a whole system).
public struct EventSelection: Sendable, Equatable {
    public var events: [String]

    public init(events: [String]) {
        self.events = events
    }

    public static let presets: [String: [String]] = [
        // What the hvtax analysis uses (kvm_pio, kvm_mmio and kvm_fast_mmio give the port and MMIO
        // table; the fast one is how virtio doorbells exit on VMX), plus the kvm events that tell why
        // an exit went to userspace.
        "default": [
            "kvm:kvm_exit", "kvm:kvm_entry", "kvm:kvm_userspace_exit", "kvm:kvm_pio", "kvm:kvm_mmio",
            "kvm:kvm_fast_mmio", "kvm:kvm_msr", "kvm:kvm_vcpu_wakeup", "kvm:kvm_inj_virq",
            "sched:sched_switch", "sched:sched_wakeup", "irq:irq_handler_entry", "irq:irq_handler_exit",
        ],
        // The fewest events the time split needs: for busy hosts that lose events.
        "minimal": ["kvm:kvm_exit", "kvm:kvm_entry", "kvm:kvm_userspace_exit", "sched:sched_switch"],
        // Every kvm tracepoint, for digging into one exit reason.
        "all-kvm": ["kvm:*", "sched:sched_switch", "sched:sched_wakeup", "irq:irq_handler_entry", "irq:irq_handler_exit"],
    ]

    /// `default`, `minimal`, `all-kvm`, or a comma-separated list (`kvm:kvm_exit,sched:sched_switch`).
    public static func parse(_ text: String) -> EventSelection? {
        if let preset = presets[text] { return EventSelection(events: preset) }
        let items = text.split(separator: ",").map { String($0).trimmingSpaces() }.filter { !$0.isEmpty }
        guard !items.isEmpty, items.allSatisfy({ $0.split(separator: ":").count == 2 }) else { return nil }
        return EventSelection(events: items)
    }

    /// The selection as `system/event` directories that exist under `eventsDirectory`, and the
    /// names that this kernel does not have.
    public func resolve(eventsDirectory: String) -> (present: [String], missing: [String]) {
        var present: [String] = []
        var missing: [String] = []
        for item in events {
            let parts = item.split(separator: ":").map(String.init)
            let system = parts[0], event = parts[1]
            if event == "*" {
                let names = Tracefs.directoryEntries(eventsDirectory + "/" + system)
                    .filter { Tracefs.exists(eventsDirectory + "/" + system + "/" + $0 + "/format") }
                if names.isEmpty { missing.append(item) }
                for name in names where !present.contains(system + "/" + name) { present.append(system + "/" + name) }
            } else if Tracefs.exists(eventsDirectory + "/" + system + "/" + event + "/format") {
                if !present.contains(system + "/" + event) { present.append(system + "/" + event) }
            } else {
                missing.append(item)
            }
        }
        return (present, missing)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" || s.first == "\n" { s.removeFirst() }
        while s.last == " " || s.last == "\t" || s.last == "\n" { s.removeLast() }
        return String(s)
    }
}

/// Processes and threads, read from /proc: to find a VM by name and to name threads in the file.
public enum ProcessTable {
    /// The thread ids of a process.
    public static func threads(of pid: Int32) -> [Int32] {
        Tracefs.directoryEntries("/proc/\(pid)/task").compactMap { Int32($0) }
    }

    public static func command(of pid: Int32, thread: Int32? = nil) -> String? {
        let path = thread.map { "/proc/\(pid)/task/\($0)/comm" } ?? "/proc/\(pid)/comm"
        guard let text = try? Tracefs.read(path, limit: 256) else { return nil }
        return text.trimmingSpaces()
    }

    public static func arguments(of pid: Int32) -> [String] {
        guard let text = try? Tracefs.read("/proc/\(pid)/cmdline", limit: 1 << 16) else { return [] }
        return text.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
    }

    /// The QEMU process started with `-name NAME` or `-name guest=NAME,...` (as libvirt does).
    public static func vm(named name: String) -> [Int32] {
        Tracefs.directoryEntries("/proc").compactMap { Int32($0) }.filter { pid in
            let args = arguments(of: pid)
            guard let index = args.firstIndex(of: "-name"), index + 1 < args.count else { return false }
            let value = args[index + 1]
            let options = value.split(separator: ",").map(String.init)
            return options.contains(name) || options.contains("guest=" + name)
        }
    }

    /// `pid comm` for every thread alive now: added to the saved command lines so that threads the
    /// kernel's small cmdline cache forgot still have names in the file.
    public static func allThreads() -> [(tid: Int32, pid: Int32, comm: String)] {
        var result: [(tid: Int32, pid: Int32, comm: String)] = []
        for pid in Tracefs.directoryEntries("/proc").compactMap({ Int32($0) }) {
            for tid in threads(of: pid) {
                if let comm = command(of: pid, thread: tid) { result.append((tid, pid, comm)) }
            }
        }
        return result
    }
}
