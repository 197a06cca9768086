/// What kind of series a family holds, as Prometheus and OpenMetrics name them.
public enum MetricType: String, Sendable, CaseIterable {
    /// Only goes up (resets to 0 when the exporter or the counted thing restarts); exposed with `_total`.
    case counter
    /// A value that goes up and down (a ratio over the last interval, a count of things).
    case gauge
    /// Cumulative buckets (`_bucket{le}`), `_sum` and `_count`.
    case histogram
    /// Constant 1 with descriptive labels; exposed as `NAME_info`.
    case info
}

/// The fixed part of a metric: its name, meaning, unit and label names. Every metric hvtax exports
/// has one of these in `MetricCatalogue`, which docs/metrics.md and the Grafana dashboard test follow.
public struct MetricDescriptor: Sendable, Hashable {
    /// The family name without the type's suffix (`hvtax_vcpu_seconds` for the counter
    /// `hvtax_vcpu_seconds_total`, `hvtax_vm` for the info metric `hvtax_vm_info`).
    public var name: String
    public var type: MetricType
    /// The base unit the name ends with (`seconds`, `ratio`), or "" for plain counts.
    public var unit: String
    public var help: String
    public var labels: [String]

    public init(_ name: String, _ type: MetricType, unit: String = "", labels: [String] = [], help: String) {
        self.name = name
        self.type = type
        self.unit = unit
        self.help = help
        self.labels = labels
    }

    /// The name of the series as Prometheus' text format 0.0.4 and PromQL see it.
    public var exposedName: String {
        switch type {
        case .counter: name + "_total"
        case .info: name + "_info"
        case .gauge, .histogram: name
        }
    }
}

/// One series of a family: label values (in the descriptor's label order) and its value.
public struct MetricSample: Sendable, Equatable {
    public var labelValues: [String]
    public var value: MetricValue

    public init(_ labelValues: [String], _ value: MetricValue) {
        self.labelValues = labelValues
        self.value = value
    }

    public init(_ labelValues: [String], _ value: Double) {
        self.init(labelValues, .number(value))
    }
}

public enum MetricValue: Sendable, Equatable {
    case number(Double)
    /// Cumulative counts per upper bound (ascending, in the family's unit), the sum and the count.
    /// The `+Inf` bucket is `count`.
    case histogram(buckets: [(upperBound: Double, cumulativeCount: UInt64)], sum: Double, count: UInt64)

    public static func == (lhs: MetricValue, rhs: MetricValue) -> Bool {
        switch (lhs, rhs) {
        case (.number(let a), .number(let b)): a == b || (a.isNaN && b.isNaN)
        case (.histogram(let a, let s1, let c1), .histogram(let b, let s2, let c2)):
            s1 == s2 && c1 == c2 && a.count == b.count
                && zip(a, b).allSatisfy { $0.upperBound == $1.upperBound && $0.cumulativeCount == $1.cumulativeCount }
        default: false
        }
    }

    public var number: Double? {
        if case .number(let v) = self { v } else { nil }
    }
}

/// A descriptor with its current series: what every exporter (Prometheus, InfluxDB line protocol,
/// OTLP, SNMP) iterates.
public struct MetricFamily: Sendable, Equatable {
    public var descriptor: MetricDescriptor
    public var samples: [MetricSample]

    public init(_ descriptor: MetricDescriptor, _ samples: [MetricSample] = []) {
        self.descriptor = descriptor
        self.samples = samples
    }

    /// The value of the series with these labels (name: value), for tests and lookups.
    public func value(_ labels: [String: String] = [:]) -> MetricValue? {
        samples.first { sample in
            descriptor.labels.indices.allSatisfy { i in labels[descriptor.labels[i]].map { $0 == sample.labelValues[i] } ?? true }
        }?.value
    }
}

extension Array where Element == MetricFamily {
    /// The family with this (unsuffixed) name.
    public subscript(name: String) -> MetricFamily? {
        first { $0.descriptor.name == name }
    }
}
