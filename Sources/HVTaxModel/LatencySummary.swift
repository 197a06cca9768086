/// The distribution of exit latencies (exit -> next entry of the same vCPU), from an HdrHistogram:
/// percentiles, not just a mean, because exit costs are long-tailed.
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: UInt64
    public var min: UInt64
    public var p50: UInt64
    public var p90: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64
    public var mean: Double
    /// Power-of-two buckets: `buckets[i]` counts latencies in [2^i, 2^(i+1)) (bucket 0 holds 0 and 1).
    /// Enough to draw a histogram or CDF, and to compare two runs.
    public var log2Buckets: [UInt64]

    public init(count: UInt64 = 0, min: UInt64 = 0, p50: UInt64 = 0, p90: UInt64 = 0, p99: UInt64 = 0,
                p999: UInt64 = 0, max: UInt64 = 0, mean: Double = 0, log2Buckets: [UInt64] = []) {
        self.count = count
        self.min = min
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.max = max
        self.mean = mean
        self.log2Buckets = log2Buckets
    }

    public static let empty = LatencySummary()
}
