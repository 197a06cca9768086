import HVTaxModel

/// Reads the frequency and thermal sources under the host file system's root (a fixture tree in
/// tests). Missing files are normal (no cpufreq in a VM, no thermal_throttle on AMD or in a VM).
public struct ThrottleReader: Sendable {
    public let fs: HostFileSystem

    public init(fs: HostFileSystem) { self.fs = fs }

    static let cpuBase = "/sys/devices/system/cpu"
    static let thermalBase = "/sys/class/thermal"

    /// Everything, once (`hvtax doctor`, `hvtax record`).
    public func read() -> ThrottleReading {
        var layout = ThrottleLayout()
        return read(layout: &layout)
    }

    /// Reads what changes; what does not (see `ThrottleLayout`) only for CPUs and zones not in
    /// `layout` yet, which it then holds. On a 64-CPU host that is 4 files a CPU per interval
    /// instead of 7, and none where the CPU has neither cpufreq nor thermal_throttle (a VM).
    ///
    /// `files`: descriptors held open between intervals (a monitor's), so each value is one `pread`
    /// instead of a path walk, an open, a read and a close; nil opens each file.
    public func read(layout: inout ThrottleLayout, files: OpenCounterFiles? = nil) -> ThrottleReading {
        var held = HeldValues(fs: fs, files: files)
        let cpuNumbers = ((try? fs.list(Self.cpuBase)) ?? []).compactMap { name -> Int? in
            guard name.hasPrefix("cpu"), let number = Int(name.dropFirst(3)) else { return nil }
            return number
        }.sorted()
        var cpus: [ThrottleReading.CPU] = []
        var seen: [Int: ThrottleLayout.CPU] = [:]
        for number in cpuNumbers {
            let dir = "\(Self.cpuBase)/cpu\(number)"
            let owner = Int32(truncatingIfNeeded: number)
            let fixed = layout.cpus[number] ?? ThrottleLayout.CPU(
                maxKHz: held.unsigned("\(dir)/cpufreq/cpuinfo_max_freq"),
                packageID: held.unsigned("\(dir)/topology/physical_package_id").map { Int($0) },
                coreID: held.unsigned("\(dir)/topology/core_id").map { Int($0) },
                hasCpufreq: fs.isDirectory("\(dir)/cpufreq"),
                hasThrottleCounters: fs.isDirectory("\(dir)/thermal_throttle"))
            seen[number] = fixed
            cpus.append(ThrottleReading.CPU(
                cpu: number,
                curKHz: fixed.hasCpufreq
                    ? held.unsigned("\(dir)/cpufreq/scaling_cur_freq", held: .init(owner: owner, file: .cpuCurFrequency)) : nil,
                maxKHz: fixed.maxKHz,
                scalingMaxKHz: fixed.hasCpufreq
                    ? held.unsigned("\(dir)/cpufreq/scaling_max_freq", held: .init(owner: owner, file: .cpuScalingMax)) : nil,
                coreThrottleCount: fixed.hasThrottleCounters
                    ? held.unsigned("\(dir)/thermal_throttle/core_throttle_count", held: .init(owner: owner, file: .cpuCoreThrottles)) : nil,
                packageThrottleCount: fixed.hasThrottleCounters
                    ? held.unsigned("\(dir)/thermal_throttle/package_throttle_count", held: .init(owner: owner, file: .cpuPackageThrottles)) : nil,
                packageID: fixed.packageID,
                coreID: fixed.coreID))
        }
        layout.cpus = seen
        return ThrottleReading(cpus: cpus, zones: zones(layout: &layout, held: &held))
    }

