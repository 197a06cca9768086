import HVTaxModel

/// A report reduced to named figures per scope, the neutral input of the rules: each report kind
/// has its extractor, the rules do not know which report they read.
public struct FigureSet: Sendable, Equatable {
    public struct Scope: Sendable, Equatable {
        public var kind: RuleBook.Scope
        /// `host` (or the capture's host name), or the VM's name.
        public var name: String
        public var vm: String?
        public var values: [String: Double]
        /// The scope's port I/O and MMIO accesses (a trace with kvm_pio/kvm_mmio), most time first.
        public var accesses: [DeviceAccessStats] = []

        public init(kind: RuleBook.Scope, name: String, vm: String?, values: [String: Double] = [:]) {
            self.kind = kind
            self.name = name
            self.vm = vm
            self.values = values
        }
    }

    public var report: ReportKind
    public var scopes: [Scope]
    /// Figures this report cannot give, with the reason: rules on them are listed as unevaluated.
    public var missing: [String: String]
    public var notes: [String]

    public init(report: ReportKind, scopes: [Scope] = [], missing: [String: String] = [:], notes: [String] = []) {
        self.report = report
        self.scopes = scopes
        self.missing = missing
        self.notes = notes
    }

    mutating func missing(_ figures: [String], because reason: String) {
        for figure in figures where missing[figure] == nil { missing[figure] = reason }
    }
}

extension FigureSet {
    /// The host's throttling as figures, or why there are none.
    mutating func addThrottling(_ throttling: HostThrottling?, to scope: inout Scope, unknownReason: String) {
        let names = ["host.throttled", "host.throttleEvents", "host.minFrequencyRatio"]
        guard let throttling, throttling.state != .unknown else {
            let reason = throttling?.detail ?? unknownReason
            missing(names, because: reason)
            notes.append("Throttling during the measurement: unknown (\(reason)).")
            return
        }
        scope.values["host.throttled"] = throttling.state == .throttled ? 1 : 0
        if let events = throttling.throttleEvents { scope.values["host.throttleEvents"] = Double(events) }
        else { missing(["host.throttleEvents"], because: "no thermal_throttle counters on this host") }
        if let ratio = throttling.minFrequencyRatio { scope.values["host.minFrequencyRatio"] = ratio }
        else { missing(["host.minFrequencyRatio"], because: "no cpufreq on this host") }
        if throttling.state == .throttled {
            notes.append("The host throttled during the measurement: exit and guest times are inflated by it (\(throttling.detail)).")
        }
    }
}
