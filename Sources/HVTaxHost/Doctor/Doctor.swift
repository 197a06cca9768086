import HVTaxModel

/// `hvtax doctor`: checks what capture and measurement need on a host and says, per check, pass,
/// warn, fail or info with a one-line remedy. It never throws: a file it cannot read is itself a
/// finding, reported in the check that needed it.
public struct Doctor: Sendable {
    public let host: HostEnvironment

    public init(host: HostEnvironment) { self.host = host }

    /// One entry per check, in the order they print: KVM itself, then tracing, then the scheduler
    /// and memory settings that shape the figures, then the host's own situation. Adding a check is
    /// adding a row here and its function in the family's file.
    static let checks: [(id: DoctorCheckID, title: String, run: @Sendable (DoctorContext) -> Verdict)] = [
        (.virtualization, "Virtualization", KVMChecks.virtualization),
        (.kvmModules, "KVM modules", KVMChecks.modules),
        (.kvmDevice, "/dev/kvm", KVMChecks.device),
        (.tracefs, "tracefs", TracingChecks.tracefs),
        (.tracepoints, "Tracepoints", TracingChecks.tracepoints),
        (.tracefsInstances, "Tracefs instances", TracingChecks.instances),
        (.debugfs, "debugfs", TracingChecks.debugfs),
        (.perf, "perf", TracingChecks.perf),
        (.schedInfo, "schedstat", SchedulerChecks.schedInfo),
        (.schedStats, "CONFIG_SCHEDSTATS", SchedulerChecks.schedStats),
        (.cpuIsolation, "isolcpus/nohz_full", SchedulerChecks.isolation),
        (.irqbalance, "irqbalance", SchedulerChecks.irqbalance),
        (.hugepages, "Huge pages", HostChecks.hugepages),
        (.cgroups, "cgroups", HostChecks.cgroups),
        (.steal, "Steal", HostChecks.steal),
        (.throttling, "Throttling", HostChecks.throttling),
    ]

    public static var checkIDs: [DoctorCheckID] { checks.map(\.id) }

    public func run() -> DoctorReport {
        let context = DoctorContext(host)
        let results = Self.checks.map { check in
            let verdict = check.run(context)
            return DoctorCheck(
                id: check.id, title: check.title, status: verdict.status, detail: verdict.detail,
                remedy: verdict.remedy, sources: verdict.sources)
        }
        return DoctorReport(host: context.hostDescription, checks: results)
    }
}

/// What one check concluded; the id and title come from the table.
struct Verdict: Sendable {
    var status: DoctorStatus
    var detail: String
    var remedy: String?
    var sources: [String]

    init(_ status: DoctorStatus, _ detail: String, remedy: String? = nil, sources: [String]) {
        self.status = status
        self.detail = detail
        self.remedy = remedy
        self.sources = sources
    }
}
