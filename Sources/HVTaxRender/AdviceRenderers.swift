import HVTaxModel

/// The findings at the end of every text report: ranked, each with the threshold it crossed, its
/// evidence, cause, remedy and references; then the rules the report could not feed and the notes.
public struct AdviceTextRenderer: Sendable {
    public let style: TerminalStyle
    /// Findings shown in full; the rest are listed by title (all are in the JSON).
    public var maxFindings = 12

    public init(style: TerminalStyle) { self.style = style }

    public func render(_ advice: Advice) -> String {
        var lines = [style.apply(.title, "Findings") + style.apply(.dim, "  (ranked by the time they cost; \(Formatting.count(advice.rulesEvaluated, "rule")) of \(advice.rulesVersion), docs/advice.md)")]
        if advice.findings.isEmpty {
            lines.append("  no rule crossed its threshold")
        }
        var explained: [String: Int] = [:]
        for (index, finding) in advice.findings.enumerated() {
            let tone: TerminalStyle.Tone = finding.level == .critical ? .critical : .warning
            let head = "  \(index + 1). " + style.apply(tone, finding.level.rawValue) + " " + finding.scope + ": " + finding.title
            guard index < maxFindings else {
                lines.append(head)
                continue
            }
            lines.append(style.apply(.heading, head))
            if let cost = finding.costRatio {
                lines.append("     costs \(Formatting.percent(cost)) of \(finding.costBasis ?? "the scope's time")")
            }
            lines.append("     threshold: " + Self.threshold(finding.threshold) + " (rule \(finding.rule))")
            let evidence = finding.evidence.filter { $0.figure != finding.threshold.figure }
            if !evidence.isEmpty {
                lines.append("     evidence: " + evidence.map { "\($0.label) \(Self.value($0.value, $0.unit))" }.joined(separator: "; "))
            }
            if let accesses = finding.accesses {
                lines.append("     where: " + accesses.map(Self.access).joined(separator: "; "))
            }
            // Several VMs often share a cause: its words once, then a pointer back.
            if let first = explained[finding.rule] {
                lines.append(style.apply(.dim, "     cause and remedy: as in \(first)."))
                continue
            }
            explained[finding.rule] = index + 1
            lines.append("     cause: " + finding.cause)
            lines.append("     remedy: " + finding.remedy)
            if !finding.references.isEmpty { lines.append(style.apply(.dim, "     see: " + finding.references.joined(separator: "; "))) }
        }
        for rule in advice.unevaluated {
            lines.append(style.apply(.dim, "  not evaluated: \(rule.rule) (\(rule.figure)): \(rule.reason)"))
        }
        for note in advice.notes { lines.append("  note: " + note) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `0x3f8:POUT (COM1) 2,000 accesses, 1,990 through the VMM`: an address behind a finding
    /// (counts only: the advice does not know the trace's clock unit; the report's table has times).
    static func access(_ access: DeviceAccessStats) -> String {
        var text = access.key + (access.device.map { " (\($0))" } ?? "")
        text += " \(Formatting.grouped(access.count)) access\(access.count == 1 ? "" : "es")"
        if let vmm = access.throughVMM { text += ", \(Formatting.grouped(vmm)) through the VMM" }
        return text
    }

    /// `exits.io.timeShare 7.3% > 5.0% (critical)`.
    public static func threshold(_ t: CrossedThreshold) -> String {
        "\(t.figure) \(value(t.value, t.unit)) \(t.direction == .above ? ">" : "<") \(value(t.limit, t.unit)) (\(t.level.rawValue))"
    }

    public static func value(_ value: Double, _ unit: FigureUnit) -> String {
        switch unit {
        case .ratio: Formatting.percent(value, digits: value != 0 && abs(value) < 0.001 ? 3 : 1)
        case .perSecond: Formatting.compact(value) + "/s"
        case .nanoseconds: Formatting.duration(value, unit: .ns)
        case .count: Formatting.compact(value)
        }
    }
}

/// The findings as an HTML section, for `hvtax report --html`.
struct AdviceHTMLSection {
    static func render(_ advice: Advice, into page: inout HTMLPage) {
        page.heading("Findings", id: "findings")
        page.paragraph("Ranked by the time they cost; \(Formatting.count(advice.rulesEvaluated, "rule")) of \(advice.rulesVersion) (docs/advice.md).", className: "note")
        if advice.findings.isEmpty { page.paragraph("No rule crossed its threshold.") }
        var markup = "<ol class=\"findings\">"
        for finding in advice.findings {
            markup += "<li><b class=\"\(finding.level.rawValue)\">\(finding.level.rawValue)</b> <b>\(SVG.escape(finding.scope)): \(SVG.escape(finding.title))</b><br>"
            if let cost = finding.costRatio {
                markup += "costs \(Formatting.percent(cost)) of \(SVG.escape(finding.costBasis ?? "the scope's time"))<br>"
            }
            markup += "threshold: <code>\(SVG.escape(AdviceTextRenderer.threshold(finding.threshold)))</code> (rule <code>\(SVG.escape(finding.rule))</code>)<br>"
            let evidence = finding.evidence.filter { $0.figure != finding.threshold.figure }
            if !evidence.isEmpty {
                markup += "evidence: " + evidence.map { SVG.escape("\($0.label) \(AdviceTextRenderer.value($0.value, $0.unit))") }.joined(separator: "; ") + "<br>"
            }
            if let accesses = finding.accesses {
                markup += "where: " + accesses.map { SVG.escape(AdviceTextRenderer.access($0)) }.joined(separator: "; ") + "<br>"
            }
            markup += "cause: \(SVG.escape(finding.cause))<br>remedy: \(SVG.escape(finding.remedy))"
            if !finding.references.isEmpty {
                markup += "<br><span class=\"note\">see: \(SVG.escape(finding.references.joined(separator: "; ")))</span>"
            }
            markup += "</li>"
        }
        markup += "</ol>"
        page.raw(markup)
        for rule in advice.unevaluated {
            page.paragraph("not evaluated: \(rule.rule) (\(rule.figure)): \(rule.reason)", className: "note")
        }
        for note in advice.notes { page.paragraph("note: " + note, className: "note") }
    }
}

extension String {
    func dropLastNewline() -> String { hasSuffix("\n") ? String(dropLast()) : self }
}
