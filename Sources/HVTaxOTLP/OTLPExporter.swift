import HVTaxMetrics
import OTel
import ServiceLifecycle

/// The OTLP/HTTP metrics backend of swift-otel for one endpoint, and the recorder feeding it.
/// `service` exports every `exportIntervalSeconds` (and once more on graceful shutdown); run it in a
/// ServiceGroup beside the sampler.
public struct OTLPExporter: Sendable {
    public let recorder: OTLPFamilyRecorder
    public let service: any Service

    /// `endpoint` is the Collector's OTLP/HTTP base URL (`http://127.0.0.1:4318`); metrics go to
    /// `/v1/metrics` under it, as the OTLP specification and swift-otel do.
    public init(endpoint: String, exportIntervalSeconds: Int64) throws {
        var configuration = OTel.Configuration.default
        configuration.serviceName = "hvtax"
        configuration.logs.enabled = false
        configuration.traces.enabled = false
        configuration.metrics.enabled = true
        configuration.metrics.exporter = .otlp
        // A per-signal endpoint set in code is used as-is by swift-otel (the OTLP spec's rule for
        // OTEL_EXPORTER_OTLP_METRICS_ENDPOINT): give it the full /v1/metrics URL.
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        configuration.metrics.otlpExporter.endpoint = base.hasSuffix("/v1/metrics") ? base : base + "/v1/metrics"
        configuration.metrics.otlpExporter.protocol = .httpProtobuf
        configuration.metrics.otlpExporter.compression = .none
        configuration.metrics.exportInterval = .seconds(max(1, exportIntervalSeconds))
        let backend = try OTel.makeMetricsBackend(configuration: configuration)
        recorder = OTLPFamilyRecorder(factory: backend.factory)
        service = backend.service
    }
}
