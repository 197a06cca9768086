import Foundation
import HVTaxAdvice
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import Logging
import NIOCore

/// sample -> snapshot -> metric families, thresholds, history, rendered once. Not Sendable in
/// spirit: the sampler service runs `step` on one thread-pool thread at a time.
final class SamplingPipeline: @unchecked Sendable {
    let sampler: LiveSampler
    var analyzer: SnapshotAnalyzer
    var live = LiveMetrics()
    var monitor: ThresholdMonitor
    /// As `hvtax snapshot`: each interval validated (the discrepancy ratios, advice on accounting),
    /// throttling read at each sample, advice ranked.
    let validator: AccountingValidator
    let throttle: ThrottleMonitor
    let advisor: Advisor?
    private var previousSample: HostSample?
    let history: HistoryStore?
    let logger: Logger
    var historyFailures = 0

    init(configuration: ServeConfiguration, history: HistoryStore?, logger: Logger) throws(ServeError) {
        let fs = HostFileSystem(root: configuration.root)
        guard fs.isDirectory("/proc") else { throw ServeError("no /proc under \(configuration.root): not a host tree") }
        sampler = LiveSampler(fs: fs)
        analyzer = SnapshotAnalyzer(
            thresholds: configuration.thresholds.snapshotThresholds, ticksPerSecond: sampler.ticksPerSecond, root: fs.root,
            exitRateSource: sampler.exitRateSource, backend: sampler.backend)
        monitor = ThresholdMonitor(configuration: configuration.thresholds)
        validator = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
        throttle = ThrottleMonitor(fs: fs)
        advisor = try? Advisor.standard()
        self.history = history
        self.logger = logger
    }

    /// One sample; nil for the very first (it only starts the first interval).
    func step(actionOutcomes: [String: Int]) throws -> (PublishedView, [ThresholdEvent])? {
        let sample = try sampler.sample()
        let throttling = throttle.sample()
        let validation = previousSample.map { validator.validate(from: $0, to: sample, vms: sampler.vms) }
        previousSample = sample
        guard var snapshot = analyzer.add(sample, vms: sampler.vms, affinity: sampler.affinity) else { return nil }
        snapshot.throttling = throttling
        snapshot.advice = advisor?.advise(snapshot, validation: validation)
        let events = monitor.evaluate(snapshot)
        var rows: (raw: Int, minutes: Int)?
        if let history {
            do {
                let written = try history.record(snapshot)
                logger.debug("history committed", metadata: [
                    "sequence": "\(snapshot.sequence)", "end_unix_ns": "\(snapshot.endUnixNs)", "rows": "\(written)",
                ])
                rows = try? history.counts()
            } catch {
                historyFailures += 1
                logger.error("history write failed: \(error)", metadata: ["sequence": "\(snapshot.sequence)"])
            }
        }
        var families = live.add(snapshot, validation: validation)
        let levels = monitor.levels.map { PublishedView.LevelState(scope: $0.scope, vm: $0.vm, figure: $0.figure, level: $0.level) }
        families += ServeMetrics.families(levels: levels, actionOutcomes: actionOutcomes, historyRows: rows,
                                          historyFailures: history == nil ? nil : historyFailures)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = (try? encoder.encode(snapshot)) ?? Data()
        let text = Array(PrometheusTextRenderer(format: .prometheusText).render(families).utf8)
        let openMetrics = Array(PrometheusTextRenderer(format: .openMetrics).render(families).utf8)
        let view = PublishedView(
            snapshot: snapshot, families: families, prometheusText: ByteBuffer(bytes: text), openMetrics: ByteBuffer(bytes: openMetrics),
            prometheusTextGzip: Gzip.compress(text).map { ByteBuffer(bytes: $0) },
            openMetricsGzip: Gzip.compress(openMetrics).map { ByteBuffer(bytes: $0) },
            snapshotJSON: ByteBuffer(bytes: json), collectors: CollectorStatus.of(snapshot), levels: levels,
            publishedAt: .now)
        return (view, events)
    }
}

public struct ServeError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
