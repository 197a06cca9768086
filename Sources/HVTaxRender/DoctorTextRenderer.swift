import HVTaxModel

/// `hvtax doctor` for a terminal: one aligned line per check, the remedy under it, and a summary
/// line that says what the exit status will be. Colour comes from the style the command picks
/// (only on a TTY by default), so piped output and golden tests stay plain.
public struct DoctorTextRenderer: Sendable {
    public let style: TerminalStyle

    public init(style: TerminalStyle = TerminalStyle(colour: false)) { self.style = style }

    public func render(_ report: DoctorReport) -> String {
        var out = header(report.host) + "\n\n"
        let titleWidth = report.checks.map(\.title.count).max() ?? 0
        // "  PASS  " then the title column: remedies start under the detail.
        let indent = String(repeating: " ", count: 2 + 4 + 2 + titleWidth + 2)
        for check in report.checks {
            let title = check.title + String(repeating: " ", count: titleWidth - check.title.count)
            out += "  \(badge(check.status))  \(title)  \(check.detail)\n"
            if let remedy = check.remedy {
                out += indent + style.apply(.dim, "remedy: ") + remedy + "\n"
            }
        }
        let s = report.summary
        let verdict =
            report.exitCode == 0
            ? "exit status 0 (no check failed)" : "exit status \(report.exitCode) (\(Formatting.count(s.fail, "check")) failed)"
        out += "\n\(Formatting.count(report.checks.count, "check")): \(s.pass) pass, \(s.warn) warn, \(s.fail) fail, \(s.info) info; \(verdict)\n"
        return out
    }

    func header(_ host: DoctorHost) -> String {
        var facts: [String] = []
        if let hostname = host.hostname { facts.append("host \(hostname)") }
        if let release = host.kernelRelease { facts.append("kernel \(release)") }
        if let cpus = host.cpus { facts.append(Formatting.count(cpus, "CPU")) }
        facts.append("running as \(host.user)")
        if host.root != "/" { facts.append("host files under \(host.root)") }
        return style.apply(.heading, "hvtax doctor") + ": " + facts.joined(separator: ", ")
    }

    func badge(_ status: DoctorStatus) -> String {
        switch status {
        case .pass: style.apply(.ok, "PASS")
        case .warn: style.apply(.warning, "WARN")
        case .fail: style.apply(.critical, "FAIL")
        case .info: style.apply(.heading, "INFO")
        }
    }
}
