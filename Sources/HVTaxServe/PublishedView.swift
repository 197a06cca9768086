import Foundation
import HVTaxMetrics
import HVTaxModel
import NIOCore
import Synchronization

/// Everything a scrape or an API call answers with, built once per interval by the sampler and
/// then only read. The exposition (each format, plain and gzipped) and the snapshot JSON are rendered
/// by the first request that asks for them, once per view, and kept (`RenderedOnce`); what the last
/// view was asked for is rendered before publication (`Renderings.prepare`). So sampling costs
/// no rendering nobody fetches, a client asking every interval never waits for one, and a second
/// request for the same view is a buffer copy.
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
            prometheusTextGzip = RenderedOnce { Gzip.compress(Array(text.prepared.readableBytesView)).map { ByteBuffer(bytes: $0) } }
            openMetricsGzip = RenderedOnce { Gzip.compress(Array(openMetrics.prepared.readableBytesView)).map { ByteBuffer(bytes: $0) } }
            snapshotJSON = RenderedOnce {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                return ByteBuffer(bytes: (try? encoder.encode(snapshot)) ?? Data())
            }
        }

        /// A set of a view's renderings (which exist, which were asked for).
        struct Kinds: OptionSet, Sendable {
            let rawValue: UInt8
            static let prometheusText = Kinds(rawValue: 1 << 0)
            static let openMetrics = Kinds(rawValue: 1 << 1)
            static let prometheusTextGzip = Kinds(rawValue: 1 << 2)
            static let openMetricsGzip = Kinds(rawValue: 1 << 3)
            static let snapshotJSON = Kinds(rawValue: 1 << 4)
        }

        /// The renderings made so far, by requests or ahead of them.
        var made: Kinds { kinds { $0.isMade } }

        /// The renderings requests asked for (the gzip alone when a client asked for gzip).
        var asked: Kinds { kinds { $0.wasAsked } }

        /// Each rendering with its kind, whatever its value's type.
        private var all: [(Kinds, any RenderedOnceState)] {
            [(.prometheusText, prometheusText), (.openMetrics, openMetrics), (.prometheusTextGzip, prometheusTextGzip),
             (.openMetricsGzip, openMetricsGzip), (.snapshotJSON, snapshotJSON)]
        }

        private func kinds(_ test: (any RenderedOnceState) -> Bool) -> Kinds {
            all.reduce(into: []) { kinds, entry in if test(entry.1) { kinds.insert(entry.0) } }
        }

        /// Makes now what the last view's requests asked for (its `asked`): called by the sampler
        /// before it publishes, so a client that asks every interval (a 1 s scrape, a dashboard, a
        /// load test) never waits for a rendering, while one that asks every 15 s costs two
        /// renderings in 15 s, not 15. Made ahead is not asked: with no request for this view, the
        /// next is not rendered ahead.
        func prepare(_ asked: Kinds) {
            for (kind, rendering) in all where asked.contains(kind) { rendering.prepare() }
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
