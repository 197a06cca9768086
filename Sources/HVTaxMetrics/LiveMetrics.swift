import HVTaxModel

/// Turns the live view's intervals into metric families. The live view measures deltas, so the
/// counters here are running totals of those deltas since this value first saw each VM; a VM that
/// goes away takes its series with it, and one that comes back starts again from zero (Prometheus'
/// `rate()` treats that as a counter reset). Gauges are the last interval's figures.
///
/// A value type: the exporter keeps one, feeds it every snapshot and publishes the families.
public struct LiveMetrics: Sendable {
    /// Running totals, by series key, each with the last interval that had the series.
    private var totals: [SeriesKey: Total] = [:]
    private var samplesSeen = 0

    private struct Total {
        var value: Double
        var interval: Int
    }

    private struct SeriesKey: Hashable {
        var family: String
        var labels: [String]
    }

    public init() {}

    /// Adds the interval's deltas to the totals and returns every family for this interval. The
    /// accounting validation of the same interval (`AccountingValidator`, as `hvtax validate`
    /// computes it) gives the discrepancy ratios; without it there are none.
    public mutating func add(_ snapshot: HostSnapshot, validation: AccountingValidation? = nil) -> [MetricFamily] {
        samplesSeen += 1
        let intervalNs = snapshot.intervalNs
        let names = Self.vmLabels(snapshot.vms)
        var present = 0
        /// Carries a counter forward; series the interval does not have are dropped at its end.
        /// Updated in place: one hash of the key per series (a new table each interval hashed every
        /// key twice and was most of this function at 800 vCPUs).
        func count(_ d: MetricDescriptor, _ labels: [String], _ delta: Double) -> MetricSample {
            let key = SeriesKey(family: d.name, labels: labels)
            let value: Double
            if let index = totals.index(forKey: key) {
                let total = totals.values[index]
                // Twice in one interval (never on a sane host: labels are unique) adds up.
                if total.interval != samplesSeen { present += 1 }
                value = total.value + delta
                totals.values[index] = Total(value: value, interval: samplesSeen)
            } else {
                value = delta
                totals[key] = Total(value: value, interval: samplesSeen)
                present += 1
            }
            return MetricSample(labels, value)
        }
        typealias C = MetricCatalogue
        var f: [String: [MetricSample]] = [:]
        func add(_ d: MetricDescriptor, _ sample: MetricSample) { f[d.name, default: []].append(sample) }

        for (vm, name) in zip(snapshot.vms, names) {
            add(C.vm, MetricSample([name, String(vm.pid), vm.kind.rawValue, vm.uuid ?? ""], 1))
            add(C.vmVCPUs, MetricSample([name], Double(vm.vcpus.count)))
            for vcpu in vm.vcpus {
                let id = vcpu.vcpu >= 0 ? String(vcpu.vcpu) : "tid-\(vcpu.tid)"
                let split = VCPUStateSplit(vcpu, intervalNs: intervalNs)
                for (state, ns) in split.byState { add(C.vcpuSeconds, count(C.vcpuSeconds, [name, id, state], ns / 1e9)) }
                add(C.vcpuOnCPU, MetricSample([name, id], vcpu.onCPU))
                if let steal = vcpu.steal.ratio { add(C.vcpuSteal, MetricSample([name, id], steal)) }
                add(C.vcpuContextSwitches, count(C.vcpuContextSwitches, [name, id, "voluntary"], Double(vcpu.voluntarySwitches)))
                add(C.vcpuContextSwitches, count(C.vcpuContextSwitches, [name, id, "involuntary"], Double(vcpu.involuntarySwitches)))
                if let migrations = vcpu.migrations { add(C.vcpuMigrations, count(C.vcpuMigrations, [name, id], Double(migrations))) }
            }
            for (role, group) in [("emulator", vm.emulator), ("io", vm.io), ("vhost", vm.vhost)] {
                add(C.vmVMMThreadSeconds, count(C.vmVMMThreadSeconds, [name, role], Double(group.onCPUNs) / 1e9))
            }
            if let tax = VCPUStateSplit.tax(of: vm, intervalNs: intervalNs).ratio { add(C.vmTax, MetricSample([name], tax)) }
            if let overhead = vm.vmmOverhead.ratio { add(C.vmVMMOverhead, MetricSample([name], overhead)) }
            if let steal = vm.steal.ratio { add(C.vmSteal, MetricSample([name], steal)) }
            if let cgroup = vm.cgroup {
                add(C.vmCgroupUsage, count(C.vmCgroupUsage, [name], Double(cgroup.usageNs) / 1e9))
                add(C.vmCgroupCPU, count(C.vmCgroupCPU, [name, "user"], Double(cgroup.userNs) / 1e9))
                add(C.vmCgroupCPU, count(C.vmCgroupCPU, [name, "system"], Double(cgroup.systemNs) / 1e9))
            }
            // KVM debugfs's counters by kind overlap (insn_emulation, hypercalls) and do not cover
            // every exit: from debugfs only the total is exposed, as reason="all".
            if !vm.exitReasons.isEmpty && snapshot.exitRates.kind != .debugfs {
                // A tracepoint counted both in total and by reason (kvm_userspace_exit and
                // kvm_userspace_exit:IO) is exposed by reason only, so that sum() over reasons counts
                // each exit once.
                let split = Set(vm.exitReasons.compactMap { rate in rate.reason.firstIndex(of: ":").map { String(rate.reason[..<$0]) } })
                for reason in vm.exitReasons where !split.contains(reason.reason) {
                    add(C.vmExits, count(C.vmExits, [name, reason.reason], Double(reason.count)))
                }
            } else if let perSecond = vm.exitsPerSecond {
                add(C.vmExits, count(C.vmExits, [name, "all"], (perSecond * Double(intervalNs) / 1e9).rounded()))
            }
        }
        if let validation {
            // The validation names VMs by name; map them to this exposition's (unique) labels by pid.
            let labelByPID = Dictionary(zip(snapshot.vms.map(\.pid), names), uniquingKeysWith: { a, _ in a })
            var seen = Set<[String]>()
            for comparison in validation.host {
                guard let ratio = comparison.discrepancyRatio else { continue }
                let labels = ["", comparison.source.rawValue, comparison.reference.rawValue]
                if seen.insert(labels).inserted { add(C.accountingDiscrepancy, MetricSample(labels, ratio)) }
            }
            for vm in validation.vms {
                guard let label = labelByPID[vm.pid] else { continue }
                for comparison in vm.comparisons {
                    guard let ratio = comparison.discrepancyRatio else { continue }
                    let labels = [label, comparison.source.rawValue, comparison.reference.rawValue]
                    if seen.insert(labels).inserted { add(C.accountingDiscrepancy, MetricSample(labels, ratio)) }
                }
            }
        }

        if let host = snapshot.hostCPUs.first(where: { $0.cpu == nil }) {
            for (mode, share) in [("user", host.user), ("system", host.system), ("idle", host.idle), ("iowait", host.iowait),
                                  ("irq", host.irq), ("softirq", host.softirq), ("steal", host.steal), ("guest", host.guest)] {
                add(C.hostCPU, MetricSample([mode], share))
            }
        }
        add(C.hostInterrupts, count(C.hostInterrupts, [], (snapshot.interrupts.totalPerSecond * Double(intervalNs) / 1e9).rounded()))
        for cause in [InterruptStorm.Cause.aboveBaseline, .onVCPUCPUs] {
            add(C.hostInterruptStorms, MetricSample([cause.rawValue], Double(snapshot.interrupts.storms.filter { $0.cause == cause }.count)))
        }
        var pairs = Set<[String]>()
        for n in snapshot.noisyNeighbours where pairs.insert([n.victim, n.neighbour]).inserted {
            add(C.noisyNeighbour, MetricSample([n.victim, n.neighbour], 1))
        }
        add(C.vms, MetricSample([], Double(snapshot.vms.count)))

        for collector in CollectorStatus.of(snapshot) {
            add(C.collectorUp, MetricSample([collector.name, collector.needsRoot ? "true" : "false"], collector.up ? 1 : 0))
        }
        add(C.samples, count(C.samples, [], 1))
        add(C.sampleInterval, MetricSample([], Double(intervalNs) / 1e9))
        add(C.lastSample, MetricSample([], Double(snapshot.endUnixNs) / 1e9))
        add(C.samplerCPU, count(C.samplerCPU, [], Double(snapshot.sampler.cpuNs) / 1e9))
        add(C.samplerFiles, MetricSample([], Double(snapshot.sampler.filesRead)))

        // A VM, vCPU or reason gone takes its series with it; one that comes back starts from zero.
        if present < totals.count {
            let interval = samplesSeen
            totals = totals.filter { $0.value.interval == interval }
        }
        return C.all.compactMap { d in f[d.name].map { MetricFamily(d, $0) } }
    }

    /// The `vm` label of each VM: its name, made unique with the pid when two VMs share a name, so
    /// no two series collide.
    public static func vmLabels(_ vms: [VMFigures]) -> [String] {
        var seen: [String: Int] = [:]
        for vm in vms { seen[vm.name, default: 0] += 1 }
        return vms.map { seen[$0.name, default: 0] > 1 ? "\($0.name) (pid \($0.pid))" : $0.name }
    }
}
