import Foundation
import HVTaxMetrics
import HVTaxModel
import NIOCore
import Synchronization

/// Everything a scrape or an API call answers with, built once per interval by the sampler and
/// then only read. The exposition (each format, plain and gzipped) and the snapshot JSON are rendered
/// by the first request that asks for them, once per view, and kept (`RenderedOnce`): sampling costs
/// no rendering nobody fetches, and a second scrape of the same interval is a buffer copy.
public struct PublishedView: Sendable {
    public let snapshot: HostSnapshot
    public let families: [MetricFamily]
    public let collectors: [CollectorStatus]
    public let levels: [LevelState]
    public let publishedAt: ContinuousClock.Instant
    let renderings: Renderings

    public init(snapshot: HostSnapshot, families: [MetricFamily], collectors: [CollectorStatus], levels: [LevelState],
                publishedAt: ContinuousClock.Instant) {
        self.snapshot = snapshot
        self.families = families
        self.collectors = collectors
        self.levels = levels
        self.publishedAt = publishedAt
        renderings = Renderings(snapshot: snapshot, families: families)
    }

    /// The view's renderings, each made on first use.
    final class Renderings: Sendable {
        let prometheusText: RenderedOnce<ByteBuffer>
        let openMetrics: RenderedOnce<ByteBuffer>
        /// nil if zlib failed: then scrapes get the plain text.
        let prometheusTextGzip: RenderedOnce<ByteBuffer?>
        let openMetricsGzip: RenderedOnce<ByteBuffer?>
        let snapshotJSON: RenderedOnce<ByteBuffer>

        init(snapshot: HostSnapshot, families: [MetricFamily]) {
            let text = RenderedOnce { ByteBuffer(string: PrometheusTextRenderer(format: .prometheusText).render(families)) }
            let openMetrics = RenderedOnce { ByteBuffer(string: PrometheusTextRenderer(format: .openMetrics).render(families)) }
            prometheusText = text
            self.openMetrics = openMetrics
            prometheusTextGzip = RenderedOnce { Gzip.compress(Array(text.value.readableBytesView)).map { ByteBuffer(bytes: $0) } }
            openMetricsGzip = RenderedOnce { Gzip.compress(Array(openMetrics.value.readableBytesView)).map { ByteBuffer(bytes: $0) } }
            snapshotJSON = RenderedOnce {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return ByteBuffer(bytes: (try? encoder.encode(snapshot)) ?? Data())
            }
        }

        var all: [Bool] {
            [prometheusText.isMade, openMetrics.isMade, prometheusTextGzip.isMade, openMetricsGzip.isMade, snapshotJSON.isMade]
        }
    }

    public struct LevelState: Codable, Sendable, Equatable {
        public var scope: String
        public var vm: String?
        public var figure: WatchedFigure
        public var level: Level
    }

    /// The exposition in `format`, gzipped when the client accepts gzip (and zlib did not fail).
    public func exposition(_ format: ExpositionFormat, gzip: Bool) -> (ByteBuffer, compressed: Bool) {
        if gzip, let compressed = (format == .openMetrics ? renderings.openMetricsGzip : renderings.prometheusTextGzip).value {
            return (compressed, true)
        }
        return ((format == .openMetrics ? renderings.openMetrics : renderings.prometheusText).value, false)
    }

    /// The snapshot as `hvtax snapshot --format json` writes it (`hvtax.snapshot/1`, keys sorted).
    public var snapshotJSON: ByteBuffer { renderings.snapshotJSON.value }
}

/// The latest view and the recent threshold events, swapped under a lock held only for the copy
/// of a reference: a scrape never waits for the sampler, only for another reader's copy.
public final class ViewStore: Sendable {
    private let current = Mutex<PublishedView?>(nil)
    private let recentEvents = Mutex<[ThresholdEvent]>([])
    public static let eventsKept = 100

    public init() {}

    public var latest: PublishedView? { current.withLock { $0 } }

    public func publish(_ view: PublishedView) { current.withLock { $0 = view } }

    public func record(_ events: [ThresholdEvent]) {
        guard !events.isEmpty else { return }
        recentEvents.withLock { $0 = Array(($0 + events).suffix(Self.eventsKept)) }
    }

    public var events: [ThresholdEvent] { recentEvents.withLock { $0 } }
}
