import HVTaxModel

/// The figures of one live interval: per VM its steal, VMM overhead, preemptions, interrupt
/// storms on its CPUs and accounting findings; per host its own steal, overcommit and throttling.
public enum SnapshotFigures {
    public static func extract(_ s: HostSnapshot, validation: AccountingValidation? = nil, book: RuleBook) -> FigureSet {
        var set = FigureSet(report: .snapshot)
        let seconds = Double(s.intervalNs) / 1e9
        if s.exitRates.kind == .none {
            set.missing(["exits.perVCPUSecond"], because: s.exitRates.detail)
        }
        for vm in s.vms {
            var scope = FigureSet.Scope(kind: .vm, name: vm.name, vm: vm.name)
            let vcpus = Double(max(vm.vcpus.count, 1))
            if let ratio = vm.steal.ratio { scope.values["steal"] = ratio }
            if let worst = vm.vcpus.compactMap(\.steal.ratio).max() { scope.values["worstVCPUSteal"] = worst }
            if let ratio = vm.vmmOverhead.ratio { scope.values["vmmOverhead"] = ratio }
            if s.intervalNs > 0 {
                scope.values["ioThreads.onCPUShare"] = Double(vm.io.onCPUNs + vm.emulator.onCPUNs) / Double(s.intervalNs)
            }
            scope.values["vhost.threads"] = Double(vm.vhost.threads)
            if let exits = vm.exitsPerSecond { scope.values["exits.perVCPUSecond"] = exits / vcpus }
            addCounted(vm.exitReasons, vcpus: vcpus, book: book, into: &scope)
            if seconds > 0, !vm.vcpus.isEmpty {
                let involuntary = vm.vcpus.reduce(UInt64(0)) { $0 + $1.involuntarySwitches }
                scope.values["involuntarySwitches.perVCPUSecond"] = Double(involuntary) / seconds / vcpus
                let migrations = vm.vcpus.compactMap(\.migrations)
                if migrations.count == vm.vcpus.count {
                    scope.values["migrations.perVCPUSecond"] = Double(migrations.reduce(0, +)) / seconds / vcpus
                }
            }
            let cpus = Set(vm.cpus)
            let storms = s.interrupts.storms.filter { !cpus.isDisjoint(with: $0.cpus) }
            scope.values["interrupts.onVCPUCPUs.perSecond"] = storms.reduce(0) { $0 + $1.perSecond }
            let lines = s.hostCPUs.filter { $0.cpu.map(cpus.contains) ?? false }
            if !lines.isEmpty {
                scope.values["interrupts.onVCPUCPUs.irqShare"] = lines.reduce(0) { $0 + $1.irq + $1.softirq } / Double(lines.count)
            }
            let kinds = Set(s.findings.filter { $0.vm == vm.name }.map(\.kind))
            scope.values["accounting.guestTimeMissing"] = kinds.contains(.guestTimeMissing) ? 1 : 0
            scope.values["accounting.tickAccountingMissing"] = kinds.contains(.tickAccountingMissing) ? 1 : 0
            set.scopes.append(scope)
        }
        var host = FigureSet.Scope(kind: .host, name: "host", vm: nil)
        if let all = s.hostCPUs.first(where: { $0.cpu == nil }) { host.values["host.steal"] = all.steal }
        let cpus = s.hostCPUs.filter { $0.cpu != nil }.count
        if cpus > 0 {
            let vcpus = s.vms.reduce(0) { $0 + $1.vcpus.count }
            host.values["host.vcpusPerCPU"] = Double(vcpus) / Double(cpus)
            for index in set.scopes.indices { set.scopes[index].values["host.vcpusPerCPU"] = host.values["host.vcpusPerCPU"] }
        }
        if let validation {
            ValidationFigures.add(validation, host: &host, vms: &set.scopes, appendingVMs: false, notes: &set.notes,
                                  missing: &set.missing)
        } else {
            set.missing(["accounting.untrustedSources", "accounting.worstDiscrepancyRatio"],
                        because: "the accounting sources were not validated for this interval")
        }
        set.addThrottling(s.throttling, to: &host, unknownReason: "throttling was not read for this interval")
        set.scopes.append(host)
        if s.exitRates.kind == .tracepointCounters, !s.vms.contains(where: { $0.exitReasons.contains { $0.reason.hasPrefix("kvm_exit:") } }) {
            set.missing(["exits.halt.perVCPUSecond", "exits.pause.perVCPUSecond"],
                        because: "the kvm tracepoint counters have no kvm_exit reasons here (kvm_exit does not fire with this KVM backend): \(s.exitRates.detail)")
        }
        if s.exitRates.kind != .tracepointCounters {
            set.missing(["exits.halt.perVCPUSecond", "exits.pause.perVCPUSecond", "exits.vmmPath.perVCPUSecond",
                         "emulatedInstructions.perVCPUSecond"],
                        because: "no per-reason exit counts in this interval (\(s.exitRates.detail))")
        }
        return set
    }

    /// Rates per vCPU-second from the kvm tracepoint counters (`kvm_exit:HLT`, `kvm_userspace_exit`,
    /// `kvm_emulate_insn`): the classes of the rules file where kvm_exit fires, the userspace exits
    /// and emulated instructions everywhere.
    static func addCounted(_ reasons: [ExitReasonRate], vcpus: Double, book: RuleBook, into scope: inout FigureSet.Scope) {
        guard !reasons.isEmpty else { return }
        let exitPrefix = "kvm_exit:"
        let byReason = Dictionary(reasons.map { ($0.reason, $0.perSecond) }, uniquingKeysWith: +)
        if byReason.keys.contains(where: { $0.hasPrefix(exitPrefix) }) {
            for (name, members) in book.exitClasses {
                scope.values["exits.\(name).perVCPUSecond"] = members.reduce(0) { $0 + (byReason[exitPrefix + $1] ?? 0) } / vcpus
            }
        }
        if let userspace = byReason["kvm_userspace_exit"] { scope.values["exits.vmmPath.perVCPUSecond"] = userspace / vcpus }
        if let emulated = byReason["kvm_emulate_insn"] { scope.values["emulatedInstructions.perVCPUSecond"] = emulated / vcpus }
    }
}
