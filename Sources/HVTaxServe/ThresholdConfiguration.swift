import HVTaxModel

/// Levels for the figures serve watches, per VM and for the host, with hysteresis: a level is
/// entered after `raise_after` consecutive intervals at or above it and left after `clear_after`
/// consecutive intervals below `threshold x (1 - hysteresis)`, so a figure hovering at a threshold
/// does not flap.
public struct ThresholdConfiguration: Codable, Sendable, Equatable {
    public var tax: ThresholdPair = Thresholds.standard.tax
    public var steal: ThresholdPair = Thresholds.standard.steal
    /// Exits per second of a VM (and of the host: all VMs); off unless set, since what is normal
    /// depends on the workload (a busy virtio-net guest makes 100k/s).
    public var exitsPerSecond: ThresholdPair?
    public var hysteresis: Double = 0.2
    public var raiseAfter: Int = 3
    public var clearAfter: Int = 3

    public init() {}

    enum CodingKeys: String, CodingKey {
        case tax, steal, exitsPerSecond = "exits_per_second", hysteresis, raiseAfter = "raise_after", clearAfter = "clear_after"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        tax = try c.decodeIfPresent(ThresholdPair.self, forKey: .tax) ?? tax
        steal = try c.decodeIfPresent(ThresholdPair.self, forKey: .steal) ?? steal
        exitsPerSecond = try c.decodeIfPresent(ThresholdPair.self, forKey: .exitsPerSecond)
        hysteresis = try c.decodeIfPresent(Double.self, forKey: .hysteresis) ?? hysteresis
        raiseAfter = try c.decodeIfPresent(Int.self, forKey: .raiseAfter) ?? raiseAfter
        clearAfter = try c.decodeIfPresent(Int.self, forKey: .clearAfter) ?? clearAfter
    }

    func validate(file: String) throws(ConfigurationError) {
        for (name, pair) in [("tax", tax), ("steal", steal), ("exits_per_second", exitsPerSecond ?? tax)]
        where !(pair.warning >= 0 && pair.warning <= pair.critical) {
            throw ConfigurationError(file: file, message: "thresholds.\(name): expected 0 <= warning <= critical, found \(pair.warning) and \(pair.critical)")
        }
        guard hysteresis >= 0, hysteresis < 1 else {
            throw ConfigurationError(file: file, message: "thresholds.hysteresis: expected a fraction in [0, 1), found \(hysteresis)")
        }
        guard raiseAfter >= 1, clearAfter >= 1 else {
            throw ConfigurationError(file: file, message: "thresholds.raise_after and clear_after: at least 1 interval")
        }
    }

    func pair(_ figure: WatchedFigure) -> ThresholdPair? {
        switch figure {
        case .tax: tax
        case .steal: steal
        case .exitsPerSecond: exitsPerSecond
        }
    }

    /// The snapshot's own thresholds (levels in JSON, hvtax_vm levels) follow the same pairs.
    public var snapshotThresholds: Thresholds { Thresholds(tax: tax, steal: steal) }
}

/// A figure thresholds apply to.
public enum WatchedFigure: String, Codable, Sendable, CaseIterable {
    case tax, steal
    case exitsPerSecond = "exits_per_second"
}
