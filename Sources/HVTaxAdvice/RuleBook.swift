import Foundation
import HVTaxModel

/// The advice rules, as read from their one data file (Resources/advice-rules.json): the exit
/// classes that group reason names, the catalogue of figures with their units, and the rules.
/// docs/advice.md explains every rule and threshold.
public struct RuleBook: Sendable, Decodable {
    /// A scope a figure belongs to: the whole host, or one VM (a trace's VM, a snapshot's VM, a
    /// capture's VM group).
    public enum Scope: String, Sendable, Decodable { case host, vm }

    public struct FigureInfo: Sendable, Decodable {
        public var unit: FigureUnit
        public var label: String
    }

    /// One way a report kind shows a rule's cause: a figure compared with its limits.
    public struct Signal: Sendable, Decodable {
        public var reports: [ReportKind]
        public var scope: Scope
        public var figure: String
        public var warningAbove: Double?
        public var criticalAbove: Double?
        public var warningBelow: Double?
        public var criticalBelow: Double?
        /// The figure holding the share of time this cause costs (ranking); absent when the report
        /// cannot tell.
        public var cost: String?
        public var costBasis: String?
        public var evidence: [String]
        /// Which of the scope's port I/O and MMIO accesses a finding names as its cause, for rules
        /// about device accesses.
        public var accesses: AccessSelection?

        /// The level a value reaches and the limit it crossed, or nil when it crosses none.
        public func crossing(_ value: Double) -> (level: Level, limit: Double, direction: CrossedThreshold.Direction)? {
            if let limit = criticalAbove, value > limit { return (.critical, limit, .above) }
            if let limit = warningAbove, value > limit { return (.warning, limit, .above) }
            if let limit = criticalBelow, value < limit { return (.critical, limit, .below) }
            if let limit = warningBelow, value < limit { return (.warning, limit, .below) }
            return nil
        }
    }

    /// The accesses behind a device-access cause: those emulated by the VMM, or those that stayed
    /// in the kernel.
    public enum AccessSelection: String, Sendable, Decodable {
        case throughVMM, inKernel

        /// How many of `access` this selection covers. Without kvm_userspace_exit events every exit
        /// counts as handled in the kernel (the exit paths do the same), and so does every access.
        public func count(_ access: DeviceAccessStats) -> UInt64 {
            guard let vmm = access.throughVMM else { return self == .inKernel ? access.count : 0 }
            return self == .throughVMM ? vmm : access.count - vmm
        }
    }

    public struct Rule: Sendable, Decodable {
        public var id: String
        public var title: String
        public var cause: String
        public var remedy: String
        public var references: [String]
        public var signals: [Signal]
    }

    public var version: String
    /// Class name -> exit reason names (VMX and SVM spellings) that belong to it.
    public var exitClasses: [String: [String]]
    public var figures: [String: FigureInfo]
    public var rules: [Rule]

    /// The rules shipped with hvtax, compiled into it (Resources/advice-rules.json).
    public static func standard() throws -> RuleBook {
        try load(Data(PackageResources.advice_rules_json), origin: "hvtax's built-in advice-rules.json")
    }

    /// Reads and checks a rules file: every figure a rule names must be in the catalogue, and every
    /// signal must have a limit, so a typo is an error here rather than a rule that never fires.
    public static func load(_ data: Data, origin: String) throws -> RuleBook {
        let book: RuleBook
        do {
            book = try JSONDecoder().decode(RuleBook.self, from: data)
        } catch let error as DecodingError {
            throw RuleBookError(origin: origin, problem: DecodingProblem.describe(error))
        }
        var ids = Set<String>()
        for rule in book.rules {
            guard ids.insert(rule.id).inserted else { throw RuleBookError(origin: origin, problem: "rule \(rule.id) is defined twice") }
            guard !rule.signals.isEmpty else { throw RuleBookError(origin: origin, problem: "rule \(rule.id) has no signals") }
            for (index, signal) in rule.signals.enumerated() {
                let place = "rule \(rule.id), signal \(index)"
                for name in [signal.figure] + signal.evidence + [signal.cost].compactMap({ $0 }) where book.figures[name] == nil {
                    throw RuleBookError(origin: origin, problem: "\(place): figure \(name) is not in the figures catalogue")
                }
                let limits = [signal.warningAbove, signal.criticalAbove, signal.warningBelow, signal.criticalBelow]
                guard limits.contains(where: { $0 != nil }) else {
                    throw RuleBookError(origin: origin, problem: "\(place): expected warningAbove/criticalAbove or warningBelow/criticalBelow")
                }
                if let cost = signal.cost, book.figures[cost]?.unit != .ratio {
                    throw RuleBookError(origin: origin, problem: "\(place): cost figure \(cost) must be a ratio (a share of time)")
                }
            }
        }
        return book
    }

    public func info(_ figure: String) -> FigureInfo {
        figures[figure] ?? FigureInfo(unit: .count, label: figure)
    }
}

/// A rules file that cannot be used: which file and what is wrong where.
public struct RuleBookError: Error, CustomStringConvertible {
    public var origin: String
    public var problem: String

    public var description: String { "\(origin): \(problem)" }
}
