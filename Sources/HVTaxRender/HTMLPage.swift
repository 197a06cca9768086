/// The page around the charts: one HTML file with its style inline, no scripts, no fonts, no
/// links, so it opens anywhere without network access (and mails or attaches as one file).
struct HTMLPage {
    var title: String
    private(set) var body = ""

    init(title: String) { self.title = title }

    mutating func heading(_ text: String, id: String) {
        body += "<h2 id=\"\(id)\">\(SVG.escape(text))</h2>\n"
    }

    mutating func paragraph(_ text: String, className: String? = nil) {
        body += "<p\(className.map { " class=\"\($0)\"" } ?? "")>\(SVG.escape(text))</p>\n"
    }

    /// Raw markup (SVG charts, prepared fragments).
    mutating func raw(_ markup: String) {
        body += markup + "\n"
    }

    /// A figure: one chart with a caption, in a box a test (or a reader) can find by its id.
    mutating func figure(id: String, caption: String, _ svg: String) {
        body += "<figure id=\"\(id)\">\(svg)<figcaption>\(SVG.escape(caption))</figcaption></figure>\n"
    }

    /// A table; cells are escaped. Numeric-looking columns are right-aligned by `numeric`.
    mutating func table(_ header: [String], _ rows: [[String]], numeric: Set<Int> = [], className: String? = nil, note: String? = nil) {
        var out = "<table\(className.map { " class=\"\($0)\"" } ?? "")><thead><tr>"
        for (index, cell) in header.enumerated() { out += "<th\(numeric.contains(index) ? " class=\"n\"" : "")>\(SVG.escape(cell))</th>" }
        out += "</tr></thead><tbody>"
        for row in rows {
            out += "<tr>"
            for (index, cell) in row.enumerated() { out += "<td\(numeric.contains(index) ? " class=\"n\"" : "")>\(SVG.escape(cell))</td>" }
            out += "</tr>"
        }
        out += "</tbody></table>\n"
        body += out
        if let note { paragraph(note, className: "note") }
    }

    func render() -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(SVG.escape(title))</title>
        <style>
        body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; background: #fff; padding: 0 16px; }
        h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        .sub, .note { color: #666; font-size: 13px; } figure { margin: 12px 0; } figcaption { color: #666; font-size: 12px; }
        svg { max-width: 100%; height: auto; font-family: inherit; display: block; }
        table { border-collapse: collapse; font-size: 12px; margin: 8px 0; } th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; white-space: nowrap; }
        th { background: #f6f6f6; } td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
        .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 14px 0; } .card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
        .card b { display: block; font-size: 20px; } .card span { color: #666; font-size: 12px; }
        .ok { color: #2e7d32; } .warning { color: #b26a00; } .critical { color: #c62828; } .unavailable { color: #888; }
        .grid { display: flex; flex-wrap: wrap; gap: 8px; } .grid svg { width: 310px; }
        .sig { font-weight: bold; } .scroll { overflow-x: auto; }
        </style></head><body>
        \(body)</body></html>

        """
    }
}
