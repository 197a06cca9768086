import HVTaxModel

/// How both comparison renderers word a difference and a test.
enum ComparisonFormatting {
    /// A ratio B/A as a signed change: 1.25 -> `+25.0%`.
    static func change(_ ratio: Double?) -> String {
        guard let ratio, ratio.isFinite else { return "-" }
        let percent = (ratio - 1) * 100
        return (percent >= 0 ? "+" : "") + Formatting.fixed(percent, 1) + "%"
    }

    /// A difference of two shares in percentage points: `+1.3 pp`.
    static func points(_ difference: Double?) -> String {
        guard let difference else { return "-" }
        let value = difference * 100
        return (value >= 0 ? "+" : "") + Formatting.fixed(value, 1) + " pp"
    }

    /// `p=0.0434`, or `p<0.0001` below what four decimals show.
    static func pValue(_ p: Double) -> String {
        p < 1e-4 ? "p<0.0001" : "p=" + Formatting.fixed(p, 4)
    }

    /// `B slower (p<0.0001, P(B>A)=0.66)`, `same (p=0.4100)` (no significant difference), or `not tested`.
    static func verdict(latency test: TraceComparison.SignificanceTest?) -> String {
        guard let test else { return "not tested" }
        guard test.significant else { return "same (\(pValue(test.pValue)))" }
        return (test.z > 0 ? "B slower" : "B faster") + " (\(pValue(test.pValue)), P(B>A)=\(Formatting.fixed(test.effect, 2)))"
    }

    static func verdict(rate test: TraceComparison.SignificanceTest?) -> String {
        guard let test else { return "not tested" }
        guard test.significant else { return "same (\(pValue(test.pValue)))" }
        return (test.z > 0 ? "B more" : "B fewer") + " (\(pValue(test.pValue)))"
    }
}
