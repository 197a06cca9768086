import HVTaxModel

/// The figures of a trace report: per VM from its vCPU-time split and exit tables, per host the
/// emulated-instruction rate and the throttling while recording.
public enum TraceFigures {
    public static func extract(_ report: TraceReport, book: RuleBook) -> FigureSet {
        var set = FigureSet(report: .trace)
        let perSecond = report.clock.unit == .ns || report.clock.convertedFromCounterHz != nil
        let exitFigures = book.figures.keys.filter { $0.hasPrefix("exits.") }.sorted()
        if !report.quality.hasExitEvents {
            set.missing(exitFigures, because: "the trace has no kvm_exit events (not recorded, or a KVM backend that does not fire them)")
        } else if !perSecond {
            set.missing(exitFigures.filter { $0.hasSuffix(".perVCPUSecond") },
                        because: "raw counter clock without --counter-hz: rates per second are unknown")
        }
        if !report.filters.reasons.isEmpty {
            set.notes.append("Exit reasons were filtered (\(report.filters.reasons.joined(separator: ", "))): exit figures cover only those.")
        }
        if !report.quality.hasSchedSwitch {
            set.missing(["steal"], because: "no sched_switch events: preempted time cannot be told from the rest")
        }
        for vm in report.vms {
            var scope = FigureSet.Scope(kind: .vm, name: vm.name, vm: vm.name)
            scope.accesses = vm.exits.accesses ?? []
            add(split: vm.split, exits: vm.exits, tax: vm.tax, steal: vm.steal, report: report, book: book,
                perSecond: perSecond, into: &scope)
            set.scopes.append(scope)
        }
        var host = FigureSet.Scope(kind: .host, name: "host", vm: nil)
        let vcpuSeconds = Double(report.host.split.total) / report.clock.ticksPerSecond
        if let emulated = report.quality.unknownEvents["kvm_emulate_insn"], perSecond, vcpuSeconds > 0 {
            host.values["emulatedInstructions.perVCPUSecond"] = Double(emulated) / vcpuSeconds
        } else {
            set.missing(["emulatedInstructions.perVCPUSecond"],
                        because: "no kvm_emulate_insn events in the trace (not recorded, or none happened)")
        }
        set.addThrottling(report.throttling, to: &host,
                          unknownReason: "a trace file does not record CPU frequency or thermal state")
        set.scopes.append(host)
        return set
    }

    static func add(split: TimeSplit, exits: ExitSummary, tax: RatedRatio, steal: RatedRatio, report: TraceReport,
                    book: RuleBook, perSecond: Bool, into scope: inout FigureSet.Scope) {
        if let ratio = tax.ratio { scope.values["tax"] = ratio }
        if let ratio = steal.ratio, report.quality.hasSchedSwitch { scope.values["steal"] = ratio }
        let wall = Double(split.total)
        if wall > 0 { scope.values["halted"] = Double(split.halted) / wall }
        guard report.quality.hasExitEvents else { return }
        let onCPU = Double(split.onCPUForGuest)
        let vcpuSeconds = wall / report.clock.ticksPerSecond
        func share(_ time: UInt64) -> Double? { onCPU > 0 ? Double(time) / onCPU : nil }
        func rate(_ count: UInt64) -> Double? { perSecond && vcpuSeconds > 0 ? Double(count) / vcpuSeconds : nil }

        scope.values["exits.perVCPUSecond"] = rate(exits.count)
        let vmmPath = exits.paths.vmm
        scope.values["exits.vmmPath.timeShare"] = share(vmmPath.hypervisorTime + vmmPath.vmmTime)
        scope.values["exits.vmmPath.perVCPUSecond"] = rate(vmmPath.count)
        for (name, reasons) in book.exitClasses {
            let members = Set(reasons)
            let stats = exits.byReason.filter { members.contains($0.reason) }
            let time = stats.reduce(UInt64(0)) { $0 + $1.hypervisorTime + $1.vmmTime }
            let count = stats.reduce(UInt64(0)) { $0 + $1.count }
            scope.values["exits.\(name).timeShare"] = share(time)
            let kernelPath = stats.reduce(UInt64(0)) { $0 + $1.paths.kernel.hypervisorTime + $1.paths.kernel.vmmTime }
            scope.values["exits.\(name).kernelPathTimeShare"] = share(kernelPath)
            scope.values["exits.\(name).perVCPUSecond"] = rate(count)
        }
    }
}
