import Foundation
import HVTaxMetrics
import HVTaxOTLP
import ServiceLifecycle
import Testing

/// The serve metrics as OTLP metrics through swift-otel's OTLP/HTTP exporter, received by a real
/// OTLP receiver built on the OTLP protobuf definitions (PyPI opentelemetry-proto): no Collector
/// binary is installable here (no network beyond Debian and PyPI).
@Suite struct OTLPTests {
    struct Received: Decodable {
        struct Metric: Decodable {
            struct Point: Decodable {
                var attributes: [String: String]
                var value: Double
            }
            var name: String
            var kind: String?
            var monotonic: Bool?
            var temporality: Int?
            var points: [Point]
        }
        var contentType: String?
        var resource: [String: String]
        var metrics: [Metric]
    }

    /// The OTLP/HTTP receiver and the port it listens on; nil (saying why) without opentelemetry-proto.
    static func startReceiver() throws -> (PeerProcess, Int)? {
        guard let python = Peers.python, Peers.pythonHas("opentelemetry.proto") else {
            print("skipped: python3 with opentelemetry-proto (pip install opentelemetry-proto) is not installed")
            return nil
        }
        let script = Peers.repository.appendingPathComponent("Tests/HVTaxExportersTests/Scripts/otlp_http_receiver.py").path
        let receiver = try PeerProcess(python, [script])
        guard let listening = receiver.readLine(), let port = listening.split(separator: " ").last.flatMap({ Int($0) }) else {
            receiver.stop()
            throw PeerProcess.PeerError(message: "the OTLP receiver did not say its port")
        }
        return (receiver, port)
    }

    @Test func familiesReachAnOTLPReceiverWithTheirValues() async throws {
        guard let (receiver, port) = try Self.startReceiver() else { return }
        defer { receiver.stop() }

        let (_, families) = try ExportFixtures.families()
        let exporter = try OTLPExporter(endpoint: "http://127.0.0.1:\(port)", exportIntervalSeconds: 1)
        exporter.recorder.record(families)
        let group = ServiceGroup(services: [exporter.service], logger: .init(label: "otlp-test"))
        let running = Task { try await group.run() }
        // Wait for an export that carries the gauges, then stop (the shutdown exports once more).
        var latest: Received?
        // Polled without blocking: swift-otel's exporter runs on the same cooperative threads as
        // this test (two on two cores), so a blocking wait here could starve it. Counted in polls,
        // not wall time: other tests that block both cooperative threads (real QEMUs, tmux) stall
        // this loop and the exporter alike, and a wall-clock deadline of two minutes ran out while
        // both waited (a red CI run). 1,200 polls of 100 ms; it normally arrives within two seconds.
        for _ in 0..<1_200 {
            guard let line = receiver.readLine(seconds: 0) else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            if let record = try? JSONDecoder().decode(Received.self, from: Data(line.utf8)), !record.metrics.isEmpty {
                latest = record
                break
            }
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        let received = try #require(latest, "no OTLP export arrived")
        #expect(received.contentType == "application/x-protobuf")
        #expect(received.resource["service.name"] == "hvtax")

        var values: [String: Double] = [:]
        var kinds: [String: Received.Metric] = [:]
        for metric in received.metrics {
            kinds[metric.name] = metric
            for point in metric.points {
                let tags = point.attributes.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
                values[ExportFixtures.key(metric.name, tags)] = point.value
            }
        }
        // Every gauge and counter series of the catalogue arrives with its value; counters as
        // monotonic cumulative sums (temporality 2) under the name without _total.
        var compared = 0
        for family in families where family.descriptor.type != .histogram {
            let name = family.descriptor.type == .counter ? family.descriptor.name : family.descriptor.exposedName
            for sample in family.samples {
                guard let value = sample.value.number, value.isFinite else { continue }
                let tags = zip(family.descriptor.labels, sample.labelValues).filter { !$0.1.isEmpty }.sorted { $0.0 < $1.0 }
                let got = values[ExportFixtures.key(name, tags)]
                #expect(got.map { abs($0 - value) <= 1e-9 * max(1, abs(value)) } == true, "\(name) \(tags): \(String(describing: got)) vs \(value)")
                compared += 1
            }
            if family.descriptor.type == .counter, !family.samples.isEmpty {
                #expect(kinds[name]?.kind == "sum" && kinds[name]?.monotonic == true && kinds[name]?.temporality == 2, "\(name)")
            }
        }
        #expect(compared > 50)
    }

    /// `hvtax serve --otlp-endpoint`: the same families reach the receiver from the running agent,
    /// here on a recorded host tree (two libvirt VMs) so the values are known.
    @Test func serveExportsEveryIntervalAsOTLP() async throws {
        guard let (receiver, port) = try Self.startReceiver() else { return }
        defer { receiver.stop() }
        let fixture = Peers.repository.appendingPathComponent("Tests/HVTaxLiveTests/Fixtures/live-libvirt-v2/t0").path
        let serve = try PeerProcess(Peers.hvtax, ["serve", "--listen", "127.0.0.1:0", "--root", fixture, "--interval", "1s",
                                                  "--otlp-endpoint", "http://127.0.0.1:\(port)"])
        defer { serve.stop() }
        // Exports carry the running counter hvtax_samples (cumulative): wait for one that has seen
        // at least two intervals, then check the VMs' gauges came with it.
        // Up to 1,200 polls of 100 ms, as for the exporter alone: on a loaded machine (the whole
        // suite at once) exports were seen to take over a minute to start arriving; alone, about two
        // seconds. Polls, not wall time: exports that arrived while this loop waited for a
        // cooperative thread are still in the pipe, and are read before giving up.
        var received: Received?
        for _ in 0..<1_200 {
            guard let line = receiver.readLine(seconds: 0) else {
                try await Task.sleep(for: .milliseconds(100))
                continue
            }
            guard let record = try? JSONDecoder().decode(Received.self, from: Data(line.utf8)) else { continue }
            let samples = record.metrics.first { $0.name == "hvtax_samples" }?.points.first?.value ?? 0
            if samples >= 2 {
                received = record
                break
            }
        }
        let export = try #require(received, "no OTLP export with two intervals arrived; serve said: \(serve.rest(seconds: 1))")
        #expect(export.resource["service.name"] == "hvtax")
        let vcpus = export.metrics.first { $0.name == "hvtax_vm_vcpus" }
        #expect(Set(vcpus?.points.compactMap { $0.attributes["vm"] } ?? []) == ["web01", "db,02"])
        #expect(vcpus?.points.first { $0.attributes["vm"] == "web01" }?.value == 2)
    }
}
