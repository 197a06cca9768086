/// Durations as people write them on a command line or in a config file: `500ms`, `15s`, `10m`, `2h`,
/// `7d`, `250us` (or `µs`), `100ns`, or a bare number of seconds. Every command and the serve config
/// read durations through this one parser, so `--interval`, `--duration`, `--period` and
/// `sample_interval` accept the same words.
public enum DurationText {
    /// Longest suffix first where one ends another (`ms` before `s`).
    static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9), ("d", 86_400e9),
    ]

    /// The words `nanoseconds` takes, for error messages.
    public static let expected = "a number with a unit: ns, us, ms, s, m, h or d (e.g. 500ms, 15s, 3m); a bare number is seconds"

    /// nil for anything else: no number, a unit not listed, a negative or not-finite number, or more
    /// than UInt64 nanoseconds (584 years), which would trap in the conversion rather than fail.
    public static func nanoseconds(_ text: String) -> UInt64? {
        var word = Substring(text)  // a config file may pad the value
        while let first = word.first, first == " " || first == "\t" { word.removeFirst() }
        while let last = word.last, last == " " || last == "\t" { word.removeLast() }
        for unit in units where word.hasSuffix(unit.suffix) {
            if let value = Double(word.dropLast(unit.suffix.count)) { return nanoseconds(value, scale: unit.nanoseconds) }
        }
        guard let seconds = Double(word) else { return nil }
        return nanoseconds(seconds, scale: 1e9)
    }

    /// The words for `nanoseconds` that `nanoseconds(_:)` reads back to the same number: the largest
    /// unit that divides it (`5s`, `1500ms`, `3m`), for help texts and messages.
    public static func text(nanoseconds: UInt64) -> String {
        guard nanoseconds > 0 else { return "0s" }
        for (suffix, size) in [("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000),
                               ("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)] as [(String, UInt64)]
            where nanoseconds % size == 0 {
            return "\(nanoseconds / size)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }

    /// A number of seconds (a config file's `sample_interval: 2.5`), with the same limits.
    public static func nanoseconds(seconds: Double) -> UInt64? { nanoseconds(seconds, scale: 1e9) }

    /// Rounded, not truncated: 0.3 s is 299,999,999.99999994 ns in binary floating point.
    static func nanoseconds(_ value: Double, scale: Double) -> UInt64? {
        let ns = (value * scale).rounded()
        guard value >= 0, ns.isFinite, ns < 18_446_744_073_709_551_616.0 else { return nil }
        return UInt64(ns)
    }
}