    func zones(layout: inout ThrottleLayout, held: inout HeldValues) -> [HostThrottling.Zone] {
        let names = ((try? fs.list(Self.thermalBase)) ?? []).filter { $0.hasPrefix("thermal_zone") }
            .sorted { (Int($0.dropFirst(12)) ?? 0) < (Int($1.dropFirst(12)) ?? 0) }
        var seen: [String: ThrottleLayout.Zone] = [:]
        let zones = names.compactMap { name -> HostThrottling.Zone? in
            let dir = "\(Self.thermalBase)/\(name)"
            // temp is millidegrees Celsius; a zone whose sensor cannot be read (EAGAIN, ENODATA) is left out.
            let zone = Int32(name.dropFirst(12)) ?? -1
            guard let milli = held.signed("\(dir)/temp", held: .init(owner: zone, file: .thermalZoneTemp)) else { return nil }
            let fixed = layout.zones[name] ?? ThrottleLayout.Zone(
                type: (try? fs.readValue("\(dir)/type")) ?? "unknown", passiveMilliC: passiveTrip(dir, &held))
            seen[name] = fixed
            return HostThrottling.Zone(name: name, type: fixed.type, celsius: Double(milli) / 1000,
                                       passiveTripCelsius: fixed.passiveMilliC.map { Double($0) / 1000 })
        }
        layout.zones = seen
        return zones
    }

    /// The lowest passive trip point of a zone, where the kernel starts cooling by slowing CPUs.
    func passiveTrip(_ dir: String, _ held: inout HeldValues) -> Int64? {
        var passive: Int64?
        for index in 0..<32 {
            guard let tripType = try? fs.readValue("\(dir)/trip_point_\(index)_type") else { break }
            if tripType == "passive", let temp = held.signed("\(dir)/trip_point_\(index)_temp") {
                passive = min(passive ?? temp, temp)
            }
        }
        return passive
    }
}

/// One-number files: those read each interval (`held` given) through `files` when a monitor holds
/// them open, the rest by path. A read that fails is nil, as a missing file is (and `files` opens it
/// again next time).
struct HeldValues {
    let fs: HostFileSystem
    let files: OpenCounterFiles?
    var buffer = [UInt8](repeating: 0, count: 64)

    mutating func signed(_ path: String, held key: OpenCounterFiles.Key? = nil) -> Int64? {
        guard let files, let key else { return (try? fs.readValue(path)).flatMap { Int64($0) } }
        guard let n = try? files.read(key, path: path, into: &buffer) else { return nil }
        return Self.integer(buffer[0..<n])
    }

    mutating func unsigned(_ path: String, held key: OpenCounterFiles.Key? = nil) -> UInt64? {
        guard files != nil, key != nil else { return (try? fs.readValue(path)).flatMap { UInt64($0) } }
        return signed(path, held: key).flatMap { $0 >= 0 ? UInt64($0) : nil }
    }

    /// A decimal integer with an optional minus and the kernel's trailing newline, as `Int64(text)`
    /// of the trimmed text reads it; nil for anything else.
    static func integer(_ bytes: ArraySlice<UInt8>) -> Int64? {
        var end = bytes.endIndex
        while end > bytes.startIndex && (bytes[end - 1] == 10 || bytes[end - 1] == 32) { end -= 1 }
        var i = bytes.startIndex
        let negative = i < end && bytes[i] == 45
        if negative { i += 1 }
        guard i < end, end - i <= 18 else { return nil }
        var value: Int64 = 0
        while i < end {
            let digit = bytes[i] &- 48
            guard digit < 10 else { return nil }
            value = value * 10 + Int64(digit)
            i += 1
        }
        return negative ? -value : value
    }
}

/// What does not change while a host runs, read once by a monitor that samples every interval:
/// each CPU's topology, hardware maximum frequency and which of its cpufreq and thermal_throttle
/// folders exist; each thermal zone's type and passive trip point. A CPU or zone that appears is
/// read whole when first listed; `ThrottleMonitor` starts a new layout now and then
/// (`layoutLifetime`), so a cpufreq driver loaded later or a trip point rewritten is seen.
public struct ThrottleLayout: Sendable {
    struct CPU: Sendable {
        var maxKHz: UInt64?
        var packageID: Int?
        var coreID: Int?
        var hasCpufreq: Bool
        var hasThrottleCounters: Bool
    }

    struct Zone: Sendable {
        var type: String
        var passiveMilliC: Int64?
    }

    var cpus: [Int: CPU] = [:]
    var zones: [String: Zone] = [:]

    public init() {}
}
