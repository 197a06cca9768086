import CoreMetrics
import HVTaxMetrics
import Synchronization

/// Records the serve metric families into a swift-metrics factory (swift-otel's OTLP backend), so
/// an OpenTelemetry Collector receives the same metrics as /metrics:
///
/// - gauges and info metrics -> OTLP Gauge (`Gauge.record`), name as in the catalogue;
/// - counters -> OTLP monotonic cumulative Sum (`FloatingPointCounter`), fed the change since
///   the previous interval so its total equals the catalogue's running total; the name is the
///   family name without `_total` (OTLP convention; a Prometheus exporter of the Collector adds it);
/// - labels -> attributes (empty values left out);
/// - histograms (`hvtax_exit_duration_seconds`, traces only) are not recorded: swift-metrics'
///   recorder cannot be fed pre-bucketed counts. docs/export.md says so.
public final class OTLPFamilyRecorder: Sendable {
    private let factory: any MetricsFactory
    private let totals = Mutex<[String: Double]>([:])

    public init(factory: any MetricsFactory) { self.factory = factory }

    public func record(_ families: [MetricFamily]) {
        for family in families {
            let descriptor = family.descriptor
            for sample in family.samples {
                guard let value = sample.value.number, value.isFinite else { continue }
                let dimensions = zip(descriptor.labels, sample.labelValues).filter { !$0.1.isEmpty }.map { ($0.0, $0.1) }
                switch descriptor.type {
                case .counter:
                    let key = descriptor.name + "\u{0}" + dimensions.map { $0.0 + "=" + $0.1 }.joined(separator: ",")
                    let delta = totals.withLock { totals -> Double in
                        let before = totals[key] ?? 0
                        totals[key] = value
                        // A counter that went back (a VM seen again from zero) starts over.
                        return value >= before ? value - before : value
                    }
                    FloatingPointCounter(label: descriptor.name, dimensions: dimensions, factory: factory).increment(by: delta)
                case .gauge:
                    Gauge(label: descriptor.name, dimensions: dimensions, factory: factory).record(value)
                case .info:
                    Gauge(label: descriptor.exposedName, dimensions: dimensions, factory: factory).record(value)
                case .histogram:
                    continue
                }
            }
        }
    }
}
