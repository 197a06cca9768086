import HVTaxModel

/// Reads the frequency and thermal sources under the host file system's root (a fixture tree in
/// tests). Missing files are normal (no cpufreq in a VM, no thermal_throttle on AMD or in a VM).
public struct ThrottleReader: Sendable {
    public let fs: HostFileSystem

    public init(fs: HostFileSystem) { self.fs = fs }

    public func read() -> ThrottleReading {
        let base = "/sys/devices/system/cpu"
        let cpuNumbers = ((try? fs.list(base)) ?? []).compactMap { name -> Int? in
            guard name.hasPrefix("cpu"), let number = Int(name.dropFirst(3)) else { return nil }
            return number
        }.sorted()
        let cpus = cpuNumbers.map { number -> ThrottleReading.CPU in
            let dir = "\(base)/cpu\(number)"
            return ThrottleReading.CPU(
                cpu: number,
                curKHz: value("\(dir)/cpufreq/scaling_cur_freq"),
                maxKHz: value("\(dir)/cpufreq/cpuinfo_max_freq"),
                scalingMaxKHz: value("\(dir)/cpufreq/scaling_max_freq"),
                coreThrottleCount: value("\(dir)/thermal_throttle/core_throttle_count"),
                packageThrottleCount: value("\(dir)/thermal_throttle/package_throttle_count"),
                packageID: value("\(dir)/topology/physical_package_id").map { Int($0) },
                coreID: value("\(dir)/topology/core_id").map { Int($0) })
        }
        return ThrottleReading(cpus: cpus, zones: zones())
    }

    func zones() -> [HostThrottling.Zone] {
        let base = "/sys/class/thermal"
        let names = ((try? fs.list(base)) ?? []).filter { $0.hasPrefix("thermal_zone") }
            .sorted { (Int($0.dropFirst(12)) ?? 0) < (Int($1.dropFirst(12)) ?? 0) }
        return names.compactMap { name -> HostThrottling.Zone? in
            let dir = "\(base)/\(name)"
            // temp is millidegrees Celsius; a zone whose sensor cannot be read (EAGAIN, ENODATA) is left out.
            guard let milli = signedValue("\(dir)/temp") else { return nil }
            let type = (try? fs.readValue("\(dir)/type")) ?? "unknown"
            var passive: Int64?
            for index in 0..<32 {
                guard let tripType = try? fs.readValue("\(dir)/trip_point_\(index)_type") else { break }
                if tripType == "passive", let temp = signedValue("\(dir)/trip_point_\(index)_temp") {
                    passive = min(passive ?? temp, temp)
                }
            }
            return HostThrottling.Zone(name: name, type: type, celsius: Double(milli) / 1000,
                                       passiveTripCelsius: passive.map { Double($0) / 1000 })
        }
    }

    func value(_ path: String) -> UInt64? {
        (try? fs.readValue(path)).flatMap { UInt64($0) }
    }

    func signedValue(_ path: String) -> Int64? {
        (try? fs.readValue(path)).flatMap { Int64($0) }
    }
}
