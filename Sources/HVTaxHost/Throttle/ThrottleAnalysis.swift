import HVTaxModel

/// Turns readings into `HostThrottling`: over an interval (two readings) for the live view and
/// recordings, or at one moment (events since boot) for `hvtax doctor`. No I/O.
public enum ThrottleAnalysis {
    /// Throttling between `start` and `end`.
    public static func interval(from start: ThrottleReading, to end: ThrottleReading) -> HostThrottling {
        var events: UInt64?
        if let before = start.eventsSinceBoot, let after = end.eventsSinceBoot {
            // A counter that went down (CPU hot-unplugged and back) counts as no events, not a wrap.
            events = after >= before ? after - before : 0
        }
        return summarise(end, events: events, during: "during the interval")
    }

    /// The state now, with events since boot (no interval to compare).
    public static func now(_ reading: ThrottleReading) -> HostThrottling {
        summarise(reading, events: nil, during: "now")
    }

    static func summarise(_ reading: ThrottleReading, events: UInt64?, during: String) -> HostThrottling {
        let freq = reading.cpus.filter(\.hasCpufreq)
        let ratios = freq.compactMap { cpu -> (Int, Double)? in
            guard let cur = cpu.curKHz, let max = cpu.maxKHz, max > 0 else { return nil }
            return (cpu.cpu, Double(cur) / Double(max))
        }
        let lowest = ratios.min { $0.1 < $1.1 }
        let mean = ratios.isEmpty ? nil : ratios.reduce(0) { $0 + $1.1 } / Double(ratios.count)
        let capped = freq.filter { cpu in
            guard let cap = cpu.scalingMaxKHz, let max = cpu.maxKHz else { return false }
            return cap < max
        }.map(\.cpu)
        let counterCPUs = reading.cpus.filter(\.hasCounters).count
        let sinceBoot = reading.eventsSinceBoot

        var parts: [String] = []
        if freq.isEmpty {
            parts.append("no cpufreq")
        } else {
            var text = "\(freq.count) CPU\(freq.count == 1 ? "" : "s") with cpufreq"
            if let lowest, let mean {
                text += ": lowest cpu\(lowest.0) at \(percent(lowest.1)) of cpuinfo_max_freq, mean \(percent(mean))"
            }
            if !capped.isEmpty {
                text += "; scaling_max_freq below cpuinfo_max_freq (a cap) on CPUs \(capped.map(String.init).joined(separator: ","))"
            }
            parts.append(text)
        }
        if counterCPUs == 0 {
            parts.append("no thermal_throttle counters")
        } else if let events {
            parts.append("\(events) thermal throttle events \(during) (\(sinceBoot ?? 0) since boot)")
        } else {
            parts.append("\(sinceBoot ?? 0) thermal throttle events since boot")
        }
        let hot = reading.zones.filter { zone in zone.passiveTripCelsius.map { zone.celsius >= $0 } ?? false }
        if reading.zones.isEmpty {
            parts.append("no thermal zones")
        } else {
            parts.append("thermal zones: " + reading.zones.map { zone in
                "\(zone.type) \(fixed(zone.celsius))°C" + (zone.passiveTripCelsius.map { " (passive trip \(fixed($0))°C)" } ?? "")
            }.joined(separator: ", "))
        }
        let state: HostThrottling.State
        if freq.isEmpty && counterCPUs == 0 && reading.zones.isEmpty {
            return HostThrottling.unknown("no cpufreq, no thermal_throttle counters and no thermal zones under /sys "
                                          + "(usual in a VM): throttling cannot be seen on this host")
        } else if (events ?? 0) > 0 || !capped.isEmpty || !hot.isEmpty {
            state = .throttled
        } else {
            state = .notThrottled
        }
        return HostThrottling(state: state, cpufreqCPUs: freq.count, minFrequencyRatio: lowest?.1, meanFrequencyRatio: mean,
                              cappedCPUs: capped, throttleCounterCPUs: counterCPUs, throttleEvents: events,
                              throttleEventsSinceBoot: sinceBoot, zones: reading.zones,
                              detail: parts.joined(separator: "; "))
    }

    static func percent(_ ratio: Double) -> String { String(Int((ratio * 100).rounded())) + "%" }

    static func fixed(_ value: Double) -> String { DecimalText.fixed(value, 1) }
}

/// Keeps the previous reading so each call gives the throttling since the last one: the live
/// view calls it at every sample.
public final class ThrottleMonitor {
    private let reader: ThrottleReader
    private var last: ThrottleReading?
    /// Topology, maxima, trip points and which folders exist: read again only this often.
    public var layoutLifetime: Duration = .seconds(60)
    private var layout = ThrottleLayout()
    private var layoutRead: ContinuousClock.Instant?
    /// The values read every interval, held open (one `pread` each).
    private let files: OpenCounterFiles

    public init(fs: HostFileSystem) {
        reader = ThrottleReader(fs: fs)
        files = OpenCounterFiles(fs: fs)
    }

    /// Starts the interval (the first call) or ends it and starts the next; nil on the first call.
    @discardableResult
    public func sample() -> HostThrottling? {
        let now = ContinuousClock.now
        if layoutRead.map({ now - $0 >= layoutLifetime }) ?? true {
            layout = ThrottleLayout()
            layoutRead = now
        }
        let reading = reader.read(layout: &layout, files: files)
        files.endSample()
        defer { last = reading }
        guard let last else { return nil }
        return ThrottleAnalysis.interval(from: last, to: reading)
    }
}
