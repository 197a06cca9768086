/// Numbers as text with a fixed number of decimals, the same on every host: Foundation's formatters
/// follow the locale (a comma on a German host), and `String(Double)` switches to exponents.
/// Analysis findings (words built in HVTaxHost) and the renderers share it, so a figure reads the
/// same in a finding and in the table beside it.
public enum DecimalText {
    /// `fixed(12.345, 1)` -> `12.3`; `fixed(-0.04, 1)` -> `0.0` (no minus on a value that rounds to zero);
    /// not finite -> `n/a`; too large for whole units and decimals in 64 bits (a damaged JSON input's
    /// 1e308) -> the shortest exponent form, `1e+308`, rather than a trap in the conversion.
    public static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 0x1p64 else { return "\(value)" }
        let whole = UInt64(scaled / scale)
        var text = (value < 0 && scaled > 0 ? "-" : "") + String(whole)
        if digits > 0 {
            let fraction = String(UInt64(scaled - Double(whole) * scale))
            text += "." + String(repeating: "0", count: max(0, digits - fraction.count)) + fraction
        }
        return text
    }
}
