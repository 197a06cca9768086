import HVTaxExporters
import HVTaxMetrics
import Logging
import ServiceLifecycle

/// Somewhere every published interval goes besides /metrics: InfluxDB (`--influx-url`), an OTLP
/// Collector (`--otlp-endpoint`). `push` gets the interval's view (its snapshot and families).
public struct IntervalPush: Sendable {
    public var name: String
    public var push: @Sendable (PublishedView) async throws -> Void

    public init(name: String, push: @escaping @Sendable (PublishedView) async throws -> Void) {
        self.name = name
        self.push = push
    }

    /// Line protocol of the same families /metrics serves, to an InfluxDB write endpoint.
    public static func influx(_ writer: InfluxWriter) -> IntervalPush {
        IntervalPush(name: "influx") { view in
            let encoded = InfluxLineProtocol().encode(view.families, timestampNs: view.snapshot.endUnixNs)
            try await writer.write(encoded.body)
        }
    }
}

/// Runs one `IntervalPush` beside the sampler: a slow or failing destination delays only its own
/// pushes, never a scrape or the sampling. A failure is logged and the next interval is pushed.
struct IntervalPushService: Service {
    let store: ViewStore
    let destination: IntervalPush
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
                        do {
                            try await destination.push(view)
                            if failures > 0 { logger.notice("\(destination.name) push works again after \(failures) failed intervals") }
                            failures = 0
                        } catch {
                            failures += 1
                            logger.warning("\(destination.name) push of interval \(lastSequence) failed: \(error)")
                        }
                    }
                    // Checked twice per interval so a push follows its interval closely.
                    try await Task.sleep(for: interval.duration / 2)
                }
            }
        } catch is CancellationError {}
    }
}
