/// The host's time split per time bucket: tax and steal over time.
public struct TimeSeries: Codable, Sendable, Equatable {
    public struct Point: Codable, Sendable, Equatable {
        /// Bucket start, relative to the trace start, in the report's unit.
        public var start: UInt64
        /// vCPU-time of all vCPUs in this bucket.
        public var split: TimeSplit
        public var tax: RatedRatio
        public var steal: RatedRatio

        public init(start: UInt64, split: TimeSplit, tax: RatedRatio, steal: RatedRatio) {
            self.start = start
            self.split = split
            self.tax = tax
            self.steal = steal
        }
    }

    /// Width of each bucket in the report's unit.
    public var bucketWidth: UInt64
    public var points: [Point]

    public init(bucketWidth: UInt64, points: [Point]) {
        self.bucketWidth = bucketWidth
        self.points = points
    }
}
