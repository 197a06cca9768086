import HVTaxModel

/// The host's CPU frequency and thermal sources at one moment, as sysfs shows them:
/// `/sys/devices/system/cpu/cpuN/cpufreq/{scaling_cur_freq,cpuinfo_max_freq,scaling_max_freq}`,
/// `/sys/devices/system/cpu/cpuN/thermal_throttle/{core,package}_throttle_count` and
/// `/sys/class/thermal/thermal_zoneN/{type,temp,trip_point_K_type,trip_point_K_temp}`.
/// Any of them may be absent (a VM has none of them): absent stays nil, never zero.
public struct ThrottleReading: Sendable, Equatable {
    public struct CPU: Sendable, Equatable {
        public var cpu: Int
        public var curKHz: UInt64?
        public var maxKHz: UInt64?
        public var scalingMaxKHz: UInt64?
        public var coreThrottleCount: UInt64?
        public var packageThrottleCount: UInt64?
        /// topology/physical_package_id and core_id: the package counter is shared by a package's
        /// CPUs and the core counter by a core's SMT siblings, so each is counted once.
        public var packageID: Int?
        public var coreID: Int?

        public init(cpu: Int, curKHz: UInt64? = nil, maxKHz: UInt64? = nil, scalingMaxKHz: UInt64? = nil,
                    coreThrottleCount: UInt64? = nil, packageThrottleCount: UInt64? = nil, packageID: Int? = nil,
                    coreID: Int? = nil) {
            self.cpu = cpu
            self.curKHz = curKHz
            self.maxKHz = maxKHz
            self.scalingMaxKHz = scalingMaxKHz
            self.coreThrottleCount = coreThrottleCount
            self.packageThrottleCount = packageThrottleCount
            self.packageID = packageID
            self.coreID = coreID
        }

        var hasCpufreq: Bool { curKHz != nil && maxKHz != nil }
        var hasCounters: Bool { coreThrottleCount != nil || packageThrottleCount != nil }
    }

    public var cpus: [CPU]
    public var zones: [HostThrottling.Zone]

    public init(cpus: [CPU], zones: [HostThrottling.Zone]) {
        self.cpus = cpus
        self.zones = zones
    }

    /// Throttle events since boot, each core and package counted once.
    var eventsSinceBoot: UInt64? {
        guard cpus.contains(where: \.hasCounters) else { return nil }
        var cores: [String: UInt64] = [:]
        var packages: [String: UInt64] = [:]
        for cpu in cpus {
            let package = cpu.packageID.map(String.init) ?? "cpu\(cpu.cpu)"
            if let count = cpu.coreThrottleCount {
                cores[package + "/" + (cpu.coreID.map(String.init) ?? "cpu\(cpu.cpu)")] = count
            }
            if let count = cpu.packageThrottleCount { packages[package] = count }
        }
        return cores.values.reduce(0, +) + packages.values.reduce(0, +)
    }
}
