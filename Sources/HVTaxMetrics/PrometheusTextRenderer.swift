/// Writes metric families in Prometheus' text format 0.0.4 or OpenMetrics 1.0.0, the two formats
/// a Prometheus server scrapes. Values use the shortest decimal that reads back to the same Double
/// (Swift's description), NaN and infinities as the formats spell them.
public struct PrometheusTextRenderer: Sendable {
    public var format: ExpositionFormat

    public init(format: ExpositionFormat) {
        self.format = format
    }

    public func render(_ families: [MetricFamily]) -> String {
        var out = ""
        out.reserveCapacity(families.reduce(0) { $0 + 200 + $1.samples.count * 80 })
        for family in families { append(family, to: &out) }
        if format == .openMetrics { out += "# EOF\n" }
        return out
    }

    public func append(_ family: MetricFamily, to out: inout String) {
        let d = family.descriptor
        let metadataName: String
        let typeName: String
        switch format {
        case .prometheusText:
            metadataName = d.exposedName
            typeName = d.type == .info ? "gauge" : d.type.rawValue
        case .openMetrics:
            metadataName = d.name
            typeName = d.type.rawValue
        }
        out += "# HELP \(metadataName) \(format == .openMetrics ? Self.escapeLabel(d.help) : Self.escapeHelp(d.help))\n# TYPE \(metadataName) \(typeName)\n"
        // OpenMetrics' UNIT must be a suffix of the family name.
        if format == .openMetrics, !d.unit.isEmpty, d.name.hasSuffix("_" + d.unit) { out += "# UNIT \(d.name) \(d.unit)\n" }
        for sample in family.samples {
            switch sample.value {
            case .number(let value):
                out += d.exposedName
                appendLabels(d.labels, sample.labelValues, extra: nil, to: &out)
                out += " " + Self.number(value) + "\n"
            case .histogram(let buckets, let sum, let count):
                for bucket in buckets {
                    out += d.name + "_bucket"
                    appendLabels(d.labels, sample.labelValues, extra: ("le", Self.number(bucket.upperBound)), to: &out)
                    out += " \(bucket.cumulativeCount)\n"
                }
                out += d.name + "_bucket"
                appendLabels(d.labels, sample.labelValues, extra: ("le", "+Inf"), to: &out)
                out += " \(count)\n"
                out += d.name + "_sum"
                appendLabels(d.labels, sample.labelValues, extra: nil, to: &out)
                out += " " + Self.number(sum) + "\n"
                out += d.name + "_count"
                appendLabels(d.labels, sample.labelValues, extra: nil, to: &out)
                out += " \(count)\n"
            }
        }
    }

    private func appendLabels(_ names: [String], _ values: [String], extra: (String, String)?, to out: inout String) {
        guard !names.isEmpty || extra != nil else { return }
        out += "{"
        var first = true
        for (name, value) in zip(names, values) {
            if !first { out += "," }
            first = false
            out += name + "=\"" + Self.escapeLabel(value) + "\""
        }
        if let (name, value) = extra {
            if !first { out += "," }
            out += name + "=\"" + value + "\""
        }
        out += "}"
    }

    public static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return value.description
    }

    /// Label values escape backslash, double quote and line feed (both formats).
    public static func escapeLabel(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// HELP text escapes backslash and line feed in the 0.0.4 format (OpenMetrics escapes it as a label value).
    public static func escapeHelp(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\n" }) else { return value }
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }
}
