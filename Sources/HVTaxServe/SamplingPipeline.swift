import Foundation
import HVTaxAdvice
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import Logging
import NIOCore

/// sample -> snapshot -> metric families, thresholds, history, published (rendered when asked). Not Sendable in
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
    /// The renderings of the last view published: what was asked of it is rendered for the next.
    /// (They hold that view's snapshot and families, which the view store holds too until this
    /// step publishes the next.)
    private var lastRenderings: PublishedView.Renderings?
    let history: HistoryStore?
    /// Only with `tracing.enabled`.
    let tracing: TracingCollector?
    let logger: Logger
    var historyFailures = 0

    init(configuration: ServeConfiguration, history: HistoryStore?, logger: Logger) throws(ServeError) {
        let fs = HostFileSystem(root: configuration.root)
        guard fs.isDirectory("/proc") else { throw ServeError("no /proc under \(configuration.root): not a host tree") }
        sampler = LiveSampler(fs: fs, exitRates: configuration.exitRates)
        analyzer = SnapshotAnalyzer(
            thresholds: configuration.thresholds.snapshotThresholds, ticksPerSecond: sampler.ticksPerSecond, root: fs.root,
            exitRateSource: sampler.exitRateSource, backend: sampler.backend)
        monitor = ThresholdMonitor(configuration: configuration.thresholds)
        validator = AccountingValidator(ticksPerSecond: sampler.ticksPerSecond, backend: sampler.backend)
        throttle = ThrottleMonitor(fs: fs)
        advisor = try? Advisor.standard()
        self.history = history
        self.logger = logger
        tracing = configuration.tracing.enabled ? TracingCollector(configuration: configuration.tracing, logger: logger) : nil
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
        var collectors = CollectorStatus.of(snapshot)
        if let tracing {
            addTracing(tracing, snapshot: snapshot, to: &families)
            collectors.append(tracing.status)
        }
        let levels = monitor.levels.map { PublishedView.LevelState(scope: $0.scope, vm: $0.vm, figure: $0.figure, level: $0.level) }
        families += ServeMetrics.families(levels: levels, actionOutcomes: actionOutcomes, historyRows: rows,
                                          historyFailures: history == nil ? nil : historyFailures)
        let view = PublishedView(snapshot: snapshot, families: families, collectors: collectors, levels: levels, publishedAt: .now)
        if let lastRenderings { view.renderings.prepare(lastRenderings.asked) }
        lastRenderings = view.renderings
        return (view, events)
    }
}

extension SamplingPipeline {
    /// The tracing collector's interval: its families merged into the live ones (exit counts into
    /// the same `hvtax_vm_exits_total`, for VMs the live view has none for) and its status as one
    /// more `hvtax_collector_up` series.
    func addTracing(_ tracing: TracingCollector, snapshot: HostSnapshot, to families: inout [MetricFamily]) {
        let labels = Dictionary(zip(snapshot.vms.map(\.pid), LiveMetrics.vmLabels(snapshot.vms)), uniquingKeysWith: { a, _ in a })
        let exitsName = MetricCatalogue.vmExits.name
        let liveExitLabels = Set(families[exitsName]?.samples.map { $0.labelValues[0] } ?? [])
        for family in tracing.step(vmLabels: labels, liveExitLabels: liveExitLabels) {
            if let index = families.firstIndex(where: { $0.descriptor.name == family.descriptor.name }) {
                families[index].samples += family.samples
            } else {
                families.append(family)
            }
        }
        let status = tracing.status
        let up = MetricSample([status.name, status.needsRoot ? "true" : "false"], status.up ? 1 : 0)
        if let index = families.firstIndex(where: { $0.descriptor.name == MetricCatalogue.collectorUp.name }) {
            families[index].samples.append(up)
        } else {
            families.append(MetricFamily(MetricCatalogue.collectorUp, [up]))
        }
    }
}

public struct ServeError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
