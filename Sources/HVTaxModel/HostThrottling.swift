/// CPU frequency and thermal throttling of the host over a measured interval. A throttled or
/// clocked-down CPU runs the same exit handler and the same guest code in more nanoseconds, so
/// every time a report measures is inflated by it: a confounder, not a cause of tax.
public struct HostThrottling: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Throttle counters moved, a frequency cap was in force, or a thermal zone was at or past
        /// its passive trip point during the interval.
        case throttled
        /// The sources exist and showed none of that.
        case notThrottled = "not-throttled"
        /// No source exists here (no cpufreq, no thermal_throttle, no thermal zones: usual in a VM),
        /// or the report was not measured on this host now (a trace file).
        case unknown
    }

    /// One thermal zone at the end of the interval.
    public struct Zone: Codable, Sendable, Equatable {
        /// `thermal_zone0`.
        public var name: String
        /// The zone's `type` (`x86_pkg_temp`, `acpitz`).
        public var type: String
        public var celsius: Double
        /// The lowest passive trip point, where the kernel starts to cool by slowing the CPU.
        public var passiveTripCelsius: Double?

        public init(name: String, type: String, celsius: Double, passiveTripCelsius: Double?) {
            self.name = name
            self.type = type
            self.celsius = celsius
            self.passiveTripCelsius = passiveTripCelsius
        }
    }

    public var state: State
    /// CPUs with a cpufreq folder; 0 when the host has no cpufreq (a VM, a kernel without it).
    public var cpufreqCPUs: Int
    /// The lowest and the mean `scaling_cur_freq / cpuinfo_max_freq` over CPUs at the interval's end.
    public var minFrequencyRatio: Double?
    public var meanFrequencyRatio: Double?
    /// CPUs whose `scaling_max_freq` is below `cpuinfo_max_freq`: a cap (thermal cooling, power limit, user).
    public var cappedCPUs: [Int]
    /// CPUs with thermal_throttle counters; 0 when the kernel or CPU has none.
    public var throttleCounterCPUs: Int
    /// Sum of core and package throttle events over all CPUs during the interval; nil without counters
    /// or without a start reading (a one-shot doctor check gives the count since boot instead).
    public var throttleEvents: UInt64?
    /// Throttle events since boot, at the interval's end.
    public var throttleEventsSinceBoot: UInt64?
    public var zones: [Zone]
    /// What was read and what it showed, in words.
    public var detail: String

    public init(state: State, cpufreqCPUs: Int, minFrequencyRatio: Double?, meanFrequencyRatio: Double?,
                cappedCPUs: [Int], throttleCounterCPUs: Int, throttleEvents: UInt64?, throttleEventsSinceBoot: UInt64?,
                zones: [Zone], detail: String) {
        self.state = state
        self.cpufreqCPUs = cpufreqCPUs
        self.minFrequencyRatio = minFrequencyRatio
        self.meanFrequencyRatio = meanFrequencyRatio
        self.cappedCPUs = cappedCPUs
        self.throttleCounterCPUs = throttleCounterCPUs
        self.throttleEvents = throttleEvents
        self.throttleEventsSinceBoot = throttleEventsSinceBoot
        self.zones = zones
        self.detail = detail
    }

    /// For a report not measured on this host now.
    public static func unknown(_ detail: String) -> HostThrottling {
        HostThrottling(state: .unknown, cpufreqCPUs: 0, minFrequencyRatio: nil, meanFrequencyRatio: nil, cappedCPUs: [],
                       throttleCounterCPUs: 0, throttleEvents: nil, throttleEventsSinceBoot: nil, zones: [], detail: detail)
    }

    /// Zones at or above their passive trip point.
    public var hotZones: [Zone] {
        zones.filter { zone in zone.passiveTripCelsius.map { zone.celsius >= $0 } ?? false }
    }
}
