import HVTaxModel

/// The families a trace analysis gives (`hvtax report`'s `TraceReport`): the vCPU state split,
/// exits by reason and the exit-duration histogram, which the live view cannot measure. Times are
/// converted from the report's clock to seconds.
public enum TraceMetrics {
    public static func families(_ report: TraceReport) -> [MetricFamily] {
        typealias C = MetricCatalogue
        let perSecond = report.clock.ticksPerSecond
        var seconds = MetricFamily(C.vcpuSeconds)
        var exits = MetricFamily(C.vmExits)
        var durations = MetricFamily(C.exitDuration)
        var tax = MetricFamily(C.vmTax)
        var steal = MetricFamily(C.vmSteal)
        var accesses = MetricFamily(C.guestAccesses)
        for vm in report.vms {
            accesses.samples += accessSamples(vm.exits.accesses, label: vm.name)
            for vcpu in vm.vcpus {
                let id = vcpu.vcpu.map(String.init) ?? "tid-\(vcpu.tid)"
                let s = vcpu.split
                for (state, t) in [("guest", s.guest), ("hypervisor", s.hypervisor), ("vmm", s.vmm), ("steal", s.preempted),
                                   ("idle", s.halted), ("unknown", s.unknown)] {
                    seconds.samples.append(MetricSample([vm.name, id, state], Double(t) / perSecond))
                }
            }
            for reason in vm.exits.byReason.sorted(by: { $0.reason < $1.reason }) {
                exits.samples.append(MetricSample([vm.name, reason.reason], Double(reason.count)))
            }
            if let histogram = histogram(vm.exits.latency, ticksPerSecond: perSecond) {
                durations.samples.append(MetricSample([vm.name], histogram))
            }
            if let ratio = vm.tax.ratio { tax.samples.append(MetricSample([vm.name], ratio)) }
            if let ratio = vm.steal.ratio { steal.samples.append(MetricSample([vm.name], ratio)) }
        }
        return [seconds, exits, durations, tax, steal, accesses].filter { !$0.samples.isEmpty }
    }

    /// Addresses kept per VM: a guest that walks many MMIO addresses must not explode the series.
    public static let accessesPerVM = 32

    /// A VM's busiest addresses, each split by the path its accesses took.
    static func accessSamples(_ accesses: [DeviceAccessStats]?, label: String) -> [MetricSample] {
        let busiest = (accesses ?? []).sorted { ($0.count, $1.key) > ($1.count, $0.key) }.prefix(accessesPerVM)
        return busiest.sorted { $0.key < $1.key }.flatMap { access -> [MetricSample] in
            let labels = { (path: String) in [label, access.key, access.device ?? "", path] }
            guard let vmm = access.throughVMM else { return [MetricSample(labels("unknown"), Double(access.count))] }
            return [MetricSample(labels("vmm"), Double(vmm)), MetricSample(labels("kernel"), Double(access.count - vmm))]
        }
    }

    /// The report's power-of-two latency buckets as a cumulative histogram: bucket i holds
    /// [2^i, 2^(i+1)) clock units (bucket 0 also 0), so its upper bound is 2^(i+1) units.
    public static func histogram(_ latency: LatencySummary, ticksPerSecond: Double) -> MetricValue? {
        guard latency.count > 0, !latency.log2Buckets.isEmpty else { return nil }
        var cumulative: UInt64 = 0
        var buckets: [(upperBound: Double, cumulativeCount: UInt64)] = []
        for (i, n) in latency.log2Buckets.enumerated() {
            cumulative += n
            buckets.append((Double(UInt64(1) << UInt64(min(i + 1, 63))) / ticksPerSecond, cumulative))
        }
        return .histogram(buckets: buckets, sum: latency.mean * Double(latency.count) / ticksPerSecond, count: latency.count)
    }
}

extension TraceMetrics {
    /// What `hvtax serve`'s tracing collector adds to the live view from its running trace
    /// analysis (a cumulative report since the collector started): the exit-duration histogram per
    /// VM, exits by reason for VMs the live view has no exit counts for (a VM is never counted
    /// twice), and the events decoded by tracepoint. VMs are labelled as the live view labels them
    /// (`vmLabels`: process id -> label); a traced VM the live view does not know keeps the trace's
    /// name (`pid-N` or its task name).
    public static func collectorFamilies(_ report: TraceReport, vmLabels: [Int32: String],
                                         liveExitLabels: Set<String>) -> [MetricFamily] {
        typealias C = MetricCatalogue
        let perSecond = report.clock.ticksPerSecond
        var durations = MetricFamily(C.exitDuration)
        var exits = MetricFamily(C.vmExits)
        var accesses = MetricFamily(C.guestAccesses)
        for vm in report.vms {
            let label = vm.pid.flatMap { vmLabels[$0] } ?? vm.name
            accesses.samples += accessSamples(vm.exits.accesses, label: label)
            if let histogram = histogram(vm.exits.latency, ticksPerSecond: perSecond) {
                durations.samples.append(MetricSample([label], histogram))
            }
            guard !liveExitLabels.contains(label) else { continue }
            for reason in vm.exits.byReason.sorted(by: { $0.reason < $1.reason }) {
                exits.samples.append(MetricSample([label, "kvm_exit:" + reason.reason], Double(reason.count)))
            }
        }
        var events = MetricFamily(C.traceEvents)
        for (event, count) in report.quality.eventsByKind.sorted(by: { $0.key < $1.key }) {
            events.samples.append(MetricSample([event], Double(count)))
        }
        return [durations, exits, accesses, events]
    }
}
