import Foundation
@testable import HVTaxServe
import HVTaxMetrics
import HVTaxModel
import HVTaxTestSupport
import Logging
import NIOCore
import Testing

/// A published view renders nothing while the sampler publishes it; each rendering is made by the
/// first request for it, is the renderer's output for the view's families, and is made once.
@Suite("published view: rendered when asked", .scratchDirectory)
struct PublishedViewTests {
    /// A view of a generated host (3 libvirt VMs x 2 vCPUs), from the real sampling pipeline.
    static func view(_ name: String) throws -> PublishedView {
        let root = try ServeTestSupport.hostTree(in: try ScratchDirectory.folder(name), vms: 3, vcpus: 2)
        var configuration = ServeConfiguration()
        configuration.root = root
        configuration.exitRates = .off
        let pipeline = try SamplingPipeline(configuration: configuration, history: nil, logger: Logger(label: "test"))
        #expect(try pipeline.step(actionOutcomes: [:]) == nil, "the first sample only starts an interval")
        guard let (view, _) = try pipeline.step(actionOutcomes: [:]) else { throw TestFailure("no view after the second sample") }
        return view
    }

    static func inflate(_ buffer: ByteBuffer) throws -> String {
        let dir = try ScratchDirectory.folder("gunzip")
        try Data(buffer.readableBytesView).write(to: URL(fileURLWithPath: dir + "/exposition.gz"))
        let result = try ServeTestSupport.run("/bin/gzip", ["-dc", dir + "/exposition.gz"])
        guard result.status == 0 else { throw TestFailure("gzip -dc: \(result.output)") }
        return result.output
    }

    @Test("nothing is rendered at publication; each format, its gzip and the JSON on first request, as the renderers make them")
    func renderedWhenAsked() throws {
        let view = try Self.view("asked")
        #expect(view.families.count > 10)
        #expect(view.renderings.all == [false, false, false, false, false], "sampling rendered nothing")

        let (text, textCompressed) = view.exposition(.prometheusText, gzip: false)
        #expect(!textCompressed)
        #expect(String(buffer: text) == PrometheusTextRenderer(format: .prometheusText).render(view.families))
        #expect(String(buffer: text).contains("hvtax_vms 3\n"))
        #expect(view.renderings.all == [true, false, false, false, false], "only the text asked for")

        let (gzipped, compressed) = view.exposition(.openMetrics, gzip: true)
        #expect(compressed)
        let openMetrics = PrometheusTextRenderer(format: .openMetrics).render(view.families)
        #expect(try Self.inflate(gzipped) == openMetrics)
        #expect(openMetrics.hasSuffix("# EOF\n"))
        #expect(view.renderings.all == [true, true, false, true, false])

        let json = view.snapshotJSON
        let decoded = try JSONDecoder().decode(HostSnapshot.self, from: Data(json.readableBytesView))
        #expect(decoded == view.snapshot)
        #expect(decoded.vms.count == 3)
        #expect(view.renderings.all == [true, true, false, true, true])
    }

    @Test("concurrent first requests for the same view get the same bytes, rendered once")
    func concurrentRequests() async throws {
        let view = try Self.view("concurrent")
        let bodies = await withTaskGroup(of: ByteBuffer.self) { group in
            for _ in 0..<16 { group.addTask { view.exposition(.prometheusText, gzip: true).0 } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(bodies.count == 16)
        #expect(Set(bodies).count == 1, "one rendering shared by all")
        // The same storage, not equal copies: a second rendering would have allocated its own.
        let first = bodies[0].withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        #expect(bodies.allSatisfy { $0.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == first })
        #expect(try Self.inflate(bodies[0]) == PrometheusTextRenderer(format: .prometheusText).render(view.families))
    }
}
