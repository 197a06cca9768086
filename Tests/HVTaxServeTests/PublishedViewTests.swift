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
    static func pipeline(_ name: String) throws -> SamplingPipeline {
        let root = try ServeTestSupport.hostTree(in: try ScratchDirectory.folder(name), vms: 3, vcpus: 2)
        var configuration = ServeConfiguration()
        configuration.root = root
        configuration.exitRates = .off
        let pipeline = try SamplingPipeline(configuration: configuration, history: nil, logger: Logger(label: "test"))
        #expect(try pipeline.step(actionOutcomes: [:]) == nil, "the first sample only starts an interval")
        return pipeline
    }

    static func nextView(_ pipeline: SamplingPipeline) throws -> PublishedView {
        guard let (view, _) = try pipeline.step(actionOutcomes: [:]) else { throw TestFailure("no view from a sample") }
        return view
    }

    static func view(_ name: String) throws -> PublishedView { try nextView(try pipeline(name)) }

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
        #expect(view.renderings.made == [], "sampling rendered nothing")

        let (text, textCompressed) = view.exposition(.prometheusText, gzip: false)
        #expect(!textCompressed)
        #expect(String(buffer: text) == PrometheusTextRenderer(format: .prometheusText).render(view.families))
        #expect(String(buffer: text).contains("hvtax_vms 3\n"))
        #expect(view.renderings.made == [.prometheusText], "only the text asked for")

        let (gzipped, compressed) = view.exposition(.openMetrics, gzip: true)
        #expect(compressed)
        let openMetrics = PrometheusTextRenderer(format: .openMetrics).render(view.families)
        #expect(try Self.inflate(gzipped) == openMetrics)
        #expect(openMetrics.hasSuffix("# EOF\n"))
        #expect(view.renderings.made == [.prometheusText, .openMetrics, .openMetricsGzip], "the gzip made from the plain OpenMetrics")
        #expect(view.renderings.asked == [.prometheusText, .openMetricsGzip])

        let json = view.snapshotJSON
        let decoded = try JSONDecoder().decode(HostSnapshot.self, from: Data(json.readableBytesView))
        #expect(decoded == view.snapshot)
        #expect(decoded.vms.count == 3)
        #expect(view.renderings.made == [.prometheusText, .openMetrics, .openMetricsGzip, .snapshotJSON])
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

    @Test("what a view was asked for is rendered for the next before it is published; what was only rendered ahead is not carried on")
    func renderedAheadForSteadyClients() throws {
        let pipeline = try Self.pipeline("ahead")
        let first = try Self.nextView(pipeline)
        let (asked, compressed) = first.exposition(.openMetrics, gzip: true)
        #expect(compressed)
        _ = first.snapshotJSON
        #expect(first.renderings.asked == [.openMetricsGzip, .snapshotJSON])

        let second = try Self.nextView(pipeline)
        #expect(second.renderings.made == [.openMetrics, .openMetricsGzip, .snapshotJSON], "rendered before publication")
        #expect(second.renderings.asked == [], "made ahead, not asked")
        // The same renderer's bytes for this view's own families, not the last view's.
        let (ahead, _) = second.exposition(.openMetrics, gzip: true)
        #expect(try Self.inflate(ahead) == PrometheusTextRenderer(format: .openMetrics).render(second.families))
        #expect(try Self.inflate(ahead) != (try Self.inflate(asked)), "a new interval: sample counts and times moved")

        // Nobody asked for the third view: the fourth gets nothing ahead.
        let third = try Self.nextView(pipeline)
        #expect(third.renderings.made == [.openMetrics, .openMetricsGzip], "the second was asked for its OpenMetrics gzip above")
        let fourth = try Self.nextView(pipeline)
        #expect(fourth.renderings.made == [])
    }
}
