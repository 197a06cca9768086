import HVTaxEvents
import HVTaxModel

extension TraceAnalyzer {
    /// Builds the report: vCPUs grouped into VMs, filters applied, totals first.
    /// - Parameter diagnostics: what the readers met (malformed lines, reordering, ...).
    public func report(sources: [TraceSource], clock: ClockInfo, readerQuality: (inout TraceQuality) -> Void = { _ in },
                       generator: String) -> TraceReport {
        var (trackers, quality) = finish()
        readerQuality(&quality)
        let filters = options.filters
        let thresholds = options.thresholds
        let start = firstTime ?? 0
        let ticksPerSecond = clock.ticksPerSecond
        let duration = window.overlap(start, lastTime)

        let grouping = VMGrouping(trackers: trackers, names: processNames, symbols: symbols, vmNames: options.vmNames)
        quality.vmGrouping = grouping.method
        addNotes(to: &quality, grouping: grouping)

        let reasonFilter = Set(filters.reasons)
        let selection = VMSelection(filters.vms)
        var vms: [VMReport] = []
        var hostExits = ExitAccumulator()
        var hostAccesses = DeviceAccessAccumulator()
        // Reports of traces without kvm_pio/kvm_mmio events leave the access tables out altogether.
        let tracesAccesses = trackers.contains { !$0.accesses.isEmpty }
        let knowsVMMPath = quality.hasUserspaceExits
        func accessStats(_ accumulator: DeviceAccessAccumulator, seconds: Double) -> [DeviceAccessStats]? {
            tracesAccesses ? accumulator.stats(seconds: seconds, knowsVMMPath: knowsVMMPath) : nil
        }
        var hostSplit = TimeSplit()
        var vcpuCount = 0
        for group in grouping.groups {
            guard selection.selects(name: group.name, pid: group.pid) else { continue }
            var vcpuReports: [VCPUReport] = []
            var vmExits = ExitAccumulator()
            var vmAccesses = DeviceAccessAccumulator()
            var vmSplit = TimeSplit()
            for index in group.trackers {
                let tracker = trackers[index]
                if !filters.vcpus.isEmpty && !filters.vcpus.contains(tracker.vcpu) { continue }
                if !filters.pids.isEmpty && !filters.pids.contains(tracker.tid) && !filters.pids.contains(group.pid ?? -1) {
                    continue
                }
                let exits = filtered(tracker.exits, reasons: reasonFilter)
                let wall = window.overlap(tracker.firstTime, tracker.lastTime)
                var exitSummary = summary(exits, seconds: Double(wall) / ticksPerSecond, hypervisor: tracker.split.hypervisor)
                exitSummary.accesses = accessStats(tracker.accesses, seconds: Double(wall) / ticksPerSecond)
                vcpuReports.append(VCPUReport(
                    vm: group.name, vmPid: group.pid, vcpu: tracker.vcpu >= 0 ? tracker.vcpu : nil, tid: tracker.tid,
                    thread: symbols.names.string(tracker.comm),
                    // A late event can start a vCPU before the trace's first event: not before it here.
                    firstTime: max(tracker.firstTime, window.start, start) - start,
                    lastTime: max(tracker.firstTime, window.start, start) - start + wall,
                    split: tracker.split, tax: RatedRatio(tracker.split.taxRatio, against: thresholds.tax),
                    steal: RatedRatio(quality.hasSchedSwitch ? tracker.split.stealRatio : nil, against: thresholds.steal),
                    exits: exitSummary))
                vmExits.add(exits)
                vmAccesses.add(tracker.accesses)
                vmSplit += tracker.split
            }
            guard !vcpuReports.isEmpty else { continue }
            vcpuReports.sort { ($0.vcpu ?? .max, $0.tid) < ($1.vcpu ?? .max, $1.tid) }
            vcpuCount += vcpuReports.count
            var vmExitSummary = summary(vmExits, seconds: Double(duration) / ticksPerSecond, hypervisor: vmSplit.hypervisor)
            vmExitSummary.accesses = accessStats(vmAccesses, seconds: Double(duration) / ticksPerSecond)
            vms.append(VMReport(
                name: group.name, pid: group.pid, split: vmSplit,
                tax: RatedRatio(vmSplit.taxRatio, against: thresholds.tax),
                steal: RatedRatio(quality.hasSchedSwitch ? vmSplit.stealRatio : nil, against: thresholds.steal),
                exits: vmExitSummary,
                vcpus: vcpuReports))
            hostExits.add(vmExits)
            hostAccesses.add(vmAccesses)
            hostSplit += vmSplit
        }
        // The VMs that cost the most come first.
        vms.sort { ($0.split.hypervisor + $0.split.vmm, $0.name) > ($1.split.hypervisor + $1.split.vmm, $1.name) }
        var hostExitSummary = summary(hostExits, seconds: Double(duration) / ticksPerSecond, hypervisor: hostSplit.hypervisor)
        hostExitSummary.accesses = accessStats(hostAccesses, seconds: Double(duration) / ticksPerSecond)
        let host = HostSummary(
            vmCount: vms.count, vcpuCount: vcpuCount, duration: duration, split: hostSplit,
            tax: RatedRatio(hostSplit.taxRatio, against: thresholds.tax),
            steal: RatedRatio(quality.hasSchedSwitch ? hostSplit.stealRatio : nil, against: thresholds.steal),
            exits: hostExitSummary)
        let reasonNames = filters.reasons.isEmpty ? [] : Set(trackers.flatMap { $0.exits.reasons.map { symbols.reasons.string($0.reason) } })
        quality.notes += UnmatchedFilters(filters: filters, vmNames: options.vmNames, grouping: grouping, trackers: trackers,
                                          reasonNames: reasonNames, first: firstTime, last: lastTime, window: window, clock: clock).notes
        var report = TraceReport(generator: generator, sources: sources, clock: clock, thresholds: thresholds,
                                 filters: filters, host: host, vms: vms, quality: quality)
        if let guestAttribution {
            let guests = guestAttribution.reports(symbols: symbols)
            report.guests = guests
            for guest in guests where guest.unattributedEvents > 0 {
                report.quality.notes.append("\(guest.unattributedEvents) events of guest \(guest.name) (\(guest.guestFile)) are on guest CPUs "
                    + "the host's GUEST option maps to no vCPU thread: they are counted, not attributed")
            }
        }
        // Tax over time needs the same exit events as the tax itself.
        if quality.hasExitEvents, let series = sinks.lazy.compactMap({ $0 as? TimeSeriesSink }).first {
            report.timeSeries = series.series(traceStart: max(start, window.start), thresholds: thresholds)
        }
        return report
    }

