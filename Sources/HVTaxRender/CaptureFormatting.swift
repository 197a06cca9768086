import HVTaxModel

/// How capture figures read in tables; the numbers themselves go through `Formatting`.
enum CaptureFormat {
    static func percent(_ ratio: Double) -> String { Formatting.fixed(ratio * 100, 1) + "%" }

    static func value(_ value: Double, unit: CaptureFigureUnit) -> String {
        switch unit {
        case .ratio: percent(value)
        case .perSecond: value >= 100 ? grouped(value) : Formatting.fixed(value, 1)
        // Dispatch waits run to tens of thousands of ns, and the thresholds are written that way.
        case .nanoseconds: grouped(value) + " ns"
        }
    }

    /// Rounded to a whole number with thousands separated.
    static func grouped(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 9e18 else { return Formatting.fixed(value, 0) }
        let rounded = value.rounded()
        return (rounded < 0 ? "-" : "") + Formatting.grouped(UInt64(abs(rounded)))
    }

    static func seconds(_ seconds: Double) -> String {
        // Not finite or past Int (a damaged capture's times): printed rather than trapped on.
        guard seconds.isFinite, seconds < 9e18 else { return Formatting.fixed(seconds, 0) + " s" }
        if seconds < 60 { return Formatting.fixed(seconds, seconds < 10 ? 1 : 0) + " s" }
        let total = Int(seconds.rounded())
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \(total / 60 % 60)m"
    }

    /// Problems in colour; an ok figure stays plain so the eye goes to what is not.
    static func tone(_ level: Level?) -> TerminalStyle.Tone {
        switch level {
        case .critical: .critical
        case .warning: .warning
        case .unavailable: .dim
        case .ok, nil: .plain
        }
    }
}
