import HVTaxModel

/// The few SVG and HTML pieces the charts are made of, as text: no DOM, no scripts, so a page
/// renders the same in any browser and opens without network access.
enum SVG {
    /// Text content and attribute values with `&`, `<`, `>`, `"` and `'` escaped.
    static func escape(_ text: String) -> String { Formatting.html(text) }

    /// A coordinate with one decimal: enough on a 1000-unit canvas, and keeps files small.
    static func n(_ value: Double) -> String { Formatting.fixed(value.isFinite ? value : 0, 1) }

    static func open(width: Double, height: Double, label: String) -> String {
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(n(width)) \(n(height))\" width=\"\(n(width))\" height=\"\(n(height))\" role=\"img\" aria-label=\"\(escape(label))\">"
    }

    static func rect(x: Double, y: Double, width: Double, height: Double, fill: String, title: String? = nil) -> String {
        let shape = "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(max(0, width)))\" height=\"\(n(max(0, height)))\" fill=\"\(fill)\""
        guard let title else { return shape + "/>" }
        return shape + "><title>\(escape(title))</title></rect>"
    }

    static func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#999", dash: Bool = false) -> String {
        "<line x1=\"\(n(x1))\" y1=\"\(n(y1))\" x2=\"\(n(x2))\" y2=\"\(n(y2))\" stroke=\"\(stroke)\"\(dash ? " stroke-dasharray=\"4 3\"" : "")/>"
    }

    enum Anchor: String { case start, middle, end }

    static func text(_ content: String, x: Double, y: Double, anchor: Anchor = .start, size: Double = 11,
                     fill: String = "#333", bold: Bool = false) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor.rawValue)\" font-size=\"\(n(size))\" fill=\"\(fill)\"\(bold ? " font-weight=\"bold\"" : "")>\(escape(content))</text>"
    }

    static func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5, title: String? = nil) -> String {
        let coordinates = points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ")
        let shape = "<polyline fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(n(width))\" points=\"\(coordinates)\""
        guard let title else { return shape + "/>" }
        return shape + "><title>\(escape(title))</title></polyline>"
    }

    static func polygon(_ points: [(Double, Double)], fill: String, title: String? = nil) -> String {
        let coordinates = points.map { "\(n($0.0)),\(n($0.1))" }.joined(separator: " ")
        let shape = "<polygon fill=\"\(fill)\" stroke=\"none\" points=\"\(coordinates)\""
        guard let title else { return shape + "/>" }
        return shape + "><title>\(escape(title))</title></polygon>"
    }

    /// A row of coloured squares with names.
    static func legend(_ entries: [(name: String, colour: String)], x: Double, y: Double, spacing: Double = 110) -> String {
        entries.enumerated().map { index, entry in
            rect(x: x + Double(index) * spacing, y: y - 9, width: 10, height: 10, fill: entry.colour)
                + text(entry.name, x: x + Double(index) * spacing + 14, y: y)
        }.joined()
    }
}

/// One colour per state and per path, the same in every chart of a page.
enum ChartPalette {
    static func colour(_ state: VCPUState) -> String {
        switch state {
        case .guest: "#43a047"
        case .hypervisor: "#e53935"
        case .vmm: "#fb8c00"
        case .preempted: "#8e24aa"
        case .halted: "#b0bec5"
        case .unknown: "#d7ccc8"
        }
    }

    static func colour(_ path: ExitPath) -> String {
        switch path {
        case .kernel: "#1e88e5"
        case .vmm: "#fb8c00"
        case .interrupt: "#6d4c41"
        }
    }

    /// Distinct colours for lines of several series (reasons in a CDF, runs in a comparison).
    static let series = ["#1e88e5", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#d81b60",
                         "#3949ab", "#7cb342", "#f4511e", "#546e7a"]

    static func series(_ index: Int) -> String { series[index % series.count] }
}
