import HVTaxModel

/// The figures of a Hyper-V or esxtop capture: per VM (per-vCPU means) its steal, co-stop, limit,
/// dispatch wait, I/O and MSR intercept rates with their cost; per host the hardware interrupt rate.
public enum CaptureFigures {
    public static func extract(_ report: CaptureReport) -> FigureSet {
        var set = FigureSet(report: .capture)
        let mapping: [(CaptureFigure, String)] = [
            (.coStop, "coStop"), (.maxLimited, "maxLimited"), (.dispatchWait, "dispatchWaitNs"),
            (.ioInstructions, "ioInstructions.perVCPUSecond"), (.msrAccesses, "msrAccesses.perVCPUSecond"),
            (.hardwareInterrupts, "hardwareInterrupts.perSecond"),
        ]
        for (figure, name) in mapping where !report.isAvailable(figure) {
            set.missing([name], because: report.availability(of: figure)?.reason ?? "not in this capture")
        }
        for (rate, cost, name) in [(CaptureFigure.ioInstructions, CaptureFigure.ioInstructionCost, "ioInstructions.timeShare"),
                                   (.msrAccesses, .msrAccessCost, "msrAccesses.timeShare")]
        where !(report.isAvailable(rate) && report.isAvailable(cost)) {
            let missing = report.isAvailable(rate) ? cost : rate
            set.missing([name], because: report.availability(of: missing)?.reason ?? "\(missing.rawValue) not in this capture")
        }
        if !report.isAvailable(.preempted) {
            set.missing(["steal"], because: report.availability(of: .preempted)?.reason ?? "not in this capture")
        }
        let multiHost = report.hosts.count > 1
        for host in report.hosts {
            for vm in host.vms {
                let name = multiHost ? "\(host.name)/\(vm.name)" : vm.name
                var scope = FigureSet.Scope(kind: .vm, name: name, vm: vm.name)
                if let ratio = vm.steal.ratio { scope.values["steal"] = ratio }
                if let ratio = vm.tax.ratio { scope.values["tax"] = ratio }
                if let worst = vm.cpus.compactMap(\.steal.ratio).max() { scope.values["worstVCPUSteal"] = worst }
                for (figure, name) in mapping { if let value = vm.values[figure]?.mean { scope.values[name] = value } }
                if let rate = vm.values[.ioInstructions]?.mean, let cost = vm.values[.ioInstructionCost]?.mean {
                    scope.values["ioInstructions.timeShare"] = rate * cost / 1e9
                }
                if let rate = vm.values[.msrAccesses]?.mean, let cost = vm.values[.msrAccessCost]?.mean {
                    scope.values["msrAccesses.timeShare"] = rate * cost / 1e9
                }
                set.scopes.append(scope)
            }
            var scope = FigureSet.Scope(kind: .host, name: host.name, vm: nil)
            if let rate = host.logicalProcessors?.values[.hardwareInterrupts]?.mean {
                scope.values["hardwareInterrupts.perSecond"] = rate
            }
            set.scopes.append(scope)
        }
        set.notes.append("Throttling during the capture: unknown (a capture holds no CPU frequency or thermal counters hvtax reads).")
        return set
    }
}
