import HVTaxModel

/// Applies the rules to a report's figures: one finding per rule and scope at the highest level
/// any of its signals reached, ranked by the share of time the cause costs. No I/O.
public struct Advisor: Sendable {
    public let book: RuleBook

    public init(book: RuleBook) { self.book = book }

    /// The advisor with the rules shipped in hvtax.
    public static func standard() throws -> Advisor { Advisor(book: try RuleBook.standard()) }

    public func advise(_ report: TraceReport) -> Advice { evaluate(TraceFigures.extract(report, book: book)) }
    /// A live interval; with the accounting validation of the same interval, the verdicts on the
    /// accounting sources feed the `untrusted-accounting` rule.
    public func advise(_ snapshot: HostSnapshot, validation: AccountingValidation? = nil) -> Advice {
        evaluate(SnapshotFigures.extract(snapshot, validation: validation, book: book))
    }
    public func advise(_ validation: AccountingValidation) -> Advice { evaluate(ValidationFigures.extract(validation)) }
    public func advise(_ report: CaptureReport) -> Advice { evaluate(CaptureFigures.extract(report)) }

    public func evaluate(_ set: FigureSet) -> Advice {
        var best: [String: Finding] = [:]
        var order: [String] = []
        var unevaluated: [UnevaluatedRule] = []
        var evaluated = 0
        for rule in book.rules {
            let signals = rule.signals.filter { $0.reports.contains(set.report) }
            guard !signals.isEmpty else { continue }
            evaluated += 1
            var starved: [UnevaluatedRule] = []
            var anyFed = false
            for signal in signals {
                let scopes = set.scopes.filter { $0.kind == signal.scope }
                let fed = scopes.filter { $0.values[signal.figure] != nil }
                anyFed = anyFed || !fed.isEmpty
                if fed.isEmpty, !scopes.isEmpty, !starved.contains(where: { $0.figure == signal.figure }) {
                    starved.append(UnevaluatedRule(
                        rule: rule.id, figure: signal.figure,
                        reason: set.missing[signal.figure] ?? "this report does not give \(signal.figure)"))
                }
                for scope in fed {
                    guard let finding = finding(rule, signal, scope) else { continue }
                    let key = rule.id + "\u{0}" + scope.name
                    if let current = best[key] {
                        if Self.outranks(finding, current) { best[key] = finding }
                    } else {
                        best[key] = finding
                        order.append(key)
                    }
                }
            }
            // A rule one of whose signals could be read was evaluated; only a rule none could feed is listed.
            if !anyFed { unevaluated += starved }
        }
        let findings = order.compactMap { best[$0] }.sorted(by: Self.ranking)
        return Advice(rulesVersion: book.version, rulesEvaluated: evaluated, findings: findings,
                      unevaluated: unevaluated, notes: set.notes)
    }

    func finding(_ rule: RuleBook.Rule, _ signal: RuleBook.Signal, _ scope: FigureSet.Scope) -> Finding? {
        guard let value = scope.values[signal.figure], let crossing = signal.crossing(value) else { return nil }
        let info = book.info(signal.figure)
        let threshold = CrossedThreshold(figure: signal.figure, value: value, limit: crossing.limit,
                                         direction: crossing.direction, unit: info.unit, level: crossing.level)
        var names = [signal.figure]
        for name in signal.evidence where !names.contains(name) { names.append(name) }
        let evidence = names.compactMap { name -> Evidence? in
            guard let value = scope.values[name] else { return nil }
            let info = book.info(name)
            return Evidence(figure: name, label: info.label, value: value, unit: info.unit)
        }
        let cost = signal.cost.flatMap { scope.values[$0] }
        // The addresses behind a device-access cause: the table's order (most time first), those
        // that took this rule's path.
        let accesses = signal.accesses.map { selection in Array(scope.accesses.filter { selection.count($0) > 0 }.prefix(3)) }
        return Finding(rule: rule.id, title: rule.title, level: crossing.level, scope: scope.name, vm: scope.vm,
                       threshold: threshold, costRatio: cost, costBasis: cost == nil ? nil : signal.costBasis,
                       evidence: evidence, accesses: accesses?.isEmpty == false ? accesses : nil,
                       cause: rule.cause, remedy: rule.remedy, references: rule.references)
    }

    /// Between two signals of one rule on one scope: the higher level, then the one that knows its cost.
    static func outranks(_ a: Finding, _ b: Finding) -> Bool {
        if a.level != b.level { return a.level > b.level }
        if (a.costRatio == nil) != (b.costRatio == nil) { return a.costRatio != nil }
        return false
    }

    /// Most time first; causes whose cost the report cannot tell come after, by level.
    static func ranking(_ a: Finding, _ b: Finding) -> Bool {
        switch (a.costRatio, b.costRatio) {
        case let (x?, y?) where x != y: return x > y
        case (.some, nil): return true
        case (nil, .some): return false
        default: break
        }
        if a.level != b.level { return a.level > b.level }
        if a.rule != b.rule { return a.rule < b.rule }
        return a.scope < b.scope
    }
}
