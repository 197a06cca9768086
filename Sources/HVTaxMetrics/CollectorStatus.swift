import HVTaxModel

/// What each collector of the live view delivered in an interval, and whether running as root
/// would change that. Every /proc and cgroup file the live view reads is world-readable on a
/// default kernel (schedstat, stat, sched, status, cpu.stat: mode 0444), so only the exit counts
/// need root: KVM's debugfs (mode 0700) and kvm tracepoint counting through perf_event_open
/// (root or CAP_PERFMON under the default perf_event_paranoid); a `hidepid` /proc mount would hide other
/// users' VMs, which shows up as fewer VMs, not as a collector down.
public struct CollectorStatus: Sendable, Equatable {
    public var name: String
    public var up: Bool
    public var needsRoot: Bool
    public var detail: String

    public init(name: String, up: Bool, needsRoot: Bool, detail: String) {
        self.name = name
        self.up = up
        self.needsRoot = needsRoot
        self.detail = detail
    }

    public static func of(_ snapshot: HostSnapshot) -> [CollectorStatus] {
        let vcpus = snapshot.vms.flatMap(\.vcpus)
        return [
            CollectorStatus(
                name: "proc_stat", up: !snapshot.hostCPUs.isEmpty, needsRoot: false, detail: "/proc/stat host CPU modes"),
            CollectorStatus(
                name: "schedstat", up: snapshot.vms.isEmpty || snapshot.sampler.threadsSampled > 0, needsRoot: false,
                detail: "/proc/PID/task/TID/schedstat and stat: on-CPU, steal, user/system/guest"),
            CollectorStatus(
                name: "sched", up: vcpus.contains { $0.migrations != nil }, needsRoot: false,
                detail: "/proc/PID/task/TID/sched: migrations (needs CONFIG_SCHED_DEBUG)"),
            CollectorStatus(
                name: "cgroup", up: snapshot.vms.contains { $0.cgroup != nil }, needsRoot: false,
                detail: "VM cgroup cpu.stat / cpuacct (only VMs with a cgroup of their own)"),
            CollectorStatus(name: "interrupts", up: !snapshot.interrupts.top.isEmpty, needsRoot: false, detail: "/proc/interrupts"),
            CollectorStatus(
                name: "kvm_debugfs_exits", up: snapshot.exitRates.kind == .debugfs, needsRoot: true,
                detail: snapshot.exitRates.kind == .debugfs ? snapshot.exitRates.detail : "KVM debugfs per-VM exits (/sys/kernel/debug/kvm, root only)"),
            CollectorStatus(
                name: "kvm_tracepoint_counters", up: snapshot.exitRates.kind == .tracepointCounters, needsRoot: true,
                detail: snapshot.exitRates.kind == .none ? snapshot.exitRates.detail
                    : "kvm tracepoints counted per vCPU thread with perf_event_open (root or CAP_PERFMON)"),
        ]
    }
}
