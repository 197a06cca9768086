import Foundation
import HVTaxHost
import HVTaxMetrics
import HVTaxModel
import Testing

/// The serve metrics of a known interval: the live view's fixture host (Tests/HVTaxLiveTests/
/// Fixtures/live-libvirt-v2, written by scripts/gen-proc-tree.py) sampled at t0 and t1, one
/// second apart, so every figure is the fixture's own delta.
enum ExportFixtures {
    static let endUnixNs: UInt64 = 1_795_000_001_000_000_000

    static func families() throws -> (snapshot: HostSnapshot, families: [MetricFamily]) {
        let trees = Peers.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2")
        var analyzer: SnapshotAnalyzer?
        var result: HostSnapshot?
        for step in 0...1 {
            let sampler = LiveSampler(fs: HostFileSystem(root: trees.appendingPathComponent("t\(step)").path), ticksPerSecond: 100)
            var sample = try sampler.sample()
            sample.monotonicNs = UInt64(step + 1) * 1_000_000_000
            sample.realtimeNs = endUnixNs - UInt64(1 - step) * 1_000_000_000
            if analyzer == nil {
                analyzer = SnapshotAnalyzer(ticksPerSecond: 100, root: "fixture", exitRateSource: sampler.exitRateSource,
                                            backend: sampler.backend)
            }
            result = analyzer?.add(sample, vms: sampler.vms, affinity: sampler.affinity)
        }
        let snapshot = try #require(result)
        var live = LiveMetrics()
        return (snapshot, live.add(snapshot))
    }

    /// Every numeric series as `measurement{tag=value,...}` -> value, tags sorted, empty tags left out:
    /// the shape both a line-protocol parser and an InfluxDB query give back.
    static func series(_ families: [MetricFamily]) -> [String: Double] {
        var out: [String: Double] = [:]
        for family in families {
            for sample in family.samples {
                guard let value = sample.value.number, value.isFinite else { continue }
                let tags = zip(family.descriptor.labels, sample.labelValues).filter { !$0.1.isEmpty }.sorted { $0.0 < $1.0 }
                out[key(family.descriptor.exposedName, tags)] = value
            }
        }
        return out
    }

    static func key(_ measurement: String, _ tags: [(String, String)]) -> String {
        measurement + "{" + tags.map { "\($0.0)=\($0.1)" }.joined(separator: ",") + "}"
    }
}
