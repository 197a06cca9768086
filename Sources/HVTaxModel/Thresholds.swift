/// How a figure compares with its thresholds.
public enum Level: String, Codable, Sendable, Comparable {
    case ok, warning, critical
    /// Not measurable from this input (e.g. steal without sched_switch events).
    case unavailable

    private var rank: Int {
        switch self {
        case .unavailable: 0
        case .ok: 1
        case .warning: 2
        case .critical: 3
        }
    }

    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }
}

/// Warning and critical levels for one ratio (0-1).
public struct ThresholdPair: Codable, Sendable, Equatable {
    public var warning: Double
    public var critical: Double

    public init(warning: Double, critical: Double) {
        self.warning = warning
        self.critical = critical
    }

    public func level(of ratio: Double?) -> Level {
        guard let ratio else { return .unavailable }
        if ratio >= critical { return .critical }
        if ratio >= warning { return .warning }
        return .ok
    }
}

/// The thresholds every report applies. The defaults are the levels operators use: overhead or
/// steal above 5% is worth a look, above 10% a problem (docs/sources.md, "Thresholds").
public struct Thresholds: Codable, Sendable, Equatable {
    public var tax: ThresholdPair
    public var steal: ThresholdPair

    public init(tax: ThresholdPair = .init(warning: 0.05, critical: 0.10),
                steal: ThresholdPair = .init(warning: 0.05, critical: 0.10)) {
        self.tax = tax
        self.steal = steal
    }

    public static let standard = Thresholds()
}

/// A ratio together with the level it reaches.
public struct RatedRatio: Codable, Sendable, Equatable {
    /// 0-1; nil when the input cannot measure it.
    public var ratio: Double?
    public var level: Level

    public init(_ ratio: Double?, against pair: ThresholdPair) {
        self.ratio = ratio
        self.level = pair.level(of: ratio)
    }
}
