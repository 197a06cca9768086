import HVTaxModel

/// Number formatting for capture reports, without Foundation's locale-dependent formatters:
/// the output must be the same on every machine (golden tests, diffs between runs).
enum CaptureFormat {
    /// `value` with `decimals` digits after the point, rounded half away from zero.
    static func fixed(_ value: Double, _ decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        // Beyond 2^63 no one reads the digits; keep them, but through the Double description.
        guard scaled < 9.2e18 else { return String(value) }
        let integer = UInt64(scaled)
        let whole = integer / UInt64(scale)
        var text = grouped(whole)
        if decimals > 0 {
            let fraction = String(integer % UInt64(scale))
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return (value < 0 && scaled != 0 ? "-" : "") + text
    }

    /// Thousands separated by commas: dispatch waits run to tens of thousands of nanoseconds.
    static func grouped(_ value: UInt64) -> String {
        let digits = String(value)
        var out = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return out
    }

    static func percent(_ ratio: Double) -> String { fixed(ratio * 100, 1) + "%" }

    static func value(_ value: Double, unit: CaptureFigureUnit) -> String {
        switch unit {
        case .ratio: percent(value)
        case .perSecond: value >= 100 ? fixed(value, 0) : fixed(value, 1)
        case .nanoseconds: fixed(value, 0) + " ns"
        }
    }

    static func seconds(_ seconds: Double) -> String {
        if seconds < 60 { return fixed(seconds, seconds < 10 ? 1 : 0) + " s" }
        let total = Int(seconds.rounded())
        if total < 3600 { return "\(total / 60)m \(total % 60)s" }
        return "\(total / 3600)h \(total / 60 % 60)m"
    }
}

/// ANSI colour for levels, used only when the output is a terminal.
struct CapturePainter {
    var enabled: Bool

    func paint(_ text: String, _ level: Level) -> String {
        guard enabled else { return text }
        switch level {
        case .critical: return "\u{1B}[31m\(text)\u{1B}[0m"
        case .warning: return "\u{1B}[33m\(text)\u{1B}[0m"
        case .ok: return "\u{1B}[32m\(text)\u{1B}[0m"
        case .unavailable: return "\u{1B}[2m\(text)\u{1B}[0m"
        }
    }

    func bold(_ text: String) -> String { enabled ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
}

/// A table whose columns are as wide as their widest cell. Widths are measured on the plain text,
/// so colour codes added afterwards do not break the alignment.
struct CaptureTable {
    enum Alignment { case left, right }

    struct Cell {
        var text: String
        var level: Level?
    }

    var headers: [String]
    var alignments: [Alignment]
    var rows: [[Cell]] = []

    init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    mutating func add(_ cells: [Cell]) { rows.append(cells) }

    func render(indent: String = "  ", painter: CapturePainter) -> [String] {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.text.count)
            }
        }
        func pad(_ text: String, _ index: Int) -> String {
            let gap = String(repeating: " ", count: max(0, widths[index] - text.count))
            return alignments[index] == .left ? text + gap : gap + text
        }
        var lines = [indent + headers.indices.map { pad(headers[$0], $0) }.joined(separator: "  ")]
        for row in rows {
            let cells = row.indices.map { index -> String in
                let padded = pad(row[index].text, index)
                guard let level = row[index].level, level != .ok else { return padded }
                return painter.paint(padded, level)
            }
            lines.append(indent + cells.joined(separator: "  "))
        }
        return lines.map { line in
            var trimmed = Substring(line)
            while trimmed.last == " " { trimmed = trimmed.dropLast() }
            return String(trimmed)
        }
    }
}
