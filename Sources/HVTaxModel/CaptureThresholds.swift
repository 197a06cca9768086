/// A level crossed when a figure goes strictly above it, as the hypervisors' own rules of thumb
/// are stated ("%RDY > 10%", "%MLMTD > 0"): `ThresholdPair` is "from", which would make %MLMTD = 0
/// critical. Either level may be absent when the reference gives none.
public struct AboveThreshold: Codable, Sendable, Equatable {
    public var warningAbove: Double?
    public var criticalAbove: Double?

    public init(warningAbove: Double? = nil, criticalAbove: Double? = nil) {
        self.warningAbove = warningAbove
        self.criticalAbove = criticalAbove
    }

    public func level(of value: Double?) -> Level {
        guard let value else { return .unavailable }
        if let criticalAbove, Self.exceeds(value, criticalAbove) { return .critical }
        if let warningAbove, Self.exceeds(value, warningAbove) { return .warning }
        return .ok
    }

    /// Per-vCPU figures are group sums divided by the vCPU count (40 / 4 * 0.01), which lands a
    /// few ulps either side of the limit; a value that equal is not "above".
    static func exceeds(_ value: Double, _ limit: Double) -> Bool {
        value > limit + Swift.max(abs(limit) * 1e-9, 1e-12)
    }
}

/// The thresholds a capture report applies: the same tax and steal levels as the trace report,
/// plus each hypervisor's own rules (docs/sources.md, "Thresholds").
/// Applied to per-vCPU (or per-processor) means over the capture.
public struct CaptureThresholds: Codable, Sendable, Equatable {
    public var tax: ThresholdPair
    public var steal: ThresholdPair
    /// esxtop %RDY per vCPU: above 10% a problem; above 5% worth a look, as for steal.
    public var readyRatio: AboveThreshold
    /// esxtop %CSTP above 3%: the VM has more vCPUs than its work keeps busy together.
    public var coStopRatio: AboveThreshold
    /// esxtop %MLMTD above 0: a CPU limit holds the VM back.
    public var maxLimitedRatio: AboveThreshold
    /// Hyper-V CPU Wait Time Per Dispatch: ~7,000-10,000 ns on a quiet host, above 60,000 alarming.
    public var dispatchWaitNs: AboveThreshold
    /// Hyper-V logical processor % Total Run Time above 50% sustained: the host is getting busy.
    public var lpTotalRunRatio: AboveThreshold

    public init(_ base: Thresholds = .standard,
                readyRatio: AboveThreshold = .init(warningAbove: 0.05, criticalAbove: 0.10),
                coStopRatio: AboveThreshold = .init(criticalAbove: 0.03),
                maxLimitedRatio: AboveThreshold = .init(criticalAbove: 0),
                dispatchWaitNs: AboveThreshold = .init(warningAbove: 10_000, criticalAbove: 60_000),
                lpTotalRunRatio: AboveThreshold = .init(warningAbove: 0.50)) {
        self.tax = base.tax
        self.steal = base.steal
        self.readyRatio = readyRatio
        self.coStopRatio = coStopRatio
        self.maxLimitedRatio = maxLimitedRatio
        self.dispatchWaitNs = dispatchWaitNs
        self.lpTotalRunRatio = lpTotalRunRatio
    }

    public static let standard = CaptureThresholds()

    /// The hypervisor-specific rule for a figure of a vCPU or VP, if there is one. %RDY is the
    /// `preempted` figure of an esxtop capture: it is rated as steal and by this rule.
    public func rule(for figure: CaptureFigure, kind: CaptureKind) -> AboveThreshold? {
        switch figure {
        case .preempted where kind == .esxtop: readyRatio
        case .coStop: coStopRatio
        case .maxLimited: maxLimitedRatio
        case .dispatchWait: dispatchWaitNs
        default: nil
        }
    }
}
