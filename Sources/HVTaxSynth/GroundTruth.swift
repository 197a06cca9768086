import HVTaxModel

/// What really happened in a generated trace, known by construction, so tests can check the
/// analysis exactly instead of comparing it with its own earlier output.
public struct GroundTruth: Codable, Sendable {
    public struct ReasonTruth: Codable, Sendable {
        public var count: UInt64 = 0
        public var hypervisorTime: UInt64 = 0
        public var vmmTime: UInt64 = 0
        public var offCPUTime: UInt64 = 0
        public var paths: [String: UInt64] = [:]
        /// Latencies of completed windows (only kept when asked for: they grow with the trace).
        public var latencies: [UInt64] = []
        public var latencyCount: UInt64 = 0
        public var latencySum: UInt64 = 0
        public var latencyMin: UInt64 = .max
        public var latencyMax: UInt64 = 0
    }

    public struct VCPUTruth: Codable, Sendable {
        public var vmPid: Int32
        public var tid: Int32
        public var vcpu: Int32
        public var cpu: Int32
        public var firstTime: UInt64 = 0
        public var lastTime: UInt64 = 0
        public var split = TimeSplit()
        public var reasons: [String: ReasonTruth] = [:]
        public var exits: UInt64 { reasons.values.reduce(0) { $0 + $1.count } }
    }

    public var vcpus: [VCPUTruth] = []
    public var events: UInt64 = 0
    public var lostEvents: UInt64 = 0
    public var lostMarkers: UInt64 = 0
    public var exitsOpenAtEnd: UInt64 = 0
    public var exitsByReason: [String: UInt64] {
        var counts: [String: UInt64] = [:]
        for vcpu in vcpus { for (reason, truth) in vcpu.reasons { counts[reason, default: 0] += truth.count } }
        return counts
    }
}
