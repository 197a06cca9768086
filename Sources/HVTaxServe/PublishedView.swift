import Foundation
import HVTaxMetrics
import HVTaxModel
import NIOCore
import Synchronization

/// Everything a scrape or an API call answers with, built once per interval by the sampler and
/// then only read: the exposition in both formats and the snapshot JSON are rendered here, so a
/// scrape is a buffer copy whatever the number of VMs.
public struct PublishedView: Sendable {
    public var snapshot: HostSnapshot
    public var families: [MetricFamily]
    public var prometheusText: ByteBuffer
    public var openMetrics: ByteBuffer
    /// The same two, gzip-compressed once (nil if zlib failed: then scrapes get the plain text).
    public var prometheusTextGzip: ByteBuffer?
    public var openMetricsGzip: ByteBuffer?
    public var snapshotJSON: ByteBuffer
    public var collectors: [CollectorStatus]
    public var levels: [LevelState]
    public var publishedAt: ContinuousClock.Instant

    public struct LevelState: Codable, Sendable, Equatable {
        public var scope: String
        public var vm: String?
        public var figure: WatchedFigure
        public var level: Level
    }

    public func exposition(_ format: ExpositionFormat, gzip: Bool) -> (ByteBuffer, compressed: Bool) {
        if gzip, let compressed = format == .openMetrics ? openMetricsGzip : prometheusTextGzip { return (compressed, true) }
        return (format == .openMetrics ? openMetrics : prometheusText, false)
    }
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
