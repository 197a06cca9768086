import HVTaxExporters
import HVTaxMetrics
import Logging
import ServiceLifecycle

/// Pushes every interval the sampler publishes to an InfluxDB write endpoint (`--influx-url`), as
/// line protocol of the same families /metrics serves. Runs beside the sampler: a slow or failing
/// InfluxDB delays only its own pushes, never a scrape or the sampling.
struct InfluxPushService: Service {
    let store: ViewStore
    let writer: InfluxWriter
    let interval: ConfigDuration
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                var lastSequence = 0
                var failures = 0
                while !Task.isCancelled {
                    if let view = store.latest, view.snapshot.sequence > lastSequence {
                        lastSequence = view.snapshot.sequence
                        let encoded = InfluxLineProtocol().encode(view.families, timestampNs: view.snapshot.endUnixNs)
                        do {
                            try await writer.write(encoded.body)
                            if failures > 0 { logger.notice("influx push works again after \(failures) failed intervals") }
                            failures = 0
                        } catch {
                            failures += 1
                            logger.warning("influx push of interval \(lastSequence) failed: \(error)")
                        }
                    }
                    // Checked twice per interval so a push follows its interval closely.
                    try await Task.sleep(for: interval.duration / 2)
                }
            }
        } catch is CancellationError {}
    }
}