    private func filtered(_ exits: ExitAccumulator, reasons: Set<String>) -> ExitAccumulator {
        guard !reasons.isEmpty else { return exits }
        var kept = ExitAccumulator()
        for (reason, accumulator) in exits.reasons where reasons.contains(symbols.reasons.string(reason)) {
            kept[reason] = accumulator
        }
        return kept
    }

    /// Totals first, then reasons by the hypervisor and VMM time they cost.
    private func summary(_ exits: ExitAccumulator, seconds: Double, hypervisor: UInt64) -> ExitSummary {
        var total = ReasonAccumulator()
        for (_, accumulator) in exits.reasons { total.add(accumulator) }
        let reasonHypervisor = max(total.hypervisorTime, 1)
        let rate: (UInt64) -> Double = { seconds > 0 ? Double($0) / seconds : 0 }
        var byReason = exits.reasons.map { reason, accumulator in
            let name = symbols.reasons.string(reason)
            return ExitReasonStats(
                reason: name, isa: ExitReasonTable.isa(ofName: name), count: accumulator.count,
                ratePerSecond: rate(accumulator.count),
                shareOfExits: total.count == 0 ? 0 : Double(accumulator.count) / Double(total.count),
                hypervisorTime: accumulator.hypervisorTime,
                shareOfHypervisorTime: Double(accumulator.hypervisorTime) / Double(reasonHypervisor),
                vmmTime: accumulator.vmmTime, offCPUTime: accumulator.offCPUTime,
                latency: accumulator.latency.summary, paths: accumulator.paths)
        }
        byReason.sort {
            ($0.hypervisorTime + $0.vmmTime, $0.count, $0.reason) > ($1.hypervisorTime + $1.vmmTime, $1.count, $1.reason)
        }
        return ExitSummary(count: total.count, ratePerSecond: rate(total.count), latency: total.latency.summary,
                           paths: total.paths, byReason: byReason)
    }

    private func addNotes(to quality: inout TraceQuality, grouping: VMGrouping) {
        if !quality.hasExitEvents {
            quality.notes.append("No kvm_exit/kvm_entry events: nothing marks where a vCPU goes back into the guest, so its time "
                + "on a CPU cannot be split into guest, hypervisor and VMM: it is counted as unknown and the tax is not measured "
                + "(preempted and halted still come from sched_switch). "
                + "Record kvm:kvm_exit and kvm:kvm_entry (on nested or paravirtual KVM they may not fire).")
        }
        if !quality.hasSchedSwitch {
            quality.statesIncludingOffCPU = [.hypervisor, .vmm]
            quality.notes.append("No sched_switch events: hypervisor and vmm include any time the vCPU thread was off "
                + "CPU, preempted cannot be measured (steal n/a), and time in HLT exits is counted as halted. "
                + "Record sched:sched_switch to separate them.")
        }
        if !quality.hasUserspaceExits {
            quality.notes.append("No kvm_userspace_exit events: exits handled by the userspace VMM are counted as "
                + "hypervisor time and the kernel path. Record kvm:kvm_userspace_exit to separate them.")
        }
        if grouping.method != "tgid" {
            quality.notes.append("The trace has no process ids: vCPU threads were grouped into VMs by thread id and "
                + "vcpu id. For exact VMs: ftrace, record with the record-tgid option; perf, print the pid the perf.data already "
                + "holds with `perf script -F +pid`.")
        }
        if quality.lostTotal > 0 || quality.uncountedGaps > 0 {
            let gaps = quality.uncountedGaps
            let what = quality.uncountedGaps == 0 ? "\(quality.lostTotal) events were lost"
                : quality.lostTotal == 0 ? "Events were lost in \(gaps) gap\(gaps == 1 ? "" : "s") of unknown size"
                : "\(quality.lostTotal) events were lost, and more in \(gaps) gap\(gaps == 1 ? "" : "s") of unknown size"
            // A gap of unknown size may be a file cut short, where a bigger buffer would not help.
            quality.notes.append("\(what): the affected vCPUs are 'unknown' until their next kvm_entry or kvm_exit."
                + (quality.lostTotal > 0 ? " Use a larger buffer (buffer_size_kb) or fewer events." : ""))
        }
    }
}
