/// The kinds of report advice applies to; a rule names the kinds it understands.
public enum ReportKind: String, Codable, Sendable, CaseIterable {
    /// `hvtax report TRACE`: exits with reasons, paths and times.
    case trace
    /// `hvtax snapshot`, `hvtax top`: one interval of the live host view.
    case snapshot
    /// `hvtax import`, `hvtax report capture.csv`: a Hyper-V or esxtop capture.
    case capture
    /// `hvtax validate`: the accounting sources compared (the live view validates each interval too).
    case validation
}

/// What a figure measures, so evidence is printed in its unit and thresholds read the right way.
public enum FigureUnit: String, Codable, Sendable {
    /// A share 0-1 (printed as percent).
    case ratio
    case perSecond = "per-second"
    case nanoseconds = "ns"
    case count
}

/// One figure of a report, named as in the advice rules (docs/advice.md lists them all).
public struct Evidence: Codable, Sendable, Equatable {
    public var figure: String
    public var label: String
    public var value: Double
    public var unit: FigureUnit

    public init(figure: String, label: String, value: Double, unit: FigureUnit) {
        self.figure = figure
        self.label = label
        self.value = value
        self.unit = unit
    }
}

/// The threshold a finding crossed: the figure, its value, the limit and the side it crossed.
public struct CrossedThreshold: Codable, Sendable, Equatable {
    public enum Direction: String, Codable, Sendable { case above, below }

    public var figure: String
    public var value: Double
    public var limit: Double
    public var direction: Direction
    public var unit: FigureUnit
    /// The level the limit stands for (warning or critical).
    public var level: Level

    public init(figure: String, value: Double, limit: Double, direction: Direction, unit: FigureUnit, level: Level) {
        self.figure = figure
        self.value = value
        self.limit = limit
        self.direction = direction
        self.unit = unit
        self.level = level
    }
}

/// One cause found in a report: what it is, the figures that show it, the threshold crossed, what
/// it costs and what to do about it.
public struct Finding: Codable, Sendable, Equatable {
    /// The rule's id in the rules file.
    public var rule: String
    public var title: String
    public var level: Level
    /// `host`, or the VM's name.
    public var scope: String
    public var vm: String?
    public var threshold: CrossedThreshold
    /// The share of the scope's time this cause costs, 0-1; nil when the report cannot tell (a
    /// rate without a cost per event). Findings are ranked by it.
    public var costRatio: Double?
    /// What `costRatio` is a share of, in words ("vCPU on-CPU time", "vCPU wall time").
    public var costBasis: String?
    public var evidence: [Evidence]
    /// For causes that are guest device accesses: the ports and MMIO addresses behind this finding
    /// in its scope, most time first (at most three). nil when the rule is not about accesses or
    /// the report has no access table (no kvm_pio/kvm_mmio events).
    public var accesses: [DeviceAccessStats]?
    public var cause: String
    public var remedy: String
    public var references: [String]

    public init(rule: String, title: String, level: Level, scope: String, vm: String?, threshold: CrossedThreshold,
                costRatio: Double?, costBasis: String?, evidence: [Evidence], accesses: [DeviceAccessStats]? = nil,
                cause: String, remedy: String, references: [String]) {
        self.rule = rule
        self.title = title
        self.level = level
        self.scope = scope
        self.vm = vm
        self.threshold = threshold
        self.costRatio = costRatio
        self.costBasis = costBasis
        self.evidence = evidence
        self.accesses = accesses
        self.cause = cause
        self.remedy = remedy
        self.references = references
    }
}

/// A rule that could not be applied because this report lacks its figure: listed so that silence
/// is not read as health.
public struct UnevaluatedRule: Codable, Sendable, Equatable {
    public var rule: String
    public var figure: String
    public var reason: String

    public init(rule: String, figure: String, reason: String) {
        self.rule = rule
        self.figure = figure
        self.reason = reason
    }
}

/// The advice at the end of a report: findings ranked by the time they cost, and the rules the
/// report could not feed.
public struct Advice: Codable, Sendable, Equatable {
    /// The rules file's own version, so a reader knows which thresholds were applied.
    public var rulesVersion: String
    public var rulesEvaluated: Int
    public var findings: [Finding]
    public var unevaluated: [UnevaluatedRule]
    /// Plain-language notes: confounders (throttling), what the report kind cannot show.
    public var notes: [String]

    public init(rulesVersion: String, rulesEvaluated: Int, findings: [Finding], unevaluated: [UnevaluatedRule],
                notes: [String]) {
        self.rulesVersion = rulesVersion
        self.rulesEvaluated = rulesEvaluated
        self.findings = findings
        self.unevaluated = unevaluated
        self.notes = notes
    }
}
