import HVTaxMetrics
import HVTaxModel

/// The families only `hvtax serve` has: threshold levels, actions taken, the history's size.
enum ServeMetrics {
    static func families(levels: [PublishedView.LevelState], actionOutcomes: [String: Int], historyRows: (raw: Int, minutes: Int)?,
                         historyFailures: Int?) -> [MetricFamily] {
        typealias C = MetricCatalogue
        var out = [MetricFamily(C.thresholdLevel, levels.map { state in
            let value: Double =
                switch state.level {
                case .ok, .unavailable: 0
                case .warning: 1
                case .critical: 2
                }
            return MetricSample([state.scope, state.vm ?? "", state.figure.rawValue], value)
        })]
        out.append(MetricFamily(C.actions, ["ran", "failed", "dry-run", "rate-limited"].map {
            MetricSample([$0], Double(actionOutcomes[$0] ?? 0))
        }))
        if let historyRows {
            out.append(MetricFamily(C.historyRows, [
                MetricSample(["raw"], Double(historyRows.raw)), MetricSample(["minute"], Double(historyRows.minutes)),
            ]))
        }
        if let historyFailures { out.append(MetricFamily(C.historyWriteFailures, [MetricSample([], Double(historyFailures))])) }
        return out.filter { !$0.samples.isEmpty }
    }
}
