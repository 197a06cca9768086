/// An aligned text table: text columns left, numbers right, widths from the content.
public struct TextTable {
    public enum Alignment: Sendable { case left, right }

    public struct Cell {
        public var text: String
        public var style: TerminalStyle.Tone

        public init(_ text: String, _ style: TerminalStyle.Tone = .plain) {
            self.text = text
            self.style = style
        }
    }

    private let headers: [String]
    private let alignments: [Alignment]
    private var rows: [[Cell]] = []

    public init(_ columns: [(String, Alignment)]) {
        headers = columns.map(\.0)
        alignments = columns.map(\.1)
    }

    public mutating func add(_ cells: [Cell]) { rows.append(cells) }
    public mutating func add(_ cells: [String]) { rows.append(cells.map { Cell($0) }) }

    public var isEmpty: Bool { rows.isEmpty }

    public func render(style: TerminalStyle, indent: String = "  ") -> String {
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.text.count)
            }
        }
        func line(_ cells: [Cell], header: Bool) -> String {
            var parts: [String] = []
            for (index, cell) in cells.enumerated() where index < widths.count {
                let pad = String(repeating: " ", count: widths[index] - cell.text.count)
                let padded = alignments[index] == .left ? cell.text + pad : pad + cell.text
                parts.append(header ? style.apply(.heading, padded) : style.apply(cell.style, padded))
            }
            var text = indent + parts.joined(separator: "  ")
            while text.last == " " { text.removeLast() }
            return text
        }
        var out = [line(headers.map { Cell($0) }, header: true)]
        out += rows.map { line($0, header: false) }
        return out.joined(separator: "\n")
    }
}

/// ANSI colour, only when writing to a terminal (or when asked).
public struct TerminalStyle: Sendable {
    public enum Tone: Sendable { case plain, heading, title, ok, warning, critical, dim }

    public let colour: Bool

    public init(colour: Bool) { self.colour = colour }

    public func apply(_ tone: Tone, _ text: String) -> String {
        guard colour, tone != .plain else { return text }
        let code: String
        switch tone {
        case .plain: return text
        case .heading: code = "1"
        case .title: code = "1;4"
        case .ok: code = "32"
        case .warning: code = "33"
        case .critical: code = "1;31"
        case .dim: code = "2"
        }
        return "\u{1b}[\(code)m\(text)\u{1b}[0m"
    }
}
