import HVTaxMetrics

/// The metric families of `hvtax serve` as InfluxDB line protocol, one line per series:
///
///     hvtax_vm_steal_ratio,vm=web01 value=0.042 1763800000000000000
///
/// The measurement is the series' Prometheus name (`_total` on counters, `_info` on info
/// metrics), the labels are tags (a label with an empty value is left out, as Influx has no empty
/// tags), and the value is the float field `value`. A histogram is one line with fields `count`,
/// `sum` and one field per cumulative bucket named by its upper bound (`0.001`, `+Inf`), the shape
/// Telegraf's Prometheus input writes. Timestamps are nanoseconds. docs/export.md has the mapping.
public struct InfluxLineProtocol: Sendable {
    public init() {}

    /// Series whose value is NaN or infinite are not representable in line protocol: they are
    /// left out and counted here rather than silently dropped.
    public struct Encoded: Sendable, Equatable {
        public var body: String
        public var lines: Int
        public var skippedNonFinite: Int
    }

    public func encode(_ families: [MetricFamily], timestampNs: UInt64) -> Encoded {
        var out = ""
        var lines = 0
        var skipped = 0
        for family in families {
            let measurement = Self.escape(family.descriptor.exposedName, Self.measurementSpecials)
            for sample in family.samples {
                var fields: [(String, Double)] = []
                switch sample.value {
                case .number(let value):
                    fields = [("value", value)]
                case .histogram(let buckets, let sum, let count):
                    fields = [("count", Double(count)), ("sum", sum)]
                    fields += buckets.map { (Self.bound($0.upperBound), Double($0.cumulativeCount)) }
                    if buckets.last?.upperBound.isInfinite != true { fields.append(("+Inf", Double(count))) }
                }
                guard fields.allSatisfy({ $0.1.isFinite }) else {
                    skipped += 1
                    continue
                }
                out += measurement
                // Tags sorted by key: InfluxDB's recommended order for write performance.
                let tags = zip(family.descriptor.labels, sample.labelValues).filter { !$0.1.isEmpty }.sorted { $0.0 < $1.0 }
                for (key, value) in tags {
                    out += "," + Self.escape(key, Self.tagSpecials) + "=" + Self.escape(value, Self.tagSpecials)
                }
                out += " " + fields.map { Self.escape($0.0, Self.tagSpecials) + "=" + Self.float($0.1) }.joined(separator: ",")
                out += " \(timestampNs)\n"
                lines += 1
            }
        }
        return Encoded(body: out, lines: lines, skippedNonFinite: skipped)
    }

    static let measurementSpecials: Set<Character> = [",", " "]
    static let tagSpecials: Set<Character> = [",", "=", " "]

    /// Backslash before the characters line protocol reserves in this position; a newline cannot
    /// be escaped at all and becomes an escaped space. Other backslashes stay as they are: the
    /// parsers (InfluxDB 1.x and 2.x) keep a backslash that does not precede a reserved character.
    static func escape(_ text: String, _ specials: Set<Character>) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            if character == "\n" || character == "\r" {
                out += "\\ "
            } else {
                if specials.contains(character) { out += "\\" }
                out.append(character)
            }
        }
        return out
    }

    /// Shortest round-trip decimal: Swift's description of a finite Double ("0.1", "1e-07",
    /// "12345.0"), which Influx's float parser accepts.
    static func float(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    static func bound(_ value: Double) -> String { value.isInfinite ? "+Inf" : "\(value)" }
}
