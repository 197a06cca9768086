/// The two text formats Prometheus scrapes, and which one a client asked for.
public enum ExpositionFormat: Sendable, CaseIterable {
    /// Prometheus text format 0.0.4.
    case prometheusText
    /// OpenMetrics 1.0.0.
    case openMetrics

    public var contentType: String {
        switch self {
        case .prometheusText: "text/plain; version=0.0.4; charset=utf-8"
        case .openMetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8"
        }
    }

    /// Content negotiation on an Accept header, the way Prometheus' client libraries do it:
    /// OpenMetrics when the client lists `application/openmetrics-text` (Prometheus sends it first,
    /// with a q value, when it can parse it) with a q above the text format's, the 0.0.4 text
    /// format otherwise (and with no header at all).
    public static func negotiate(accept: String?) -> ExpositionFormat {
        guard let accept else { return .prometheusText }
        var openMetricsQ = -1.0
        var textQ = -1.0
        for range in accept.split(separator: ",") {
            let parts = range.split(separator: ";").map { $0.trimmingSpaces() }
            guard let type = parts.first?.lowercased() else { continue }
            var q = 1.0
            var version: String?
            for parameter in parts.dropFirst() {
                let kv = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces() }
                guard kv.count == 2 else { continue }
                if kv[0].lowercased() == "q" { q = Double(kv[1]) ?? 0 }
                if kv[0].lowercased() == "version" { version = kv[1] }
            }
            switch type {
            case "application/openmetrics-text":
                // Only 1.0.0 (or unversioned) is what this renderer writes.
                if version == nil || version == "1.0.0" { openMetricsQ = max(openMetricsQ, q) }
            case "text/plain", "*/*", "text/*":
                textQ = max(textQ, q)
            default:
                continue
            }
        }
        return openMetricsQ > 0 && openMetricsQ >= textQ ? .openMetrics : .prometheusText
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return String(s)
    }
}
