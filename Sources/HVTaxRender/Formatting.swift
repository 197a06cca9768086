import HVTaxModel

/// Human formatting of the report's numbers: durations with units, percentages, grouped counts.
public enum Formatting {
    /// `1.23 µs`, `45.6 ms`, `3.200 s` for nanoseconds; `12.3M ticks` for raw counter units.
    public static func duration(_ value: UInt64, unit: ClockInfo.Unit) -> String {
        duration(Double(value), unit: unit)
    }

    public static func duration(_ value: Double, unit: ClockInfo.Unit) -> String {
        if unit == .ticks { return compact(value) + " ticks" }
        switch value {
        case ..<1_000: return fixed(value, 0) + " ns"
        case ..<1_000_000: return fixed(value / 1e3, 2) + " µs"
        case ..<1_000_000_000: return fixed(value / 1e6, 2) + " ms"
        default: return fixed(value / 1e9, 3) + " s"
        }
    }

    /// A ratio 0-1 as a percentage, `n/a` when unavailable.
    public static func percent(_ ratio: Double?, digits: Int = 1) -> String {
        guard let ratio else { return "n/a" }
        return fixed(ratio * 100, digits) + "%"
    }

    public static func share(_ part: UInt64, of whole: UInt64) -> String {
        whole == 0 ? "-" : percent(Double(part) / Double(whole))
    }

    /// Text content and attribute values for HTML and SVG, with `&`, `<`, `>`, `"` and `'` escaped.
    public static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// `3 VMs`, `1 VM`: a count and its noun, which takes an s unless the count is one.
    public static func count(_ value: Int, _ noun: String) -> String {
        "\(value) \(noun)\(value == 1 ? "" : "s")"
    }

    /// 1234567 -> `1,234,567`.
    public static func grouped(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }

    /// 12345678 -> `12.3M`.
    public static func compact(_ value: Double) -> String {
        switch abs(value) {
        case ..<10_000: return fixed(value, value == value.rounded() ? 0 : 1)
        case ..<10_000_000: return fixed(value / 1e3, 1) + "k"
        case ..<10_000_000_000: return fixed(value / 1e6, 1) + "M"
        default: return fixed(value / 1e9, 1) + "G"
        }
    }

    public static func rate(_ perSecond: Double, unit: ClockInfo.Unit) -> String {
        unit == .ticks ? "n/a" : compact(perSecond) + "/s"
    }

    /// A fixed number of decimals without Foundation's locale-dependent formatters.
    public static func fixed(_ value: Double, _ digits: Int) -> String { DecimalText.fixed(value, digits) }
}
