import HVTaxModel

/// The figures of an accounting validation (`hvtax validate`, and the live view, which validates
/// each interval): per host how many sources are not trustworthy, per VM the worst discrepancy
/// among the comparisons that disagree beyond tolerance.
public enum ValidationFigures {
    public static func extract(_ validation: AccountingValidation) -> FigureSet {
        var set = FigureSet(report: .validation)
        var host = FigureSet.Scope(kind: .host, name: "host", vm: nil)
        add(validation, host: &host, vms: &set.scopes, appendingVMs: true, notes: &set.notes, missing: &set.missing)
        set.scopes.append(host)
        return set
    }

    /// Adds the validation's figures to a set's host scope and to the VM scopes of the same names
    /// (appending VM scopes that are not there yet when `appendingVMs`; a filtered snapshot does not).
    static func add(_ validation: AccountingValidation, host: inout FigureSet.Scope, vms scopes: inout [FigureSet.Scope],
                    appendingVMs: Bool, notes: inout [String], missing: inout [String: String]) {
        let judged = validation.verdicts.filter { $0.verdict == .trustworthy || $0.verdict == .notTrustworthy }
        let untrusted = validation.verdicts.filter { $0.verdict == .notTrustworthy }
        if judged.isEmpty {
            missing["accounting.untrustedSources"] = "no accounting source could be judged in this interval (too little CPU time ran)"
        } else {
            host.values["accounting.untrustedSources"] = Double(untrusted.count)
        }
        for verdict in untrusted {
            notes.append("Accounting source \(verdict.source.rawValue) is not trustworthy here: \(verdict.reason)")
        }
        for vm in validation.vms {
            let disagreeing = vm.comparisons.filter { $0.state == .disagrees }.compactMap(\.discrepancyRatio)
            let judgedHere = vm.comparisons.contains { $0.state == .agrees || $0.state == .disagrees }
            guard judgedHere else { continue }
            let worst = disagreeing.max() ?? 0
            if let index = scopes.firstIndex(where: { $0.kind == .vm && $0.name == vm.name }) {
                scopes[index].values["accounting.worstDiscrepancyRatio"] = worst
            } else if appendingVMs {
                scopes.append(FigureSet.Scope(kind: .vm, name: vm.name, vm: vm.name,
                                              values: ["accounting.worstDiscrepancyRatio": worst]))
            }
        }
    }
}
